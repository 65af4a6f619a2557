"""The RNG and the unigram^0.75 alias table."""
from __future__ import annotations

import numpy as np
import pytest

from lmkit._jit import jit
from lmkit.word2vec.sampling import (draw_alias, next_random, partition_table, seed_state, table_probabilities,
                                     uniform_float, uniform_index, unigram_table)

import w2v_reference as ref

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in scalar multiply:RuntimeWarning")


@jit
def _draw_many(state, threshold, alias, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        state, out[i] = draw_alias(state, threshold, alias)
    return state, out


@jit
def _uniforms(state, n, bound):
    indices = np.empty(n, dtype=np.int64)
    floats = np.empty(n, dtype=np.float32)
    for i in range(n):
        state, r = next_random(state)
        indices[i] = uniform_index(r, bound)
        floats[i] = uniform_float(r)
    return state, indices, floats


def test_rng_matches_the_python_twin():
    state = seed_state(42)
    end, indices, floats = _uniforms(state, 50, 7)
    twin = ref.XorShift64Star(int(state))
    for i in range(50):
        r = twin.next()
        assert indices[i] == ((r >> 32) * 7) >> 32
        assert floats[i] == np.float32((r >> 40) / 16777216.0)
    assert int(end) == twin.state


def test_uniform_draws_are_uniform():
    _, indices, floats = _uniforms(seed_state(1), 200_000, 5)
    frequencies = np.bincount(indices, minlength=5) / 200_000
    assert np.abs(frequencies - 0.2).max() < 0.005
    assert floats.dtype == np.float32 and 0.0 <= floats.min() and floats.max() < 1.0
    assert abs(floats.mean() - 0.5) < 0.005


def test_seed_streams_differ_and_are_reproducible():
    assert seed_state(1) == seed_state(1)
    states = {int(seed_state(seed, stream)) for seed in range(5) for stream in range(5)}
    assert len(states) == 25 and 0 not in states


def test_alias_table_follows_counts_to_the_075():
    counts = np.array([1000, 400, 90, 10, 1, 0, 37, 5000], dtype=np.int64)
    table = unigram_table(counts, 0.75)
    expected = np.where(counts > 0, counts ** 0.75, 0.0)
    expected /= expected.sum()
    np.testing.assert_allclose(table.probabilities, expected)
    # The table represents exactly the distribution: column i keeps threshold/2^32, gives the rest to alias[i].
    represented = table.threshold / 2.0 ** 32
    mass = represented.copy()
    np.add.at(mass, table.alias, 1.0 - represented)
    np.testing.assert_allclose(mass / len(counts), expected, atol=1e-9)
    np.testing.assert_allclose(table_probabilities(table.threshold, table.alias), expected, rtol=0, atol=2.0 ** -32)
    # And draws follow it: a chi-square goodness-of-fit test.
    n = 400_000
    _, draws = _draw_many(seed_state(9), table.threshold, table.alias, n)
    observed = np.bincount(draws, minlength=len(counts))
    assert observed[5] == 0                                     # count 0: never drawn
    positive = expected > 0
    chi2 = (((observed[positive] - n * expected[positive]) ** 2) / (n * expected[positive])).sum()
    assert chi2 < 24.3                                          # 99.9% quantile of chi2 with 6 dof


def test_exponent_zero_is_uniform_and_bad_counts_raise():
    table = unigram_table(np.array([1, 10, 100]), 0.0)
    np.testing.assert_allclose(table.probabilities, 1 / 3)
    with pytest.raises(ValueError, match="positive count"):
        unigram_table(np.array([0, 0]))
    with pytest.raises(ValueError, match=">= 0"):
        unigram_table(np.array([1, -2]))
    with pytest.raises(ValueError, match="non-empty"):
        unigram_table(np.array([]))


def _zipf_counts(n: int, seed: int) -> np.ndarray:
    """Counts falling like 1 / rank with noise, in shuffled order, some of them 0."""
    rng = np.random.default_rng(seed)
    counts = np.floor(1e6 / np.arange(1, n + 1) * rng.uniform(0.5, 1.5, n))
    counts[rng.choice(n, n // 50, replace=False)] = 0
    rng.shuffle(counts)
    return counts


@pytest.mark.parametrize("parts", [2, 3])
def test_partition_table_splits_the_words_into_equal_shares_of_the_mass(parts):
    table = unigram_table(_zipf_counts(3000, parts))
    p = table.probabilities
    tables = partition_table(p, parts, min_words=5)
    supports = [q.probabilities > 0 for q in tables]
    assert (sum(s.astype(int) for s in supports) == (p > 0)).all()     # disjoint, and every drawable word in one
    masses = np.array([p[s].sum() for s in supports])
    assert masses.max() - masses.min() < 1e-4                           # largest p is ~0.02: the rare words even out
    for q, s, mass in zip(tables, supports, masses):
        np.testing.assert_allclose(q.probabilities[s], p[s] / mass, rtol=1e-12)
        np.testing.assert_allclose(table_probabilities(q.threshold, q.alias), q.probabilities, rtol=0, atol=2.0 ** -32)
        _, draws = _draw_many(seed_state(3), q.threshold, q.alias, 20_000)
        assert s[draws].all()                                           # a part's table draws only its words
    # Over parts holding equal shares of the mass, the parts' distributions average to the whole one.
    np.testing.assert_allclose(sum(q.probabilities * mass for q, mass in zip(tables, masses)), p, rtol=1e-12)


def test_partition_table_refuses_parts_with_too_few_words():
    p = unigram_table(np.array([5, 4, 3, 2, 1, 1])).probabilities
    assert partition_table(p, 2, min_words=3) is not None
    assert partition_table(p, 2, min_words=4) is None                   # 6 words cannot give 2 parts 4 each
    skewed = unigram_table(np.array([10 ** 9] + [1] * 20)).probabilities
    assert partition_table(skewed, 2, min_words=2) is None              # one word holds more than half the mass
