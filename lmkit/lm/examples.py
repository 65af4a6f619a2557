"""(context, target) examples for n-gram style language models.

Every language model in :mod:`lmkit.lm` (the neural model, Kneser-Ney, their
mixture) predicts a word from the ``n - 1`` words before it, and every one of
them reads its examples from this module, so their perplexities are computed
over exactly the same predictions.

Conventions (the same for training and evaluation):

* Targets.  Each sentence ``s = ids[offsets[s]:offsets[s+1]]`` contributes its
  tokens as targets, followed by ``</s>`` (``vocab.eos_id``) when the
  vocabulary has an end-of-sentence symbol.  Without one, sentence ends are
  not predicted.
* Padding.  Context slots before the start of the text hold the padding id
  ``pad_id = len(vocab)``: a dedicated row of the NPLM feature matrix and a
  word of its own for Kneser-Ney, never predicted (the softmax covers only the
  ``V = len(vocab)`` real symbols).  A dedicated row rather than reusing
  ``</s>`` keeps "start of text" distinct from "end of the previous sentence".
* Boundaries.  ``"sentence"``: the context restarts with padding at every
  sentence, so sentences are independent.  ``"stream"``: the text is one
  running sequence (sentence ``s + 1``'s first word sees the end of sentence
  ``s``, and its ``</s>`` if predicted); only the very start is padded.  This
  is how Bengio et al. (2003) read the Brown corpus.

Columns of ``contexts`` run oldest to newest: ``contexts[i, -1]`` is the word
right before ``targets[i]``.
"""
from __future__ import annotations

import numpy as np

from lmkit._jit import jit_exact
from lmkit.corpus.chunks import sentence_ranges

BOUNDARIES = ("sentence", "stream")


@jit_exact
def _fill_examples(ids, offsets, s_warm, s_begin, s_end, pad_id, eos_id, stream, contexts, targets):
    """Write the examples of sentences ``[s_begin, s_end)``; returns how many.

    Sentences ``[s_warm, s_begin)`` are read only to fill the context window
    (stream mode).  ``contexts: int32[n, k]``, ``targets: int32[n]``.
    """
    k = contexts.shape[1]
    ring = np.full(k, pad_id, np.int32)
    n = 0
    for s in range(s_warm, s_end):
        if not stream:
            ring[:] = pad_id
        start = offsets[s]
        length = offsets[s + 1] - start
        n_symbols = length + 1 if eos_id >= 0 else length
        for p in range(n_symbols):
            word = ids[start + p] if p < length else eos_id
            if s >= s_begin:
                for j in range(k):
                    contexts[n, j] = ring[j]
                targets[n] = word
                n += 1
            for j in range(k - 1):
                ring[j] = ring[j + 1]
            ring[k - 1] = word
    return n


def count_examples(offsets: np.ndarray, eos_id: int, s_begin: int = 0, s_end: int | None = None) -> int:
    """Number of predictions made for sentences ``[s_begin, s_end)``."""
    s_end = len(offsets) - 1 if s_end is None else s_end
    n = int(offsets[s_end] - offsets[s_begin])
    return n + (s_end - s_begin if eos_id >= 0 else 0)


def build_examples(ids: np.ndarray, offsets: np.ndarray, *, context: int, pad_id: int, eos_id: int,
                   boundaries: str = "sentence", s_begin: int = 0,
                   s_end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Examples for sentences ``[s_begin, s_end)`` of an encoded corpus.

    Parameters
    ----------
    ids : int32[n_tokens]
        Token ids (no ``-1``); ``offsets : int64[n_sentences + 1]`` delimit sentences.
    context : int
        Number of previous words, ``n - 1`` (>= 1).
    pad_id, eos_id : int
        Padding id (``len(vocab)``) and end-of-sentence id (``-1``: not predicted).
    boundaries : {"sentence", "stream"}
        Whether contexts restart at each sentence (see the module docstring).

    Returns
    -------
    contexts : int32[n, context]
        Oldest word first.
    targets : int32[n]
    """
    if boundaries not in BOUNDARIES:
        raise ValueError(f"boundaries must be one of {BOUNDARIES}, got {boundaries!r}")
    if int(context) < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    offsets = np.asarray(offsets, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int32)
    n_sentences = len(offsets) - 1
    s_end = n_sentences if s_end is None else int(s_end)
    if not 0 <= s_begin <= s_end <= n_sentences:
        raise ValueError(f"sentence range [{s_begin}, {s_end}) outside [0, {n_sentences}]")
    stream = boundaries == "stream"
    s_warm = s_begin
    if stream:  # walk back until the window is full or the text starts
        seen = 0
        while s_warm > 0 and seen < context:
            s_warm -= 1
            seen += count_examples(offsets, eos_id, s_warm, s_warm + 1)
    n = count_examples(offsets, eos_id, s_begin, s_end)
    contexts = np.empty((n, int(context)), dtype=np.int32)
    targets = np.empty(n, dtype=np.int32)
    written = _fill_examples(ids, offsets, s_warm, s_begin, s_end, np.int32(pad_id), np.int32(eos_id),
                             stream, contexts, targets)
    assert written == n
    return contexts, targets


def sentence_batches(offsets: np.ndarray, eos_id: int, max_examples: int) -> list[tuple[int, int]]:
    """Sentence ranges of about ``max_examples`` predictions each (each sentence's tokens, plus its
    ``</s>`` when the vocabulary has one), so evaluation can stream a large corpus: each range's
    examples are built, scored and dropped before the next."""
    return sentence_ranges(offsets, max_examples, per_sentence=1 if eos_id >= 0 else 0)
