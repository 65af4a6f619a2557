"""Splitting an encoded corpus into consecutive runs of whole sentences, and reading a run's ids.

Word2vec's worker threads take such runs as their chunks, and perplexity scores a large corpus one
run at a time; both need runs of about a given size that never cut a sentence.  A memory-mapped
corpus is read run by run into a buffer (:class:`TokenReader`), so memory stays O(run) however
large the corpus.
"""
from __future__ import annotations

import numpy as np


def sentence_ranges(offsets: np.ndarray, max_items: int, per_sentence: int = 0) -> list[tuple[int, int]]:
    """Consecutive sentence ranges ``[first, end)`` of at most ``max_items`` items each.

    ``offsets: int64[n_sentences + 1]`` (sentence ``s`` is tokens
    ``offsets[s]:offsets[s + 1]``).  Items are the tokens, plus
    ``per_sentence`` more per sentence (1 for a language model that also
    predicts each sentence's ``</s>``).  A sentence larger than ``max_items``
    is a range of its own.  The ranges cover every sentence, in order.
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    # cumulative[s] = items before sentence s, up to a constant (searches below are relative to cumulative[first]);
    # without per-sentence items the offsets themselves: no int64 copy of a corpus's sentences
    cumulative = offsets + per_sentence * np.arange(n + 1, dtype=np.int64) if per_sentence else offsets
    ranges, first = [], 0
    while first < n:
        end = int(np.searchsorted(cumulative, cumulative[first] + max_items, side="right")) - 1
        end = min(max(end, first + 1), n)
        ranges.append((first, end))
        first = end
    return ranges


def split_sentences(offsets: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive sentence ranges ``[first, end)`` of about equal tokens, covering every sentence.

    ``offsets: int64[n_sentences + 1]`` as in :func:`sentence_ranges`.  Range
    ``k`` ends at the first sentence boundary at or after ``k + 1`` parts of
    the tokens, so the ranges differ by at most one sentence's tokens from an
    even split (a range is empty when a single sentence outweighs a whole part).
    Data-parallel trainers give each replica one such share.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(1, parts, dtype=np.int64) // parts
    cuts = [0, *np.searchsorted(offsets, targets, side="left").clip(0, n).tolist(), n]
    return [(int(cuts[k]), int(cuts[k + 1])) for k in range(parts)]


def longest_sentence(offsets: np.ndarray, step: int = 1 << 22) -> int:
    """The largest ``offsets[s + 1] - offsets[s]`` (0 for no sentence), ``step`` sentences at a time:
    ``np.diff`` of a large corpus's offsets would be another int64 array as large as them."""
    longest = 0
    for start in range(0, len(offsets) - 1, step):
        longest = max(longest, int(np.diff(offsets[start:start + step + 1]).max()))
    return longest


class TokenReader:
    """Gives a worker the ids of a chunk: a view of an in-memory array, or, for a
    memory-mapped corpus (``np.memmap``), the chunk read from the file into the
    worker's own buffer, so that memory stays O(chunk) however large the
    corpus (as gensim streaming its text), instead of keeping every page of
    the mapping resident."""

    def __init__(self, ids: np.ndarray, capacity: int):
        self.file = None
        if (isinstance(ids, np.memmap) and ids.filename is not None and ids.dtype == np.int32
                and ids.ndim == 1 and ids.flags.c_contiguous):
            self.ids = ids
            self.file = open(ids.filename, "rb", buffering=0)  # one handle per worker: its own position
            self.buffer = np.zeros(max(capacity, 1), dtype=np.int32)
        else:
            self.ids = np.ascontiguousarray(ids, dtype=np.int32)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, int]:
        """``(ids, base)``: ``ids[t - base]`` is token ``t`` for ``start <= t < stop``."""
        if self.file is None:
            return self.ids, 0
        view = memoryview(self.buffer[:stop - start]).cast("B")
        self.file.seek(self.ids.offset + 4 * start)
        while view.nbytes:
            count = self.file.readinto(view)
            if not count:
                raise ValueError(f"{self.ids.filename}: the id file ends before token {stop}")
            view = view[count:]
        return self.buffer, start

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
