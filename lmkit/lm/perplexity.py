"""Exact perplexity of a language model on a corpus, and the mixture of two models.

    perplexity = exp( -(1/N) sum_i log p(w_i | w_{i-n+1} .. w_{i-1}) )

over every prediction ``i`` of the corpus as built by :mod:`lmkit.lm.examples`:
each token, ``<unk>`` included (the rare-word class is predicted and counted
like any word, as Bengio et al. 2003 did), plus one ``</s>`` per sentence when
the vocabulary has that symbol.  Both counts are reported with the result, so
two figures are comparable only when their counts are.

A language model here is any object with ``vocab``, ``context_size``,
``boundaries`` and ``score(contexts: int32[n, >= context_size], targets:
int32[n]) -> float64[n]`` natural-log probabilities: the NPLM, Kneser-Ney and
:class:`Mixture`.  The corpus is scored in batches of sentences, so memory
stays bounded on any test set.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmkit.lm.examples import build_examples, sentence_batches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerplexityResult:
    """Perplexity and what it covered.

    ``n_tokens`` predictions in all, of which ``n_unk`` are the rare-word
    symbol and ``n_eos`` the sentence-end symbol; ``log_prob_sum`` is the
    natural-log probability of the whole corpus.
    """

    perplexity: float
    n_tokens: int
    n_unk: int
    n_eos: int
    log_prob_sum: float

    @property
    def cross_entropy_bits(self) -> float:
        return -self.log_prob_sum / self.n_tokens / math.log(2)

    def describe(self) -> str:
        return (f"perplexity {self.perplexity:.2f} over {self.n_tokens} predicted tokens "
                f"({self.n_unk} <unk> predicted as the rare-word class and counted, "
                f"{self.n_eos} </s> predicted and counted)")


class Mixture:
    """``p(w | h) = weight * p_a(w | h) + (1 - weight) * p_b(w | h)`` (Bengio et al. 2003, "mix").

    Both models must share the vocabulary and the boundary convention; the
    mixture's context is the longer of the two and each model reads its own
    most recent columns.
    """

    kind = "mixture"

    def __init__(self, a, b, weight: float):
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"mixture weight must be in [0, 1], got {weight}")
        if a.vocab.tokens != b.vocab.tokens or a.vocab.eos != b.vocab.eos:
            raise ValueError("the two models of a mixture must use the same vocabulary")
        if a.boundaries != b.boundaries:
            raise ValueError(f"the two models of a mixture must use the same boundaries "
                             f"({a.boundaries!r} vs {b.boundaries!r})")
        self.a, self.b, self.weight = a, b, float(weight)
        self.vocab, self.boundaries = a.vocab, a.boundaries
        self.tokenizer = getattr(a, "tokenizer", None)
        self.context_size = max(a.context_size, b.context_size)

    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return _mix(self.a.score(contexts, targets), self.b.score(contexts, targets), self.weight)

    @classmethod
    def fit_weight(cls, a, b, corpus, *, batch_size: int = 8192, iterations: int = 1000,
                   tol: float = 1e-7) -> "Mixture":
        """The mixture whose weight maximizes the likelihood of ``corpus`` (the validation split).

        EM on the weight of a two-component mixture with fixed components:
        ``w <- mean_i w p_a(i) / (w p_a(i) + (1 - w) p_b(i))``; the likelihood is
        concave in ``w``, so this converges to the global optimum.
        """
        probe = cls(a, b, 0.5)
        la = token_logprobs(a, corpus, batch_size=batch_size, context_size=probe.context_size)
        lb = token_logprobs(b, corpus, batch_size=batch_size, context_size=probe.context_size)
        weight = 0.5
        for _ in range(iterations):
            mixed = _mix(la, lb, weight)
            new = float(np.mean(np.exp(math.log(weight) + la - mixed))) if weight > 0 else 0.0
            if abs(new - weight) < tol:
                weight = new
                break
            weight = new
        logger.info("mixture weight %.4f (validation perplexity %.2f)", weight,
                    math.exp(-float(np.mean(_mix(la, lb, weight)))))
        return cls(a, b, weight)


def _mix(la: np.ndarray, lb: np.ndarray, weight: float) -> np.ndarray:
    if weight <= 0.0:
        return lb
    if weight >= 1.0:
        return la
    return np.logaddexp(math.log(weight) + la, math.log1p(-weight) + lb)


def _as_corpus(model, corpus):
    """An encoded corpus in the model's vocabulary (encoding a path or dataset name with it)."""
    if isinstance(corpus, (str, Path)):
        from lmkit.corpus.encoded import encode_with_vocab

        return encode_with_vocab(corpus, model.vocab, getattr(model, "tokenizer", None), verbose=False)
    vocab = getattr(corpus, "vocab", None)
    if vocab is not None and (vocab.tokens != model.vocab.tokens or vocab.eos != model.vocab.eos):
        raise ValueError("the corpus was encoded with another vocabulary than the model's: "
                         "encode it with encode_with_vocab(source, model.vocab, model.tokenizer)")
    return corpus


