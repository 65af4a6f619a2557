"""KeyedVectors: the word -> vector table a user keeps after training, and its queries.

Independent of every trainer: it holds ``index_to_key: list[str]`` and
``vectors: float32[V, d]`` and nothing else, so a trainer hands over its input
embedding matrix and the vocabulary, and the result can be saved as a word2vec file
(:mod:`lmkit.vectors.formats`) or in lmkit's own format (:func:`lmkit.io.save_model`).

Similarities are cosines, computed as products with the cached unit-norm matrix
``U[i] = v_i / ||v_i||`` (zero vectors stay zero: their cosine with anything is 0).
Queries follow gensim 4:

* ``most_similar(positive, negative)`` ranks words by ``cos(w, m)`` with
  ``m = sum_i s_i x_i / sum_i |s_i|``, ``x_i`` the unit vector of a word (a raw array is
  taken as given), ``s_i = +1`` for positive and ``-1`` for negative inputs: the 3CosAdd
  analogy rule ``b - a + c`` of Mikolov et al. (2013) for ``positive=[b, c], negative=[a]``.
* ``most_similar_cosmul`` is 3CosMul (Levy & Goldberg, 2014, eq. 4):
  ``prod_p c(w, p) / (prod_n c(w, n) + 1e-6)`` with cosines shifted to ``c = (1 + cos) / 2``.

Input words never appear in the answers.  Top-k is O(V): repeated ``argmax`` for k <= 8, else ``np.argpartition``; answers come
by decreasing similarity, ties by index.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lmkit.io import load_model, save_model
from lmkit.vectors import formats

logger = logging.getLogger(__name__)

KIND = "keyed_vectors"
_BATCH_ELEMENTS = 1 << 23  # scores held at once by batch_most_similar (32 MB of float32)
_ARGMAX_TOPK = 8            # up to this k, top-k by repeated argmax (see _top_k)


class KeyedVectors:
    """Word vectors: ``vectors[i]`` is the vector of ``index_to_key[i]``.

    Parameters
    ----------
    index_to_key : list[str], V distinct words (usually by decreasing frequency:
        ``restrict_vocab=n`` means "the first n words").
    vectors : float[V, d], used as is (not copied); float32 unless built otherwise.

    Raises ``ValueError`` for a shape mismatch, a non-string or duplicate word.
    """

    def __init__(self, index_to_key: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array (V, d), got shape {vectors.shape}")
        if not np.issubdtype(vectors.dtype, np.floating):
            vectors = vectors.astype(np.float32)
        keys = list(index_to_key)
        if len(keys) != vectors.shape[0]:
            raise ValueError(f"index_to_key has {len(keys)} words but vectors has {vectors.shape[0]} rows")
        key_to_index = {}
        for index, key in enumerate(keys):
            if not isinstance(key, str):
                raise ValueError(f"index_to_key[{index}] is {key!r}: words must be str")
            first = key_to_index.setdefault(key, index)
            if first != index:
                raise ValueError(f"duplicate word {key!r} at positions {first} and {index}")
        self.index_to_key = keys
        self.key_to_index = key_to_index
        self._vectors = vectors
        self._normed: np.ndarray | None = None

    # ------------------------------------------------------------------ access

    @property
    def vectors(self) -> np.ndarray:
        """float[V, d].  Assigning a new matrix resets the cached unit vectors; after
        changing it in place, call :meth:`clear_cache`."""
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.shape[:1] != (len(self.index_to_key),) or value.ndim != 2:
            raise ValueError(f"vectors must have shape ({len(self.index_to_key)}, d), got {value.shape}")
        self._vectors = value
        self._normed = None

    def clear_cache(self) -> None:
        """Forget the unit-norm matrix (after editing ``vectors`` in place)."""
        self._normed = None

    @property
    def vector_size(self) -> int:
        return self._vectors.shape[1]

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, vector_size={self.vector_size}, dtype={self._vectors.dtype})"

    def get_index(self, word: str) -> int:
        """Row of ``word``; KeyError naming it when absent."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise KeyError(f"word {word!r} not in vocabulary") from None
        except TypeError:
            raise KeyError(f"word {word!r} not in vocabulary (words are str)") from None

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """float[d]: the vector of ``word`` (a view), or its unit vector with ``norm=True``."""
        index = self.get_index(word)
        return self.get_normed_vectors()[index] if norm else self._vectors[index]

    def __getitem__(self, words: str | Iterable[str]) -> np.ndarray:
        """``kv["w"]`` -> float[d]; ``kv[["a", "b"]]`` -> float[2, d]."""
        if isinstance(words, str):
            return self.get_vector(words)
        return self._vectors[[self.get_index(word) for word in words]]

    def get_normed_vectors(self) -> np.ndarray:
        """U = V / ||V|| row-wise, float32 (float64 for float64 vectors), cached.  Zero rows stay 0."""
        if self._normed is None:
            dtype = np.float64 if self._vectors.dtype == np.float64 else np.float32
            vectors = self._vectors.astype(dtype, copy=False)
            # squares summed in float64: float32 overflows past |v| ~ 1e19
            norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))[:, None]
            self._normed = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0,
                                     casting="unsafe")
        return self._normed

    # ---------------------------------------------------------------- queries

    def _restrict(self, restrict_vocab: int | None) -> int:
        if restrict_vocab is None:
            return len(self)
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) or restrict_vocab < 1:
            raise ValueError(f"restrict_vocab must be None or an integer >= 1, got {restrict_vocab!r}")
        return min(int(restrict_vocab), len(self))

    def _inputs(self, positive, negative) -> tuple[list, np.ndarray, list[int]]:
        """Normalize gensim-style inputs -> (items, weights, indices of the input words).

        Each input is a word, a vector, or a ``(word_or_vector, weight)`` pair; a bare word
        or vector may be given instead of a list.
        """
        items, weights = [], []
        for group, sign in ((positive, 1.0), (negative, -1.0)):
            if group is None:
                continue
            if isinstance(group, str) or (isinstance(group, np.ndarray) and group.ndim == 1):
                group = [group]
            for entry in group:
                if isinstance(entry, tuple):
                    entry, weight = entry
                else:
                    weight = sign
                items.append(entry)
                weights.append(float(weight))
        if not items:
            raise ValueError("cannot compute similarity with no input: give positive and/or negative words")
        exclude = [self.get_index(item) for item in items if isinstance(item, str)]
        return items, np.asarray(weights), exclude

    def _as_vector(self, item, normalize: bool) -> np.ndarray:
        if isinstance(item, str):
            return self.get_vector(item, norm=True).astype(np.float64)
        vector = np.asarray(item, dtype=np.float64)
        if vector.shape != (self.vector_size,):
            raise ValueError(f"query vector has shape {vector.shape}, expected ({self.vector_size},)")
        if normalize:
            return _unit(vector)
        return vector

    def _top(self, scores: np.ndarray, topn: int, exclude: list[int]) -> list[tuple[str, float]]:
        scores = scores.copy()
        exclude = [i for i in set(exclude) if i < scores.shape[0]]
        scores[exclude] = -np.inf
        k = min(topn, scores.shape[0] - len(exclude))
        indices, values = _top_k(scores[None, :], k)
        return [(self.index_to_key[i], float(v)) for i, v in zip(indices[0], values[0])]

    def most_similar(self, positive=None, negative=None, topn: int | None = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]] | np.ndarray:
        """Words closest (cosine) to the mean of the positive minus the negative inputs.

        ``positive``/``negative``: words, vectors, or ``(word_or_vector, weight)`` pairs
        (weights default to +1 / -1); words enter as unit vectors, arrays as given;
        the weighted sum is divided by the sum of |weights|.  ``restrict_vocab=n`` searches
        only the first n words.  Returns ``topn`` ``(word, cosine)`` pairs, best first,
        without the input words; ``topn=None`` returns the cosines of all searched words,
        float32[n], inputs included.  KeyError names an unknown input word.
        """
        if topn is not None and topn < 1:
            return []
        items, weights, exclude = self._inputs(positive, negative)
        mean = sum(w * self._as_vector(item, normalize=False) for item, w in zip(items, weights))
        query = _unit(mean / np.abs(weights).sum())
        normed = self.get_normed_vectors()[:self._restrict(restrict_vocab)]
        scores = normed @ query.astype(normed.dtype)
        if topn is None:
            return scores
        return self._top(scores, topn, exclude)

    def most_similar_cosmul(self, positive=None, negative=None, topn: int | None = 10,
                            restrict_vocab: int | None = None) -> list[tuple[str, float]] | np.ndarray:
        """3CosMul (Levy & Goldberg 2014): ``prod_p c(w,p) / (prod_n c(w,n) + 1e-6)``,
        ``c = (1 + cos) / 2`` in [0, 1].

        As gensim, except that array inputs are normalized (the shift to [0, 1] needs
        cosines) and ``restrict_vocab`` is honoured (gensim 4.4 ignores it).
        """
        if topn is not None and topn < 1:
            return []
        items, weights, exclude = self._inputs(positive, negative)
        normed = self.get_normed_vectors()[:self._restrict(restrict_vocab)]
        numerator = np.ones(normed.shape[0], dtype=normed.dtype)
        denominator = np.ones(normed.shape[0], dtype=normed.dtype)
        for item, weight in zip(items, weights):
            shifted = (1 + normed @ self._as_vector(item, normalize=True).astype(normed.dtype)) / 2
            if weight > 0:
                numerator *= shifted
            else:
                denominator *= shifted
        scores = numerator / (denominator + normed.dtype.type(1e-6))
        if topn is None:
            return scores
        return self._top(scores, topn, exclude)

    def similar_by_word(self, word: str, topn: int | None = 10, restrict_vocab: int | None = None):
        """``most_similar(positive=[word])``."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None):
        """Words closest (cosine) to ``vector: float[d]``; no word is excluded."""
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.get_vector(w1, norm=True) @ self.get_vector(w2, norm=True))

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine between the means of the raw vectors of two word lists (gensim)."""
        if not len(ws1) or not len(ws2):
            raise ValueError("n_similarity needs two non-empty word lists")
        mean1 = self[list(ws1)].astype(np.float64).mean(axis=0)
        mean2 = self[list(ws2)].astype(np.float64).mean(axis=0)
        return float(_unit(mean1) @ _unit(mean2))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word farthest (cosine) from the normalized mean of the words' unit vectors.
        Unknown words are ignored with a warning, as gensim does."""
        used = [word for word in words if word in self]
        if len(used) != len(words):
            logger.warning("doesnt_match: ignoring words not in the vocabulary: %s",
                           sorted(set(words) - set(used)))
        if not used:
            raise ValueError("doesnt_match: none of the words is in the vocabulary")
        unit = self.get_normed_vectors()[[self.key_to_index[word] for word in used]].astype(np.float64)
        scores = unit @ _unit(unit.mean(axis=0))
        return used[int(np.argmin(scores))]

    def batch_most_similar(self, queries: np.ndarray, topn: int = 10, restrict_vocab: int | None = None,
                           exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``topn`` words for many query vectors: one matrix product per batch.

        Parameters
        ----------
        queries : float[B, d]; normalized here, so the scores are cosines.
        topn : answers per query.
        restrict_vocab : search only the first n words.
        exclude : int[B, k] word indices never returned for that query (``-1``: padding).

        Returns
        -------
        indices : int64[B, topn], best first (ties by index); ``-1`` where fewer than
            ``topn`` words were left.
        scores : float32[B, topn] cosines (``-inf`` beside an index of ``-1``).
        """
        queries = np.atleast_2d(np.asarray(queries))
        if queries.ndim != 2 or queries.shape[1] != self.vector_size:
            raise ValueError(f"queries must have shape (B, {self.vector_size}), got {queries.shape}")
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.int64).reshape(queries.shape[0], -1)
        normed = self.get_normed_vectors()[:self._restrict(restrict_vocab)]
        n_words = normed.shape[0]
        topn = max(0, min(int(topn), n_words))
        norms = np.linalg.norm(queries.astype(np.float64), axis=1, keepdims=True)
        units = np.divide(queries, norms, out=np.zeros(queries.shape), where=norms > 0).astype(normed.dtype)
        indices = np.empty((queries.shape[0], topn), dtype=np.int64)
        scores = np.empty((queries.shape[0], topn), dtype=np.float32)
        step = max(1, _BATCH_ELEMENTS // max(1, n_words))
        for start in range(0, queries.shape[0], step):
            block = units[start:start + step] @ normed.T  # (b, n_words)
            if exclude is not None:
                rows, cols = np.nonzero((exclude[start:start + step] >= 0) & (exclude[start:start + step] < n_words))
                block[rows, exclude[start:start + step][rows, cols]] = -np.inf
            indices[start:start + step], scores[start:start + step] = _top_k(block, topn)
        indices[np.isneginf(scores)] = -1
        return indices, scores

    # -------------------------------------------------------------- evaluation

    def evaluate_word_analogies(self, path: str | os.PathLike, **kwargs):
        """See :func:`lmkit.evaluate.evaluate_word_analogies`."""
        from lmkit.evaluate import evaluate_word_analogies
        return evaluate_word_analogies(self, path, **kwargs)

    def evaluate_word_pairs(self, path: str | os.PathLike, **kwargs):
        """See :func:`lmkit.evaluate.evaluate_word_pairs`."""
        from lmkit.evaluate import evaluate_word_pairs
        return evaluate_word_pairs(self, path, **kwargs)

    # ------------------------------------------------------------------- files

    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False, limit: int | None = None,
                             write_header: bool = True) -> Path:
        """Write the word2vec text (``"%.9g"`` values, float32-exact) or binary format;
        see :mod:`lmkit.vectors.formats`.  Atomic; ``.gz``/``.bz2`` compress."""
        return formats.write_word2vec(path, self.index_to_key, self._vectors, binary=binary, limit=limit,
                                      write_header=write_header)

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool = False, limit: int | None = None,
                             unicode_errors: str = "strict", datatype: type = np.float32,
                             no_header: bool = False) -> "KeyedVectors":
        """Read a word2vec text or binary file; see :func:`lmkit.vectors.formats.read_word2vec`."""
        words, vectors = formats.read_word2vec(path, binary=binary, limit=limit, unicode_errors=unicode_errors,
                                               datatype=datatype, no_header=no_header)
        return cls(words, vectors)

    def save(self, path: str | os.PathLike) -> Path:
        """lmkit's own format (one ``.npz``, no pickle, kind ``"keyed_vectors"``)."""
        return save_model(path, KIND, {"vectors": self._vectors}, {"index_to_key": self.index_to_key})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "KeyedVectors":
        """Read a file written by :meth:`save`."""
        arrays, meta = load_model(path, kind=KIND)
        if "vectors" not in arrays or not isinstance(meta.get("index_to_key"), list):
            raise ValueError(f"{path}: keyed_vectors file without 'vectors' or 'index_to_key'")
        return cls(meta["index_to_key"], arrays["vectors"])


def _unit(vector: np.ndarray) -> np.ndarray:
    """float64 vector / its norm (zero stays zero)."""
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``scores: float[B, n]`` (overwritten), the ``k`` largest:
    (int64[B, k], float32[B, k]), by decreasing score then increasing index.

    Small k (the analogy benchmark's 5): k passes of ``argmax``, each masking its winner,
    which beats a selection.  Larger k: ``np.argpartition`` (O(n)), then a sort of the k.
    """
    rows = np.arange(scores.shape[0])
    if k <= 0:
        return np.empty((scores.shape[0], 0), np.int64), np.empty((scores.shape[0], 0), np.float32)
    if k <= _ARGMAX_TOPK:
        indices = np.empty((scores.shape[0], k), dtype=np.int64)
        values = np.empty((scores.shape[0], k), dtype=np.float32)
        for j in range(k):
            indices[:, j] = scores.argmax(axis=1)
            values[:, j] = scores[rows, indices[:, j]]
            scores[rows, indices[:, j]] = -np.inf
        return indices, values
    if k < scores.shape[1]:
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    values = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=-1)
    return (np.take_along_axis(candidates, order, axis=1).astype(np.int64),
            np.take_along_axis(values, order, axis=1).astype(np.float32))
