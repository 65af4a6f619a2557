"""Interpolated modified Kneser-Ney n-gram language model.

Chen & Goodman (1998), "An Empirical Study of Smoothing Techniques for
Language Modeling", TR-10-98, section 3 (interpolated modified KN):

    p_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / c_k(h)  +  gamma_k(h) p_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h)
    p_0(w)     = 1 / V

with ``h'`` the history without its oldest word, ``c_k(h) = sum_w c_k(h w)``,
``N_r(h .)`` the number of words with ``c_k(h w) = r`` and, when ``c_k(h) = 0``
(unseen history), ``p_k(w | h) = p_{k-1}(w | h')``.  For the highest order
``c_k`` is the raw count; for lower orders it is the continuation count
``N1+(. h w)``, the number of distinct words seen before ``h w``, except for
n-grams starting with the padding symbol (start of text), whose left
extension is always padding: they keep their raw count (as SRILM does for
``<s>``).  Histories starting with two padding symbols are not a level of
their own (there is one start of text, as SRILM's single ``<s>``): such a
level is skipped, ``p_k = p_{k-1}``.  Discounts per order from the count-of-counts ``n_r`` of ``c_k``:

    Y = n1 / (n1 + 2 n2),  D1 = 1 - 2 Y n2/n1,  D2 = 2 - 3 Y n3/n2,  D3+ = 3 - 4 Y n4/n3

clipped to ``[0.01, r]`` so that every distribution keeps mass for unseen
words and sums to 1 over the ``V`` vocabulary symbols for every context.

Storage: n-grams are keyed by integers built right to left, ``key(w_1..w_j) =
id(w_2..w_j) * (V + 1) + w_1`` for histories and ``id(h) * V + w`` for
n-grams, each table a sorted ``int64`` array searched with ``np.searchsorted``,
so fitting and scoring are vectorized numpy over the whole corpus.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lmkit.lm.examples import BOUNDARIES, build_examples
from lmkit.lm.kn_tables import MAX_ORDER, interpolate, lookup

logger = logging.getLogger(__name__)



def _discounts(counts: np.ndarray) -> np.ndarray:
    """``float64[4]``: the discount for counts 0, 1, 2, 3+ (index 0 unused, 0)."""
    n = [int(np.count_nonzero(counts == r)) for r in range(1, 5)]
    d = np.zeros(4)
    if n[0] > 0 and n[1] > 0:
        y = n[0] / (n[0] + 2 * n[1])
        d[1] = 1 - 2 * y * n[1] / n[0]
        d[2] = 2 - 3 * y * n[2] / n[1]
        d[3] = 3 - 4 * y * n[3] / n[2] if n[2] > 0 else d[2]
    else:  # too few counts to estimate: absolute discounting
        d[1:] = 0.5
    d[1:] = np.clip(d[1:], 0.01, [1.0, 2.0, 3.0])
    return d


def _check_tables(tables: dict, order: int, path) -> None:
    """Dtypes, shapes and order of the tables a saved model holds; ValueError naming the array."""
    def need(name, dtype, shape):
        array = tables[name]
        if array.dtype != dtype or array.shape != shape:
            raise ValueError(f"{path}: array {name} is {array.dtype}{list(array.shape)}, "
                             f"expected {np.dtype(dtype)}{list(shape)}")

    for k in range(1, order + 1):
        grams = tables[f"grams{k}"]
        need(f"grams{k}", np.int64, (grams.size,))
        if np.any(grams[1:] <= grams[:-1]):
            raise ValueError(f"{path}: array grams{k} is not strictly increasing")
        need(f"num{k}", np.float64, grams.shape)
        n_hist = 1 if k == 1 else tables[f"hist{k - 1}"].size
        for name in ("den", "gamma"):
            need(f"{name}{k}", np.float64, (n_hist,))
        need(f"discounts{k}", np.float64, (3,))
    for j in range(1, order):
        hist = tables[f"hist{j}"]
        need(f"hist{j}", np.int64, (hist.size,))
        if np.any(hist[1:] <= hist[:-1]):
            raise ValueError(f"{path}: array hist{j} is not strictly increasing")


class KneserNey:
    """Interpolated modified Kneser-Ney model of order 2..5.

    Follows the language-model protocol of :mod:`lmkit.lm.perplexity`:
    ``vocab``, ``context_size`` (= order - 1), ``boundaries`` and
    ``score(contexts, targets) -> float64[n]`` natural-log probabilities.

    Parameters
    ----------
    order : int
        n, in 2..5.
    boundaries : {"sentence", "stream"}
        Context convention, see :mod:`lmkit.lm.examples`; a mixture needs both
        models to use the same one.
    """

    kind = "kneser_ney"

    def __init__(self, order: int = 3, *, boundaries: str = "sentence"):
        if not 2 <= int(order) <= MAX_ORDER:
            raise ValueError(f"order must be in 2..{MAX_ORDER}, got {order}")
        if boundaries not in BOUNDARIES:
            raise ValueError(f"boundaries must be one of {BOUNDARIES}, got {boundaries!r}")
        self.order = int(order)
        self.boundaries = boundaries
        self.vocab = None
        self.tokenizer = None
        self.tables: dict[str, np.ndarray] = {}

    @property
    def context_size(self) -> int:
        return self.order - 1

    # ------------------------------------------------------------------ fitting
    def fit(self, corpus) -> "KneserNey":
        """Count n-grams of an :class:`~lmkit.corpus.encoded.EncodedCorpus` (training split)."""
        vocab = corpus.vocab
        v = len(vocab)
        contexts, targets = build_examples(corpus.ids, corpus.offsets, context=self.context_size, pad_id=v,
                                           eos_id=vocab.eos_id, boundaries=self.boundaries)
        if len(targets) == 0:
            raise ValueError("cannot fit a Kneser-Ney model on an empty corpus")
        self.vocab, self.tokenizer = vocab, getattr(corpus, "tokenizer", None)
        self.tables = self._count(contexts, targets, v)
        logger.info("Kneser-Ney order %d: %s n-grams", self.order,
                    ", ".join(str(len(self.tables[f"grams{k}"])) for k in range(1, self.order + 1)))
        return self

    def _history_ids(self, contexts: np.ndarray, v: int, tables: dict | None):
        """Ids of the histories of length 0..order-1 at each position (-1: none).

        With ``tables`` None, builds the tables (training); otherwise looks the
        histories up in them (-1: unseen).  A history that starts with two
        padding symbols only repeats the shorter one (there is one start of
        text, as SRILM's single ``<s>``) and gets -1: the level is skipped.
        """
        n = len(contexts)
        ids = [np.zeros(n, dtype=np.int64)]
        built = {}
        for j in range(1, self.order):
            prev = ids[-1]
            word = contexts[:, self.order - 1 - j]
            valid = prev >= 0
            if j >= 2:
                valid &= ~((word == v) & (contexts[:, self.order - j] == v))
            keys = np.maximum(prev, 0) * (v + 1) + word
            if tables is None:
                table, inverse = np.unique(keys[valid], return_inverse=True)
                built[f"hist{j}"] = table
                history = np.full(n, -1, dtype=np.int64)
                history[valid] = inverse.reshape(-1)
            else:
                history = lookup(tables[f"hist{j}"], keys, valid)
            ids.append(history)
        return ids, built

    def _count(self, contexts: np.ndarray, targets: np.ndarray, v: int) -> dict[str, np.ndarray]:
        hist, tables = self._history_ids(contexts, v, None)
        targets = targets.astype(np.int64)
        gram_at = {}  # order -> int64[n]: the n-gram id at each position (-1: level skipped)
        for k in range(1, self.order + 1):  # order-k n-gram = (history of length k-1, target)
            valid = hist[k - 1] >= 0
            table, inverse = np.unique(hist[k - 1][valid] * v + targets[valid], return_inverse=True)
            tables[f"grams{k}"] = table
            gram_at[k] = np.full(len(targets), -1, dtype=np.int64)
            gram_at[k][valid] = inverse.reshape(-1)
        for k in range(1, self.order + 1):
            at = gram_at[k]
            valid = at >= 0
            n_grams = len(tables[f"grams{k}"])
            raw = np.bincount(at[valid], minlength=n_grams).astype(np.float64)
            if k == self.order:
                counts = raw
            else:  # continuation count: distinct (k+1)-grams ending in this k-gram
                upper = gram_at[k + 1]
                upper_positions = np.flatnonzero(upper >= 0)
                _, first = np.unique(upper[upper_positions], return_index=True)
                counts = np.bincount(at[upper_positions[first]], minlength=n_grams).astype(np.float64)
                if k >= 2:  # n-grams starting with padding keep their raw count
                    starts_padded = np.zeros(n_grams, dtype=bool)
                    starts_padded[at[valid]] = contexts[valid, self.order - k] == v
                    counts = np.where(starts_padded, raw, counts)
            d = _discounts(counts)
            discount = d[np.minimum(counts, 3).astype(np.int64)]
            n_hist = 1 if k == 1 else len(tables[f"hist{k - 1}"])
            gram_hist = tables[f"grams{k}"] // v
            denominator = np.bincount(gram_hist, weights=counts, minlength=n_hist)
            mass = np.bincount(gram_hist, weights=discount, minlength=n_hist)
            tables[f"num{k}"] = np.maximum(counts - discount, 0.0)
            tables[f"den{k}"] = denominator
            tables[f"gamma{k}"] = mass / denominator
            tables[f"discounts{k}"] = d[1:]
        return tables

    # ------------------------------------------------------------------ scoring
    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``float64[n]``: ``log p(targets[i] | contexts[i])``.

        ``contexts: int32[n, >= order-1]`` (oldest first, padding ``len(vocab)``;
        extra leading columns are ignored), ``targets: int32[n]`` in ``[0, V)``.
        """
        self._check_fitted()
        v = len(self.vocab)
        contexts = np.asarray(contexts)[:, contexts.shape[1] - self.context_size:]
        targets = np.asarray(targets, dtype=np.int64)
        hist, _ = self._history_ids(contexts, v, self.tables)
        return np.log(interpolate(self.tables, hist, targets, v, self.order))

    def logprob(self, context, word) -> float:
        """Natural-log probability of ``word`` after ``context`` (tokens or ids, oldest first).

        A context shorter than ``order - 1`` is padded at the start (start of text).
        """
        self._check_fitted()
        v = len(self.vocab)
        ids = [self._id(w) for w in context][-self.context_size:] if self.context_size else []
        ids = [v] * (self.context_size - len(ids)) + ids
        target = self._id(word)
        if target == v:
            raise ValueError("the padding symbol cannot be predicted")
        return float(self.score(np.array([ids], dtype=np.int32), np.array([target], dtype=np.int32))[0])

    def _id(self, word) -> int:
        if isinstance(word, str):
            try:
                return self.vocab.index(word)
            except KeyError:
                if self.vocab.unk_id < 0:
                    raise ValueError(f"word {word!r} is not in the vocabulary (no unknown-word symbol)") from None
                return self.vocab.unk_id
        word = int(word)
        if not 0 <= word <= len(self.vocab):
            raise ValueError(f"word id {word} outside [0, {len(self.vocab)}]")
        return word

    def _check_fitted(self) -> None:
        if self.vocab is None:
            raise ValueError("this KneserNey model is not fitted: call fit(corpus) or KneserNey.load(path)")

    # ------------------------------------------------------------------ save / load
    def save(self, path) -> Path:
        """Write the model (tables, vocabulary, tokenizer) as an lmkit model file of kind ``kneser_ney``."""
        from lmkit.io import save_model

        self._check_fitted()
        meta = {"order": self.order, "boundaries": self.boundaries, "vocab": self.vocab.to_dict(),
                "tokenizer": self.tokenizer.to_json() if self.tokenizer is not None else None}
        return save_model(path, self.kind, self.tables, meta)

    def save_arpa(self, path) -> Path:
        """Write the model as an ARPA back-off file (KenLM, SRILM); see :mod:`lmkit.lm.arpa`."""
        from lmkit.lm.arpa import write_arpa

        return write_arpa(self, path)

    @classmethod
    def load_arpa(cls, path, *, boundaries: str = "sentence") -> "KneserNey":
        """Read any ARPA file (KenLM, SRILM, lmkit; gzip too) as a model; see :mod:`lmkit.lm.arpa`."""
        from lmkit.lm.arpa import read_arpa

        parts = read_arpa(path)
        model = cls(parts.order, boundaries=boundaries)
        model.vocab, model.tables, model.tokenizer = parts.vocab, parts.tables, parts.tokenizer
        return model

    @classmethod
    def load(cls, path) -> "KneserNey":
        from lmkit.corpus.vocab import Vocab
        from lmkit.io import load_model

        arrays, meta = load_model(path, cls.kind)
        model = cls(meta["order"], boundaries=meta["boundaries"])
        expected = {f"{name}{k}" for k in range(1, model.order + 1)
                    for name in ("grams", "num", "den", "gamma", "discounts")}
        expected |= {f"hist{j}" for j in range(1, model.order)}
        if set(arrays) != expected:
            raise ValueError(f"{path}: Kneser-Ney tables {sorted(set(arrays) ^ expected)} missing or unexpected")
        _check_tables(arrays, model.order, path)
        model.tables = arrays
        model.vocab = Vocab.from_dict(meta["vocab"])
        if meta.get("tokenizer"):
            from lmkit.corpus.tokenizer import Tokenizer

            model.tokenizer = Tokenizer.from_json(meta["tokenizer"])
        return model
