"""Slow, obviously-correct references for the language-model tests.

Pure python / plain numpy twins of lmkit.lm: example building, Kneser-Ney
with dictionaries, the NPLM forward pass in float64, and the numba kernels.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from types import SimpleNamespace

import numpy as np

from lmkit.corpus.vocab import Vocab


def make_corpus(sentences: list[list[int]], vocab_size: int, *, eos: bool = True, unk: bool = False):
    """A stand-in EncodedCorpus over synthetic ids: tokens "w0".."w{V-1}" plus specials."""
    tokens = [f"w{i}" for i in range(vocab_size)]
    counts = [1] * vocab_size
    unk_symbol = eos_symbol = None
    if unk:
        tokens[-1 - eos], unk_symbol = "<unk>", "<unk>"
    if eos:
        tokens[-1], eos_symbol = "</s>", "</s>"
    vocab = Vocab(tokens, counts, unk=unk_symbol, eos=eos_symbol)
    ids = np.array([w for s in sentences for w in s], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    return SimpleNamespace(ids=ids, offsets=offsets, vocab=vocab, tokenizer=None,
                           n_tokens=len(ids), n_sentences=len(sentences))


def random_sentences(rng, n_sentences: int, n_words: int, max_len: int = 8) -> list[list[int]]:
    return [list(rng.integers(0, n_words, rng.integers(0, max_len + 1))) for _ in range(n_sentences)]


def train_valid(seed: int = 0, sentences: int = 80, vocab_size: int = 16):
    """A small random training corpus and a validation one in its vocabulary (ids below 15)."""
    rng = np.random.default_rng(seed)
    train = make_corpus(random_sentences(rng, sentences, 15), vocab_size)
    valid = make_corpus(random_sentences(rng, 20, 15), vocab_size)
    valid.vocab = train.vocab
    return train, valid


def reference_examples(sentences, context: int, pad: int, eos: int, stream: bool):
    """[(context tuple, target)] in corpus order."""
    out, window = [], [pad] * context
    for sentence in sentences:
        if not stream:
            window = [pad] * context
        for word in list(sentence) + ([eos] if eos >= 0 else []):
            out.append((tuple(window), int(word)))
            window = window[1:] + [int(word)]
    return out


class ReferenceKN:
    """Interpolated modified Kneser-Ney from dictionaries (Chen & Goodman 1998)."""

    def __init__(self, examples, order: int, vocab_size: int):
        self.order, self.v, pad = order, vocab_size, vocab_size
        grams = [ctx[len(ctx) - (order - 1):] + (w,) for ctx, w in examples]
        self.counts, self.discounts, self.den, self.mass = {}, {}, {}, {}
        for k in range(1, order + 1):
            # a history opening with two pads is skipped (one start-of-text symbol)
            raw = Counter(g[order - k:] for g in grams if not self._skipped(g[order - k:-1]))
            if k == order:
                counts = dict(raw)
            else:
                left = defaultdict(set)
                for g in grams:
                    if not self._skipped(g[order - k - 1:-1]):
                        left[g[order - k:]].add(g[order - k - 1])
                counts = {g: raw[g] if (k >= 2 and g[0] == pad) else len(left[g]) for g in raw}
            n = [sum(1 for c in counts.values() if c == r) for r in (1, 2, 3, 4)]
            if n[0] and n[1]:
                y = n[0] / (n[0] + 2 * n[1])
                d = {1: 1 - 2 * y * n[1] / n[0], 2: 2 - 3 * y * n[2] / n[1]}
                d[3] = 3 - 4 * y * n[3] / n[2] if n[2] else d[2]
            else:  # the documented fallback: absolute discounting
                d = {1: 0.5, 2: 0.5, 3: 0.5}
            d = {r: min(max(value, 0.01), r) for r, value in d.items()}
            self.counts[k], self.discounts[k] = counts, d
            den, mass = defaultdict(float), defaultdict(float)
            for g, c in counts.items():
                den[g[:-1]] += c
                mass[g[:-1]] += d[min(c, 3)]
            self.den[k], self.mass[k] = den, mass

    def _skipped(self, history: tuple) -> bool:
        return len(history) >= 2 and history[0] == self.v and history[1] == self.v

    def prob(self, context: tuple, word: int, k: int | None = None) -> float:
        k = self.order if k is None else k
        if k == 0:
            return 1.0 / self.v
        history = tuple(context[len(context) - (k - 1):]) if k > 1 else ()
        lower = self.prob(context, word, k - 1)
        if self._skipped(history):
            return lower
        den = self.den[k].get(history, 0.0)
        if den == 0:
            return lower
        c = self.counts[k].get(history + (word,), 0)
        top = max(c - self.discounts[k][min(c, 3)], 0.0) if c else 0.0
        return top / den + self.mass[k][history] / den * lower


def reference_perplexity(logprob_fn, examples) -> float:
    return math.exp(-sum(logprob_fn(ctx, w) for ctx, w in examples) / len(examples))


# The hidden activations, written out independently of lmkit.nn.activations.
ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0.0),
    "identity": lambda a: a,
}


def randomize_biases(model, rng) -> None:
    """Give the NPLM's output bias ``b`` and hidden bias ``d`` random values of the size of the logits.

    A freshly built model has them constant (zero), and a constant output bias
    cancels in the softmax: a scoring path that dropped ``b`` or ``d`` would pass.
    """
    model.b[...] = rng.normal(0.0, 1.0, model.b.shape)
    if model.config.hidden:
        model.d[...] = rng.normal(0.0, 0.5, model.d.shape)


def reference_nplm_logprob(model, context, word) -> float:
    """Eq. (1) of Bengio et al. (2003) in float64, one example at a time:
    ``y = b + W x + U act(d + H x)``, ``log softmax(y)[word]``."""
    cfg = model.config
    x = model.C.astype(np.float64)[list(context)].reshape(-1)
    z = []
    if cfg.hidden:
        z.append(ACTIVATIONS[cfg.activation](model.d.astype(np.float64) + model.H.astype(np.float64) @ x))
    if cfg.direct:
        z.append(x)
    y = model.b.astype(np.float64) + model.O.astype(np.float64) @ np.concatenate(z)
    return float(y[word] - y.max() - math.log(np.exp(y - y.max()).sum()))
