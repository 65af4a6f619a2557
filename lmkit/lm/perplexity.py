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
from collections.abc import Sequence
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
    natural-log probability of the whole corpus.  ``n_skipped`` words of the
    text were not scored at all: unknown to a vocabulary without ``<unk>``
    (only with ``strict=False``; a perplexity that skips words is not
    comparable with one that does not).
    """

    perplexity: float
    n_tokens: int
    n_unk: int
    n_eos: int
    log_prob_sum: float
    n_skipped: int = 0

    @property
    def cross_entropy_bits(self) -> float:
        return -self.log_prob_sum / self.n_tokens / math.log(2)

    def describe(self) -> str:
        return (f"perplexity {self.perplexity:.2f} over {self.n_tokens} predicted tokens "
                f"({self.n_unk} <unk> predicted as the rare-word class and counted, "
                f"{self.n_eos} </s> predicted and counted"
                + (f"; {self.n_skipped} unknown words skipped, not scored" if self.n_skipped else "") + ")")


class ContextFrequency:
    """The frequency class of a context in a training corpus.

    Bengio et al. (2003, section 2) mix the network with an n-gram "with a set
    of weights that are conditional on the frequency of the context", as the
    interpolated n-gram itself weighs its orders.  Here the class of a context
    is ``min(floor(log2(1 + c)), n_classes - 1)``, ``c`` the number of
    predictions of the training corpus made after the same last ``length``
    words: 0 for an unseen context, then counts 1-2, 3-6, 7-14, ...

    Parameters
    ----------
    corpus : EncodedCorpus
        The training split (its vocabulary must be the models').
    length : int
        How many of the most recent context words make the context (2: the
        trigram context, as in the paper).
    boundaries : {"sentence", "stream"}
        The models' context convention (see :mod:`lmkit.lm.examples`).
    n_classes : int
        Classes 0 .. n_classes - 1; the last holds every count >= 2**(n_classes - 1) - 1.
    """

    def __init__(self, corpus, *, length: int = 2, boundaries: str = "sentence", n_classes: int = 12):
        if int(length) < 1:
            raise ValueError(f"context length must be >= 1, got {length}")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.vocab, self.boundaries = corpus.vocab, boundaries
        self.length, self.n_classes = int(length), int(n_classes)
        if (len(self.vocab) + 1) ** self.length >= 2 ** 63:
            raise ValueError(f"context length {length} too long for a vocabulary of {len(self.vocab)}")
        contexts, _ = build_examples(corpus.ids, corpus.offsets, context=self.length, pad_id=len(self.vocab),
                                     eos_id=self.vocab.eos_id, boundaries=boundaries)
        if len(contexts) == 0:
            raise ValueError("cannot count contexts of an empty corpus")
        self.keys, self.counts = np.unique(self._keys(contexts), return_counts=True)

    def _keys(self, contexts: np.ndarray) -> np.ndarray:
        """``int64[n]``: the last ``length`` columns of ``contexts`` as one base-(V+1) number."""
        keys = np.zeros(len(contexts), dtype=np.int64)
        for column in range(contexts.shape[1] - self.length, contexts.shape[1]):
            keys = keys * (len(self.vocab) + 1) + contexts[:, column]
        return keys

    def count(self, contexts: np.ndarray) -> np.ndarray:
        """``int64[n]``: training count of each context (``int32[n, >= length]``, oldest word first)."""
        if contexts.ndim != 2 or contexts.shape[1] < self.length:
            raise ValueError(f"contexts must be [n, >= {self.length}], got shape {contexts.shape}")
        keys = self._keys(contexts)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.counts[pos], 0)

    def __call__(self, contexts: np.ndarray) -> np.ndarray:
        """``int64[n]``: the frequency class of each context."""
        classes = np.floor(np.log2(1.0 + self.count(contexts))).astype(np.int64)
        return np.minimum(classes, self.n_classes - 1)


class Mixture:
    """``p(w | h) = weight * p_a(w | h) + (1 - weight) * p_b(w | h)`` (Bengio et al. 2003, "mix").

    Both models must share the vocabulary and the boundary convention; the
    mixture's context is the longer of the two and each model reads its own
    most recent columns.  With ``classes`` (a :class:`ContextFrequency`),
    ``weight`` is ``float64[classes.n_classes]``: the weight of ``a`` for each
    frequency class of the context.
    """

    kind = "mixture"

    def __init__(self, a, b, weight, *, classes: ContextFrequency | None = None):
        weight = np.asarray(weight, dtype=np.float64)
        expected = () if classes is None else (classes.n_classes,)
        if weight.shape != expected:
            raise ValueError(f"mixture weight must have shape {expected}, got {weight.shape}")
        if not np.all((weight >= 0.0) & (weight <= 1.0)):
            raise ValueError(f"mixture weight must be in [0, 1], got {weight}")
        if a.vocab.tokens != b.vocab.tokens or a.vocab.eos != b.vocab.eos:
            raise ValueError("the two models of a mixture must use the same vocabulary")
        if a.boundaries != b.boundaries:
            raise ValueError(f"the two models of a mixture must use the same boundaries "
                             f"({a.boundaries!r} vs {b.boundaries!r})")
        if classes is not None and (classes.vocab.tokens != a.vocab.tokens or classes.boundaries != a.boundaries):
            raise ValueError("the context classes must be counted with the models' vocabulary and boundaries")
        self.a, self.b, self.classes = a, b, classes
        self.weight = float(weight) if classes is None else weight
        self.vocab, self.boundaries = a.vocab, a.boundaries
        self.tokenizer = getattr(a, "tokenizer", None)
        self.context_size = max(a.context_size, b.context_size, 0 if classes is None else classes.length)
        self.validation_perplexities: dict[int | None, float] = {}  # filled by fit_weight

    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        weight = self.weight if self.classes is None else self.weight[self.classes(contexts)]
        return _mix(self.a.score(contexts, targets), self.b.score(contexts, targets), weight)

    def describe_weight(self) -> str:
        if self.classes is None:
            return f"{self.weight:.4f}"
        return (f"by frequency class of the last {self.classes.length} context words "
                f"(0, 1-2, 3-6, ...): " + " ".join(f"{w:.3f}" for w in self.weight))

    @classmethod
    def fit_weight(cls, a, b, corpus, *, classes: ContextFrequency | Sequence[ContextFrequency] | None = None,
                   prior_tokens: float = 100.0, batch_size: int = 8192) -> "Mixture":
        """The mixture whose weight maximizes the likelihood of ``corpus`` (the validation split).

        The log-likelihood is concave in the weight of a two-component mixture
        with fixed components, so the root of its derivative (see
        :func:`_best_weights`) is the global optimum.  With
        ``classes``, one weight per frequency class, each pulled towards the
        single best weight by ``prior_tokens`` pseudo-predictions (a Beta prior,
        so a class with few or no validation predictions keeps about the
        overall weight).  ``classes`` may also be a sequence of
        :class:`ContextFrequency` (say of context lengths 1-3): each is fitted and
        the one whose weights give ``corpus`` the highest likelihood is kept.
        Either way both models score ``corpus`` once: scoring, not fitting, is
        the cost (a pass of an NPLM over Brown's validation split).

        The returned mixture's ``validation_perplexities`` maps each
        candidate's context length (None without classes) to the perplexity
        of ``corpus`` under its fitted weights.
        """
        candidates = [classes] if classes is None or isinstance(classes, ContextFrequency) else list(classes)
        if not candidates:
            raise ValueError("classes must name at least one ContextFrequency (or be None)")
        for candidate in candidates:  # bad input fails here, before the models score anything
            cls(a, b, 0.5 if candidate is None else np.full(candidate.n_classes, 0.5), classes=candidate)
        class_width = max((c.length for c in candidates if c is not None), default=0)
        context_size = max(a.context_size, b.context_size, class_width)
        la, lb, class_contexts = [], [], []
        for contexts, targets in example_batches(a, as_corpus(a, corpus), batch_size, context_size):
            la.append(a.score(contexts, targets))
            lb.append(b.score(contexts, targets))
            class_contexts.append(contexts[:, context_size - class_width:])
        if not la:
            raise ValueError("cannot fit a mixture weight on a corpus with no token to predict")
        la, lb, class_contexts = np.concatenate(la), np.concatenate(lb), np.concatenate(class_contexts)
        single = _best_weights(la, lb, np.zeros(len(la), np.int64), 1, 0.5, 0.0)[0]
        fits = []
        for candidate in candidates:
            weight, row_weight = single, single
            if candidate is not None:
                which = candidate(class_contexts)
                weight = _best_weights(la, lb, which, candidate.n_classes, single, prior_tokens)
                row_weight = weight[which]
            fits.append((math.exp(-float(np.mean(_mix(la, lb, row_weight)))), candidate, weight))
        valid_ppl, chosen, weight = min(fits, key=lambda fit: fit[0])
        logger.info("mixture weight %s (validation perplexity %.2f)", weight, valid_ppl)
        mixture = cls(a, b, weight, classes=chosen)
        mixture.validation_perplexities = {None if c is None else c.length: ppl for ppl, c, _ in fits}
        return mixture


def _best_weights(la, lb, which, n_classes: int, prior_weight: float, prior_tokens: float) -> np.ndarray:
    """``float64[n_classes]``: the weight of ``a`` maximizing, in each class, the log-likelihood
    of its predictions (``which: int64[n]``) plus a Beta prior of ``prior_tokens``
    pseudo-predictions at ``prior_weight``.

    The objective is concave in each weight, so its derivative
    ``sum_i (p_a(i) - p_b(i)) / p_mix(i) + prior_tokens (w0 / w - (1 - w0) / (1 - w))``
    falls through zero once at most: bisection on [0, 1], 64 halvings, all
    classes at once (EM, ``w <- mean_i w p_a(i) / p_mix(i)``, crawls when the
    optimum sits on a bound).
    """
    low, high = np.zeros(n_classes), np.ones(n_classes)
    for _ in range(64):
        w = (low + high) / 2
        mixed = _mix(la, lb, w[which])
        slope = np.bincount(which, weights=np.exp(la - mixed) - np.exp(lb - mixed), minlength=n_classes)
        slope += prior_tokens * (prior_weight / w - (1 - prior_weight) / (1 - w))
        low, high = np.where(slope > 0, w, low), np.where(slope > 0, high, w)
    return (low + high) / 2


def _mix(la: np.ndarray, lb: np.ndarray, weight) -> np.ndarray:
    """``log(weight p_a + (1 - weight) p_b)`` from the log-probabilities; ``weight`` scalar or per row."""
    if np.ndim(weight) == 0:
        if weight <= 0.0:
            return lb
        if weight >= 1.0:
            return la
    with np.errstate(divide="ignore"):  # a weight of 0 or 1 leaves the other model's term alone
        return np.logaddexp(np.log(weight) + la, np.log1p(-weight) + lb)


def as_corpus(model, corpus):
    """An encoded corpus in the model's vocabulary (encoding a path, dataset name or line source with it)."""
    if isinstance(corpus, (str, Path)) or (hasattr(corpus, "line_blocks") and hasattr(corpus, "fingerprint")):
        from lmkit.corpus.encoded import encode_with_vocab

        return encode_with_vocab(corpus, model.vocab, getattr(model, "tokenizer", None), verbose=False)
    vocab = getattr(corpus, "vocab", None)
    if vocab is not None and (vocab.tokens != model.vocab.tokens or vocab.eos != model.vocab.eos):
        raise ValueError("the corpus was encoded with another vocabulary than the model's: "
                         "encode it with encode_with_vocab(source, model.vocab, model.tokenizer)")
    return corpus


def example_batches(model, corpus, batch_size: int, context_size: int):
    """Yield ``(contexts, targets)`` for consecutive sentence ranges of ``corpus``."""
    v = len(model.vocab)
    for s_begin, s_end in sentence_batches(corpus.offsets, model.vocab.eos_id, batch_size):
        yield build_examples(corpus.ids, corpus.offsets, context=context_size, pad_id=v,
                             eos_id=model.vocab.eos_id, boundaries=model.boundaries,
                             s_begin=s_begin, s_end=s_end)


def perplexity(model, corpus, *, batch_size: int = 8192, logprobs_path=None, strict: bool = True,
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
    strict : bool
        Refuse a corpus from which words were dropped for want of an
        ``<unk>`` symbol (``corpus.n_dropped > 0``): their probability is
        unknown, and leaving them out flatters the perplexity.  ``False``
        scores the rest and reports the count as ``n_skipped``.

    Raises ``ValueError`` for a corpus with nothing to predict (empty, or every
    word unknown and dropped for want of an ``<unk>`` symbol).
    """
    from tqdm.auto import tqdm

    from lmkit.io import atomic_write

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    corpus = as_corpus(model, corpus)
    vocab = model.vocab
    n_skipped = int(getattr(corpus, "n_dropped", 0))
    if n_skipped and strict:
        raise ValueError(f"{n_skipped} words of the test text are not in the model's vocabulary, which has no "
                         f"unknown-word symbol: they cannot be scored; pass strict=False (--no-strict) to "
                         f"score the rest and report them as skipped")
    total, n, n_unk, n_eos = 0.0, 0, 0, 0
    with contextlib.ExitStack() as stack:  # the log-prob file is kept only if scoring succeeds
        handle = None
        if logprobs_path is not None:
            handle = stack.enter_context(atomic_write(logprobs_path, "w", encoding="utf-8"))
            handle.write("# token\tlogprob (natural log)\n")
        bar = stack.enter_context(tqdm(total=int(corpus.offsets[-1] - corpus.offsets[0]), unit="tok",
                                       disable=not verbose, desc="perplexity"))
        for contexts, targets in example_batches(model, corpus, batch_size, model.context_size):
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
    return PerplexityResult(math.exp(-total / n), n, n_unk, n_eos, total, n_skipped)
