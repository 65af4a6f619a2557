"""NPLM forward/backward: full-model gradient check, kernels vs numpy twins, exact perplexity."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lm_reference import (make_corpus, random_sentences, randomize_biases, reference_examples,
                          reference_nplm_logprob)
from lmkit.lm.examples import build_examples
from lmkit.lm.kernels import gather_features, logsumexp_tile, softmax_rows
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.lm.perplexity import perplexity
from lmkit.nn.gradcheck import check_gradient
from lmkit.threads import even_bounds


def _batch(corpus, context, n=12, seed=0):
    v = len(corpus.vocab)
    contexts, targets = build_examples(corpus.ids, corpus.offsets, context=context, pad_id=v,
                                       eos_id=corpus.vocab.eos_id, boundaries="sentence")
    pick = np.random.default_rng(seed).permutation(len(targets))[:n]
    return np.ascontiguousarray(contexts[pick]), np.ascontiguousarray(targets[pick])


@pytest.mark.parametrize("hidden,direct,activation,batch_norm", [
    (5, True, "tanh", False),
    (5, False, "tanh", False),
    (0, True, "tanh", False),
    (4, True, "prelu", False),
    (4, False, "elu", True),
    (4, True, "maxout", False),
    (3, False, "maxout", True),
])
def test_full_model_gradient_check(hidden, direct, activation, batch_norm):
    rng = np.random.default_rng(0)
    corpus = make_corpus(random_sentences(rng, 20, 7), 8)
    config = NPLMConfig(context=3, features=4, hidden=hidden, direct=direct, activation=activation,
                        batch_norm=batch_norm)
    model = NPLM(config).build(corpus.vocab, rng=np.random.default_rng(1), dtype=np.float64)
    model.O[...] = np.random.default_rng(2).normal(0, 0.5, model.O.shape)  # away from the init's symmetry
    contexts, targets = _batch(corpus, 3)
    model.forward_backward(contexts, targets)
    analytic = {name: g.copy() for name, g in model.grads.items()}
    dense_c = np.zeros_like(model.C)
    np.add.at(dense_c, model.c_rows, model.c_grad_rows)

    def loss():
        return model.forward_backward(contexts, targets)

    params = model.dense_params()
    assert set(params) == set(analytic)
    for name, param in params.items():
        check_gradient(loss, param, analytic[name], eps=1e-6, tol=1e-5, floor=1e-4)
    check_gradient(loss, model.C, dense_c, eps=1e-6, tol=1e-5, floor=1e-4)
    assert np.abs(dense_c[len(corpus.vocab)]).sum() > 0  # the padding row is learned too


def test_gather_kernel_matches_numpy():
    rng = np.random.default_rng(3)
    table = rng.standard_normal((11, 5)).astype(np.float32)
    contexts = rng.integers(0, 11, (9, 3)).astype(np.int32)
    x = np.empty((9, 15), np.float32)
    gather_features(table, contexts, x)
    np.testing.assert_array_equal(x, table[contexts].reshape(9, 15))


def _softmax_in_parts(logits, bias, targets, scale, write_grad, losses, parts):
    """softmax_rows over the batch split into ``parts`` row ranges, as the output layer's threads do."""
    bounds = even_bounds(len(targets), parts)
    for part in range(parts):
        softmax_rows(logits, bias, targets, scale, write_grad, losses, bounds[part], bounds[part + 1])


