"""Random numbers for the word2vec kernels: the RNG and the negative-sampling table.

**RNG.**  Every worker owns one 64-bit state and threads it through the
kernels explicitly (like the C tool's ``next_random``), so a run is a pure
function of the seed.  The generator is Marsaglia's xorshift64* (Vigna 2016):
three shifts and one multiply per draw, period 2^64 - 1, high bits of good
quality.  Derived values, all from one draw ``r``:

* ``uniform_index(r, n) = ((r >> 32) * n) >> 32``: an integer in ``[0, n)``
  (Lemire's multiply-shift, no division);
* ``uniform_float(r) = (r >> 40) * 2^-24``: a float32 in ``[0, 1)``.

**Negative sampling.**  Mikolov et al. (2013) draw negatives from the unigram
distribution raised to 3/4, ``P(w) = c_w^0.75 / sum_v c_v^0.75``.  The C tool
fills a 10^8-entry table; gensim binary-searches a cumulative table.  lmkit
uses Walker's alias method (Vose's O(V) construction): one draw picks a
column ``i`` uniformly (high 32 bits) and keeps it if the low 32 bits fall
below ``threshold[i]``, else takes ``alias[i]``: O(1) per negative and a table
of 12 bytes per word.

**Parts of the table.**  With several Hogwild workers, skip-gram's workers
draw their negatives from different parts of the vocabulary at any moment
(:func:`partition_table`): the parts hold equal shares of the probability
mass and each part's table is the distribution restricted to it.  Why and
what it costs: :func:`lmkit.word2vec.training.negative_tables`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmkit._jit import jit, jit_exact

_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_S12, _S25, _S27, _S32, _S40 = (np.uint64(s) for s in (12, 25, 27, 32, 40))
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO_POW_32 = 1 << 32


@jit
def next_random(state: np.uint64) -> tuple:
    """One xorshift64* step: ``(new_state, output)``, both uint64."""
    state ^= state >> _S12
    state ^= state << _S25
    state ^= state >> _S27
    return state, state * _MULTIPLIER


@jit
def uniform_index(r: np.uint64, n: int) -> int:
    """An integer in ``[0, n)`` from the high 32 bits of ``r`` (n < 2^32)."""
    return np.int64(((r >> _S32) * np.uint64(n)) >> _S32)


@jit
def uniform_float(r: np.uint64) -> np.float32:
    """A float32 in ``[0, 1)`` from the high 24 bits of ``r``."""
    return np.float32(r >> _S40) * np.float32(1.0 / 16777216.0)


@jit
def draw_alias(state: np.uint64, threshold: np.ndarray, alias: np.ndarray) -> tuple:
    """One draw from an alias table: ``(new_state, index)``."""
    state, r = next_random(state)
    column = uniform_index(r, threshold.shape[0])
    if np.int64(r & _LOW32) < threshold[column]:
        return state, column
    return state, np.int64(alias[column])


def seed_state(seed: int, stream: int = 0) -> np.uint64:
    """A non-zero xorshift state for ``(seed, stream)`` via splitmix64.

    Distinct streams (one per worker) start far apart in the sequence.
    """
    mask = (1 << 64) - 1
    z = (int(seed) * 0x9E3779B97F4A7C15 + (int(stream) + 1) * 0xBF58476D1CE4E5B9) & mask
    z = (z + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return np.uint64(z or 0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class AliasTable:
    """Walker/Vose alias table over ``V`` outcomes.

    ``threshold: int64[V]`` in ``[0, 2^32]`` (column ``i`` is kept when the
    low 32 bits of a draw are below it), ``alias: int32[V]``, and the
    normalized ``probabilities: float64[V]`` it represents.
    """

    threshold: np.ndarray
    alias: np.ndarray
    probabilities: np.ndarray


@jit_exact
def _vose(scaled: np.ndarray, threshold: np.ndarray, alias: np.ndarray) -> None:
    """Vose's O(n) split of ``scaled = n * p`` into columns of height 1."""
    n = scaled.shape[0]
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    n_small = 0
    n_large = 0
    for i in range(n):
        alias[i] = i
        if scaled[i] < 1.0:
            small[n_small] = i
            n_small += 1
        else:
            large[n_large] = i
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        lo = small[n_small]
        hi = large[n_large - 1]
        threshold[lo] = np.int64(scaled[lo] * 4294967296.0)
        alias[lo] = hi
        scaled[hi] = (scaled[hi] + scaled[lo]) - 1.0
        if scaled[hi] < 1.0:
            n_large -= 1
            small[n_small] = hi
            n_small += 1
    # Leftovers are 1 up to rounding: keep them always.
    for k in range(n_large):
        threshold[large[k]] = 4294967296
    for k in range(n_small):
        threshold[small[k]] = 4294967296


