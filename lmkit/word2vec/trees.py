"""The Huffman tree of hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013).

Each word is a leaf of a binary Huffman tree built from the word counts, so
frequent words get short paths.  P(w | h) is the product, over the inner nodes
on the path from the root to w, of sigma(+-h . v_node): one binary logistic
decision per node.  A word's *points* are the inner nodes on its path (ids in
``[0, V - 1)``, rows of the output matrix ``syn1``) and its *code* bits say
which branch the path takes at each of them (the C tool's ``vocab[w].point``
and ``vocab[w].code``).

Construction is the C tool's linear two-queue method on counts sorted in
descending order: the leaves, read from the rarest up, and the merged nodes,
created in non-decreasing weight order, are two sorted queues, so each merge
takes the two smallest fronts in O(1).  With the initial sort the whole build
is O(V log V) (O(V) when the counts are already sorted, as lmkit vocabularies
are).

Ties decide more than cost.  Among words of equal count (thousands of them
at the rare end), the merge order picks which words become siblings and
which subtrees share inner nodes.  The C tool and gensim order equal counts
by first occurrence in the corpus, so the deep subtrees gather words first
seen in the same documents -- topically related words, whose inner nodes a
context can learn to predict.  lmkit's ids order ties by code point, which
would group ``dissolved`` with ``distorted``: measured on Brown, CBOW-HS
WordSim-353 0.17 with such a tree against 0.21 with first-occurrence ties
(BENCHMARKS.md).  :func:`first_positions` gives that order from the ids.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmkit._jit import jit_exact
from lmkit.corpus.chunks import TokenReader


@dataclass(frozen=True)
class HuffmanTree:
    """Codes and inner-node paths of every word, as padded arrays.

    ``codes: uint8[V, max_len]`` (branch bits, root first), ``points:
    int32[V, max_len]`` (inner-node ids, root first; the root is ``V - 2``),
    ``lengths: int32[V]`` (path length of each word; entries past it are 0).
    A vocabulary of one word has an empty tree (max_len 0): nothing to predict.
    """

    codes: np.ndarray
    points: np.ndarray
    lengths: np.ndarray

    @property
    def n_inner(self) -> int:
        """Number of inner nodes, ``V - 1``: the rows of the output matrix syn1."""
        return max(self.lengths.shape[0] - 1, 0)


@jit_exact
def _merge(sorted_counts: np.ndarray, parent: np.ndarray, branch: np.ndarray) -> None:
    """Build the tree over leaves ``0..V-1`` (counts non-increasing).

    Nodes ``V..2V-2`` are inner nodes in creation order (``2V - 2`` is the
    root).  Fills ``parent: int64[2V-1]`` and ``branch: uint8[2V-1]`` (1 for
    the second-smallest child of each merge, as the C tool).
    """
    n = sorted_counts.shape[0]
    weight = np.empty(2 * n - 1, dtype=np.int64)
    for i in range(n):   # (a loop: numba's slice assignment compiles a shape-mismatch error, 4 s in a first run)
        weight[i] = sorted_counts[i]
    leaf = n - 1       # next unmerged leaf, moving toward the frequent end
    inner = n          # next unmerged inner node
    for node in range(n, 2 * n - 1):
        first = -1
        for k in range(2):
            # Take a leaf on ties: keeps the tree shallow, as the C tool does.
            if leaf >= 0 and (inner >= node or weight[leaf] <= weight[inner]):
                chosen = leaf
                leaf -= 1
            else:
                chosen = inner
                inner += 1
            parent[chosen] = node
            if k == 0:
                first = chosen
            else:
                branch[chosen] = 1
                weight[node] = weight[first] + weight[chosen]


@jit_exact
def _depths(parent: np.ndarray, n: int) -> np.ndarray:
    """Depth of every node (root 0); parents have larger ids, so one downward pass."""
    depth = np.zeros(2 * n - 1, dtype=np.int32)
    for node in range(2 * n - 3, -1, -1):
        depth[node] = depth[parent[node]] + 1
    return depth


@jit_exact
def _paths(parent: np.ndarray, branch: np.ndarray, codes: np.ndarray, points: np.ndarray,
           lengths: np.ndarray) -> None:
    """Walk from every leaf to the root and store its path root-first."""
    n = lengths.shape[0]
    root = 2 * n - 2
    for leaf in range(n):
        depth = 0
        node = leaf
        while node != root:
            depth += 1
            node = parent[node]
        lengths[leaf] = depth
        node = leaf
        for k in range(depth - 1, -1, -1):
            codes[leaf, k] = branch[node]
            points[leaf, k] = parent[node] - n
            node = parent[node]


@jit_exact
def _first_seen(ids: np.ndarray, start: int, first: np.ndarray, missing: int) -> int:
    """Record in ``first`` (-1: not seen yet) the position ``start + t`` of each word's first
    occurrence in ``ids``; returns how many of the ``missing`` words are still unseen."""
    for t in range(ids.shape[0]):
        word = ids[t]
        if first[word] < 0:
            first[word] = start + t
            missing -= 1
            if missing == 0:
                break
    return missing


def first_positions(ids: np.ndarray, n_words: int, chunk: int = 1 << 22) -> np.ndarray:
    """``int64[n_words]``: the position of each word's first occurrence in ``ids`` (int32[n_tokens]).

    Words that never occur get ``n_tokens + id`` (after every word that does,
    in id order).  Reads ``ids`` (an array or memmap) in chunks through one
    buffer (:class:`lmkit.corpus.chunks.TokenReader`: slicing a memmap would
    leave every page read resident, ~4 bytes a token) and stops as soon as
    every word has been seen.
    """
    first = np.full(n_words, -1, dtype=np.int64)
    n_tokens = int(ids.shape[0])
    missing = n_words
    reader = TokenReader(ids, min(chunk, n_tokens))
    try:
        for start in range(0, n_tokens, chunk):
            stop = min(start + chunk, n_tokens)
            held, base = reader.read(start, stop)
            part = held[start - base:stop - base]
            if int(part.min()) < 0 or int(part.max()) >= n_words:
                raise ValueError(f"ids must be in [0, {n_words}), got values in [{part.min()}, {part.max()}]")
            missing = _first_seen(part, start, first, missing)
            if missing == 0:
                break
    finally:
        reader.close()
    unseen = first < 0
    first[unseen] = n_tokens + np.flatnonzero(unseen)
    return first


def build_huffman(counts: np.ndarray, ties: np.ndarray | None = None) -> HuffmanTree:
    """The Huffman tree of ``counts: int[V]`` (any order).

    ``ties: int[V]`` orders words of equal count in place of their ids
    (None: by id, the tree of models saved before ``ties`` existed).  With
    :func:`first_positions` it is the order of the C tool and of gensim, and
    the tree is gensim's node for node.  Returns codes/points/lengths indexed
    by the original ids.  Raises ``ValueError`` for an empty or negative
    ``counts`` or a ``ties`` of another shape.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise ValueError(f"counts must be a non-empty 1-d array, got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError("counts must be >= 0")
    n = counts.shape[0]
    if ties is not None:
        ties = np.asarray(ties)
        if ties.shape != counts.shape:
            raise ValueError(f"ties has shape {ties.shape}, expected {counts.shape} to match counts")
    if n == 1:
        return HuffmanTree(np.zeros((1, 0), np.uint8), np.zeros((1, 0), np.int32), np.zeros(1, np.int32))
    if ties is None:
        order = np.argsort(-counts, kind="stable")          # descending, ties by id: O(V log V)
    else:
        order = np.lexsort((np.arange(n), ties, -counts))   # descending, ties by `ties`, then by id
    parent = np.zeros(2 * n - 1, dtype=np.int64)
    branch = np.zeros(2 * n - 1, dtype=np.uint8)
    _merge(counts[order], parent, branch)
    max_len = int(_depths(parent, n)[:n].max())           # at most V - 1 (a chain)
    codes = np.zeros((n, max_len), dtype=np.uint8)
    points = np.zeros((n, max_len), dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    _paths(parent, branch, codes, points, lengths)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return HuffmanTree(codes[inverse], points[inverse], lengths[inverse])