@pytest.mark.parametrize("parts", [1, 3])
def test_softmax_kernel_matches_numpy(parts):
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((7, 301)) * 8).astype(np.float32)
    logits[2, 5] = 60.0  # a dominant logit: exp underflow elsewhere
    logits[5] -= 200.0  # every logit negative: the row maximum is the negative float nearest zero
    logits[6] += 100.0  # every logit positive and large
    logits[0, -1] = 40.0  # the maximum in the last column
    targets = rng.integers(0, 301, 7).astype(np.int32)
    bias = rng.standard_normal(301).astype(np.float32)
    x = logits.astype(np.float64) + bias
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    expected_loss = lse - x[np.arange(7), targets]
    expected_grad = np.exp(x - lse[:, None])
    expected_grad[np.arange(7), targets] -= 1
    expected_grad *= 0.25
    buf, losses = logits.copy(), np.empty(7)
    _softmax_in_parts(buf, bias, targets, np.float32(0.25), True, losses, parts)
    np.testing.assert_allclose(losses, expected_loss, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(buf, expected_grad, rtol=1e-5, atol=1e-7)
    buf, losses2 = logits.copy(), np.empty(7)
    _softmax_in_parts(buf, bias, targets, np.float32(1.0), False, losses2, parts)
    np.testing.assert_array_equal(losses2, losses)
    bad = logits.copy()
    bad[1, 3], bad[4, 0], bad[6, -1] = np.nan, np.inf, -np.inf
    _softmax_in_parts(bad, bias, targets, np.float32(1.0), True, losses, parts)
    assert np.isnan(losses[[1, 4, 6]]).all() and np.isfinite(np.delete(losses, [1, 4, 6])).all()


@pytest.mark.parametrize("width", [1, 4, 301])
def test_logsumexp_tiles_match_numpy(width):
    """Column tiles folded one after another give each row's log-softmax at its target, whatever the tile
    width; a row holding NaN or inf gets NaN, the others are untouched by it."""
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((6, 301)) * 8).astype(np.float32)
    logits[1, 200] = 70.0   # the maximum in a late tile: the sums before it must be rescaled
    logits[2] -= 150.0      # every logit far below zero
    logits[3, 0] = 50.0     # the maximum in the first tile
    bias = rng.standard_normal(301).astype(np.float32)
    targets = np.array([0, 200, 17, 300, 150, 42], np.int32)
    x = logits.astype(np.float64) + bias
    top = x.max(1, keepdims=True)
    expected = x[np.arange(6), targets] - (np.log(np.exp(x - top).sum(1)) + top[:, 0])
    logits[4, 10] = np.nan
    logits[5, 299] = -np.inf
    running_max, running_sum, target_logit = np.full(6, -np.inf), np.zeros(6), np.zeros(6)
    for first in range(0, 301, width):
        for rows in (slice(0, 2), slice(2, 6)):   # two threads' rows, as NPLM._score_rows splits them
            tile = np.ascontiguousarray(logits[rows, first:first + width])
            logsumexp_tile(tile, bias[first:first + width], targets, first, rows.start, running_max, running_sum,
                           target_logit)
    got = target_logit[:4] - running_max[:4] - np.log(running_sum[:4])
    np.testing.assert_allclose(got, expected[:4], rtol=1e-6, atol=1e-6)
    assert (running_sum[4:] == -1.0).all()   # the flag of a row that held NaN or inf


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")  # inf x 0
def test_score_is_nan_only_where_the_logits_are(monkeypatch):
    """A prediction whose logits hold inf or NaN scores NaN; the others, in the same tiles, keep their
    scores bit for bit (three threads, tiles of 8 words)."""
    monkeypatch.setattr("lmkit.lm.nplm.blas_threads", lambda: 3)
    monkeypatch.setattr("lmkit.lm.nplm.SCORE_TILE_FLOATS", 1)
    rng = np.random.default_rng(9)
    corpus = make_corpus(random_sentences(rng, 40, 20), 22)
    model = NPLM(NPLMConfig(context=2, features=4, hidden=0, direct=True)).build(
        corpus.vocab, rng=np.random.default_rng(3))
    contexts, targets = _batch(corpus, 2, n=60)
    clean = model.score(contexts, targets)
    bad_word = contexts[0, -1]
    model.C[bad_word] = np.inf       # the direct connections carry it into every logit of those rows
    got = model.score(contexts, targets)
    hit = (contexts == bad_word).any(axis=1)
    assert hit.any() and not hit.all()
    assert np.isnan(got[hit]).all() and np.isfinite(clean).all()
    np.testing.assert_array_equal(got[~hit], clean[~hit])