def unigram_table(counts: np.ndarray, exponent: float = 0.75) -> AliasTable:
    """The alias table of ``P(w) proportional to counts[w] ** exponent``.

    ``counts: int[V]``.  Words with count 0 are never drawn.  Raises
    ``ValueError`` if no word has a positive count.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise ValueError(f"counts must be a non-empty 1-d array, got shape {counts.shape}")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("counts must be finite and >= 0")
    weights = np.where(counts > 0, counts ** exponent, 0.0)
    total = weights.sum()
    if total <= 0:
        raise ValueError("negative sampling needs at least one word with a positive count")
    return alias_table(weights / total)


def alias_table(probabilities: np.ndarray) -> AliasTable:
    """The alias table drawing ``i`` with ``probabilities[i]`` (float64[V], >= 0, summing to 1)."""
    n = probabilities.shape[0]
    threshold = np.zeros(n, dtype=np.int64)
    alias = np.zeros(n, dtype=np.int32)
    _vose(probabilities * n, threshold, alias)
    return AliasTable(threshold, alias, probabilities)


def table_probabilities(threshold: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """What the alias table ``(threshold, alias)`` draws: float64[V], the inverse of :func:`alias_table` (up to
    the thresholds' steps of 2^-32).  A draw picks column ``i`` with probability ``1/V`` and gives ``i`` with
    probability ``threshold[i] / 2^32``, else ``alias[i]``."""
    kept = np.asarray(threshold, dtype=np.float64) / _TWO_POW_32
    given = np.bincount(np.asarray(alias, dtype=np.int64), weights=1.0 - kept, minlength=kept.shape[0])
    return (kept + given) / kept.shape[0]


def partition_table(probabilities: np.ndarray, parts: int, min_words: int) -> list[AliasTable] | None:
    """``parts`` alias tables over disjoint sets of the words that ``probabilities`` (float64[V]) can draw.

    The words are dealt most probable first, each to the set with the least
    probability mass so far, so the sets' masses differ by at most the
    largest probability (in practice far less: the many rare words even them
    out); each table is the distribution restricted to its set and
    renormalized.  None if some set would hold fewer than ``min_words``
    words (a worker redraws negatives equal to its targets, so it needs more
    words than targets).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    drawable = np.flatnonzero(probabilities > 0)
    if drawable.shape[0] < parts * min_words:
        return None
    order = drawable[np.argsort(-probabilities[drawable], kind="stable")]
    owner = np.full(probabilities.shape[0], -1, dtype=np.int64)
    _deal(order, probabilities, parts, owner)
    tables = []
    for part in range(parts):
        mine = np.where(owner == part, probabilities, 0.0)
        if np.count_nonzero(mine) < min_words:
            return None
        tables.append(alias_table(mine / mine.sum()))
    return tables


@jit_exact
def _deal(order: np.ndarray, probabilities: np.ndarray, parts: int, owner: np.ndarray) -> None:
    """``owner[w]`` for each word ``w`` of ``order`` in turn: the part with the least mass so far."""
    mass = np.zeros(parts)
    for w in order:
        part = np.argmin(mass)
        owner[w] = part
        mass[part] += probabilities[w]
