"""The tables of an interpolated n-gram model and the recursion that scores with them.

A model of order ``N`` holds, for each level ``k = 1..N``, the sorted keys of
its seen k-grams (``grams{k}``: ``history index * V + word``) with their
discounted counts (``num{k}``), and for each seen history of length ``k - 1``
its normalizer (``den{k}``) and back-off mass (``gamma{k}``); ``hist{j}`` are
the sorted keys of the seen length-``j`` histories.  Kneser-Ney estimates
(:mod:`lmkit.lm.ngram`) and ARPA files (:mod:`lmkit.lm.arpa`) both become these
tables, so one recursion scores both::

    p_k(w | h) = num_k(h w) / den_k(h) + gamma_k(h) p_{k-1}(w | h')

with ``h'`` the history without its oldest word and ``p_0 = 1 / V``.
"""
from __future__ import annotations

import numpy as np

MAX_ORDER = 5


def lookup(table: np.ndarray, keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Index of each key in the sorted ``table``; -1 where absent or not ``valid``."""
    if len(table) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(valid & (table[pos] == keys), pos, -1)


def interpolate(tables: dict, hist: list, targets: np.ndarray, v: int, levels: int) -> np.ndarray:
    """``float64[n]``: ``p_levels(targets | history)`` by the recursion of the module docstring.

    ``hist[j]: int64[n]`` is the index of each position's length-``j`` history
    in ``tables[f"hist{j}"]`` (``hist[0]`` all 0; -1: unseen or skipped, and
    then every longer one is -1 too); ``targets: int64[n]`` in ``[0, V)``.
    Shared by scoring (:mod:`lmkit.lm.ngram`) and by the ARPA writer and
    reader (:mod:`lmkit.lm.arpa`), which give a back-off model the same tables.
    """
    p = np.full(len(targets), 1.0 / v)
    for k in range(1, levels + 1):
        h = hist[k - 1]
        seen = h >= 0
        hs = np.maximum(h, 0)
        g = lookup(tables[f"grams{k}"], hs * v + targets, seen)
        num = np.where(g >= 0, tables[f"num{k}"][np.maximum(g, 0)], 0.0)
        p = np.where(seen, num / tables[f"den{k}"][hs] + tables[f"gamma{k}"][hs] * p, p)
    return p