@pytest.mark.parametrize("hidden,direct", [(6, True), (6, False), (0, True)])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
# serial: one thread; threaded: three row-split threads; tiled: those threads scoring in column tiles of 8 words
# (V = 22: three tiles); float64: the numpy path
@pytest.mark.parametrize("path", ["serial", "threaded", "tiled", "float64"])
def test_perplexity_matches_slow_numpy(hidden, direct, activation, path, monkeypatch):
    monkeypatch.setattr("lmkit.lm.nplm.blas_threads", lambda: 3 if path in ("threaded", "tiled") else 0)
    if path == "tiled":
        monkeypatch.setattr("lmkit.lm.nplm.SCORE_TILE_FLOATS", 1)
    rng = np.random.default_rng(5)
    sentences = random_sentences(rng, 60, 20)
    corpus = make_corpus(sentences, 22, unk=True)
    dtype = np.float64 if path == "float64" else np.float32
    model = NPLM(NPLMConfig(context=2, features=5, hidden=hidden, direct=direct, activation=activation)).build(
        corpus.vocab, rng=np.random.default_rng(7), dtype=dtype)
    randomize_biases(model, rng)
    v = len(corpus.vocab)
    examples = reference_examples(sentences, 2, v, corpus.vocab.eos_id, False)
    expected = np.array([reference_nplm_logprob(model, c, w) for c, w in examples])
    contexts, targets = build_examples(corpus.ids, corpus.offsets, context=2, pad_id=v,
                                       eos_id=corpus.vocab.eos_id, boundaries="sentence")
    # every prediction, not only their mean: an error in one token's score cannot hide in the sum
    np.testing.assert_allclose(model.score(contexts, targets), expected, rtol=0,
                               atol=1e-10 if dtype == np.float64 else 2e-5)
    result = perplexity(model, corpus, batch_size=37)
    assert result.n_tokens == len(examples) and result.n_eos == 60
    assert result.n_unk == sum(1 for _, w in examples if w == corpus.vocab.unk_id)
    assert math.isclose(result.perplexity, math.exp(-expected.mean()), rel_tol=1e-6)


def test_zero_output_weights_give_perplexity_v():
    rng = np.random.default_rng(6)
    corpus = make_corpus(random_sentences(rng, 30, 12), 13)
    model = NPLM(NPLMConfig(context=3, features=4, hidden=5)).build(corpus.vocab)
    model.O[...] = 0.0
    model.b[...] = 0.0
    assert perplexity(model, corpus).perplexity == pytest.approx(len(corpus.vocab), rel=1e-6)


def test_blas_thread_control_round_trips():
    from lmkit.threads import blas_threads, set_blas_threads, single_threaded_blas

    before = blas_threads()
    assert before >= 1, "numpy's OpenBLAS was not found"
    try:
        set_blas_threads(2)
        assert blas_threads() == 2
        with single_threaded_blas():
            assert blas_threads() == 1
        assert blas_threads() == 2
    finally:
        set_blas_threads(before)


@pytest.mark.parametrize("n,parts", [(0, 1), (5, 1), (7, 3), (17905, 2), (3, 4)])
def test_even_bounds_split_a_range_into_contiguous_parts_of_near_equal_size(n, parts):
    bounds = even_bounds(n, parts)
    assert len(bounds) == parts + 1 and bounds[0] == 0 and bounds[-1] == n
    sizes = np.diff(bounds)
    assert np.all(sizes >= 0) and sizes.max() - sizes.min() <= 1


@pytest.mark.parametrize("threads", [0, 1, 3])  # 0/1: BLAS + numba's parallel softmax; 3: row-split threads
@pytest.mark.parametrize("hidden,direct", [(6, True), (6, False), (0, True)])
def test_float32_training_step_matches_float64(hidden, direct, threads, monkeypatch):
    """The float32 kernels' loss and gradients (serial or split over threads) against the float64
    numpy path, which the gradient check above verifies, on the same weights and batch."""
    monkeypatch.setattr("lmkit.lm.nplm.blas_threads", lambda: threads)
    rng = np.random.default_rng(7)
    corpus = make_corpus(random_sentences(rng, 40, 15), 301)
    config = NPLMConfig(context=3, features=5, hidden=hidden, direct=direct)
    fast = NPLM(config).build(corpus.vocab, rng=np.random.default_rng(1))
    slow = NPLM(config).build(corpus.vocab, rng=np.random.default_rng(1), dtype=np.float64)
    for name, array in fast.state_arrays().items():
        array[...] = np.random.default_rng(8).normal(0, 0.5, array.shape)
        slow.state_arrays()[name][...] = array
    contexts, targets = _batch(corpus, 3, n=29)
    loss = fast.forward_backward(contexts, targets)
    assert loss == pytest.approx(slow.forward_backward(contexts, targets), rel=1e-5)
    assert set(fast.grads) == set(slow.grads)
    for name, grad in slow.grads.items():
        np.testing.assert_allclose(fast.grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(fast.c_rows, slow.c_rows)
    np.testing.assert_allclose(fast.c_grad_rows, slow.c_grad_rows, rtol=1e-4, atol=1e-6)