def _batches(model, corpus, batch_size: int, context_size: int):
    """Yield ``(contexts, targets)`` for consecutive sentence ranges of ``corpus``."""
    v = len(model.vocab)
    for s_begin, s_end in sentence_batches(corpus.offsets, model.vocab.eos_id, batch_size):
        yield build_examples(corpus.ids, corpus.offsets, context=context_size, pad_id=v,
                             eos_id=model.vocab.eos_id, boundaries=model.boundaries,
                             s_begin=s_begin, s_end=s_end)


def token_logprobs(model, corpus, *, batch_size: int = 8192, context_size: int | None = None) -> np.ndarray:
    """``float64[n]``: the natural-log probability of every prediction of ``corpus``."""
    corpus = _as_corpus(model, corpus)
    context_size = model.context_size if context_size is None else context_size
    parts = [model.score(c, t) for c, t in _batches(model, corpus, batch_size, context_size)]
    return np.concatenate(parts) if parts else np.zeros(0)


def perplexity(model, corpus, *, batch_size: int = 8192, logprobs_path=None,
               verbose: bool = False) -> PerplexityResult:
    """Exact perplexity of ``model`` on ``corpus``.

    Parameters
    ----------
    model : NPLM, KneserNey or Mixture
    corpus : EncodedCorpus, path or dataset name
        Encoded with the model's vocabulary (a path or name is encoded with it).
    batch_size : int
        About how many predictions are scored at once.
    logprobs_path : path, optional
        Also write one line per prediction, ``token<TAB>log p`` (natural log).

    Raises ``ValueError`` for a corpus with nothing to predict (empty, or every
    word unknown and dropped for want of an ``<unk>`` symbol).
    """
    from tqdm.auto import tqdm

    from lmkit.io import atomic_write

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    corpus = _as_corpus(model, corpus)
    vocab = model.vocab
    total, n, n_unk, n_eos = 0.0, 0, 0, 0
    with contextlib.ExitStack() as stack:  # the log-prob file is kept only if scoring succeeds
        handle = None
        if logprobs_path is not None:
            handle = stack.enter_context(atomic_write(logprobs_path, "w", encoding="utf-8"))
            handle.write("# token\tlogprob (natural log)\n")
        bar = stack.enter_context(tqdm(total=int(corpus.offsets[-1] - corpus.offsets[0]), unit="tok",
                                       disable=not verbose, desc="perplexity"))
        for contexts, targets in _batches(model, corpus, batch_size, model.context_size):
            logp = model.score(contexts, targets)
            if not np.all(np.isfinite(logp)):
                raise ValueError("the model gave a non-finite log-probability (zero or NaN probability)")
            total += float(logp.sum())
            n += len(targets)
            n_unk += int(np.count_nonzero(targets == vocab.unk_id)) if vocab.unk_id >= 0 else 0
            eos = int(np.count_nonzero(targets == vocab.eos_id)) if vocab.eos_id >= 0 else 0
            n_eos += eos
            if handle is not None:
                tokens = vocab.tokens
                handle.writelines(f"{tokens[t]}\t{lp:.6f}\n" for t, lp in zip(targets.tolist(), logp.tolist()))
            bar.update(len(targets) - eos)
        if n == 0:
            raise ValueError("the test corpus has no token to predict (empty, or every word unknown "
                             "to a vocabulary without an <unk> symbol)")
    return PerplexityResult(math.exp(-total / n), n, n_unk, n_eos, total)
