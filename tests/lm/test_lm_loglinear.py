"""Log-linear mixtures of NPLMs: whole distributions, renormalized products, Newton-fitted weights, the CLI."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from lm_reference import randomize_biases, reference_nplm_logprob, train_valid
from lmkit.cli import main
from lmkit.lm.examples import build_examples
from lmkit.lm.kernels import loglinear_rows
from lmkit.lm.loglinear import LogLinearEnsemble
from lmkit.lm.ngram import KneserNey
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.lm.perplexity import perplexity
from lmkit.threads import blas_threads_inside

SHAPES = [dict(context=2, features=5, hidden=7, activation="tanh"),
          dict(context=3, features=4, hidden=6, activation="relu", direct=True),
          dict(context=1, features=6, hidden=0, direct=True)]


def _random_models(vocab, seed: int = 0) -> list:
    """Three NPLMs of different shapes and contexts, random weights and biases (float32, as trained)."""
    rng = np.random.default_rng(seed)
    models = []
    for shape in SHAPES:
        model = NPLM(NPLMConfig(**shape, threads=1)).build(vocab, rng=rng)
        for array in model.state_arrays().values():
            array[...] = rng.normal(0.0, 0.6, array.shape)
        randomize_biases(model, rng)
        models.append(model)
    return models


def _examples(corpus, context: int):
    return build_examples(corpus.ids, corpus.offsets, context=context, pad_id=len(corpus.vocab),
                          eos_id=corpus.vocab.eos_id, boundaries="sentence")


def test_nplm_logits_are_eq_1_up_to_a_constant_per_row():
    train, valid = train_valid(3)
    model = _random_models(train.vocab)[1]
    contexts, targets = _examples(valid, model.context_size)
    logits = model.logits(contexts)
    assert logits.shape == (len(targets), len(train.vocab)) and logits.dtype == np.float32
    logp = logits - np.log(np.exp(logits.astype(np.float64)).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(logp[np.arange(len(targets)), targets], model.score(contexts, targets), atol=2e-5)
    for row in range(0, len(targets), 11):
        for word in (0, int(targets[row]), len(train.vocab) - 1):
            assert logp[row, word] == pytest.approx(reference_nplm_logprob(model, contexts[row], word), abs=2e-5)
    with blas_threads_inside(2):  # the rows split over two threads: the same logits, written into out
        out = np.full_like(logits, np.nan)
        assert model.logits(contexts, out=out) is out
    np.testing.assert_allclose(out, logits, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"out must be float32\[\d+, 16\]"):
        model.logits(contexts, out=np.empty((len(targets), len(train.vocab))))


def test_log_linear_probability_is_the_renormalized_weighted_product_of_the_members():
    train, valid = train_valid(4)
    models = _random_models(train.vocab, seed=1)
    weights = np.array([0.7, -0.2, 0.9])  # any real weights; one below 0
    mixture = LogLinearEnsemble(models, weights)
    mixture.block_rows = 5  # blocks end inside the batch
    contexts, targets = _examples(valid, mixture.context_size)
    got = mixture.score(contexts, targets)
    words = np.arange(len(train.vocab))
    for row in range(0, len(targets), 3):
        # slow float64 twin: every member's eq. (1) at every word, weighted, renormalized
        product = sum(w * np.array([reference_nplm_logprob(m, contexts[row][-m.context_size:], v) for v in words])
                      for w, m in zip(weights, models))
        expected = product[targets[row]] - math.log(np.exp(product).sum())
        assert got[row] == pytest.approx(expected, abs=5e-5)
    every = np.repeat(contexts[:1], len(words), axis=0)
    # rows in different blocks: the same context's float32 logits may differ in the last bit
    assert np.exp(mixture.score(every, words.astype(np.int32))).sum() == pytest.approx(1.0, rel=1e-7)


def test_the_kernel_matches_numpy_on_wide_rows_and_flags_inf_and_nan():
    """The kernel's own exp (a polynomial) and max (integer keys) against numpy in float64: scores
    spanning -1000..50 (terms below the floor of the exponent), negative weights, odd V."""
    rng = np.random.default_rng(8)
    k, rows, v = 3, 6, 1001
    logits = rng.normal(0.0, 8.0, (k, rows, v)).astype(np.float32)
    logits[:, 1, :500] -= 900.0  # half the row ~1000 below its maximum
    logits[:, 2] = -logits[:, 2]  # the maximum in another column
    logits[1, 4, 77], logits[2, 5, 3] = np.inf, np.nan
    weights, targets = np.array([0.6, -0.3, 0.9]), rng.integers(0, v, rows).astype(np.int32)
    targets[1] = 7  # a target among the far-below terms
    log_probs, means, second = np.empty(rows), np.empty((rows, k)), np.empty((rows, k, k))
    loglinear_rows(logits, weights, targets, True, log_probs, means, second, np.empty(v), np.empty(v, np.int32),
                   0, rows)
    scores = np.tensordot(weights, logits.astype(np.float64), axes=1)
    for row in range(4):
        s = scores[row]
        norm = s.max() + math.log(np.exp(s - s.max()).sum())
        assert log_probs[row] == pytest.approx(s[targets[row]] - norm, rel=1e-13, abs=1e-12)
        p = np.exp(s - norm)
        a = logits[:, row].astype(np.float64)
        np.testing.assert_allclose(means[row], a @ p, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.tril(second[row]), np.tril((a * p) @ a.T), rtol=1e-12, atol=1e-12)
    assert np.isnan(log_probs[4:]).all()


def test_a_mixture_of_one_with_weight_one_is_that_model():
    train, valid = train_valid(5)
    model = _random_models(train.vocab, seed=2)[0]
    alone = perplexity(model, valid).log_prob_sum
    assert perplexity(LogLinearEnsemble([model], [1.0]), valid).log_prob_sum == pytest.approx(alone, rel=1e-6)


def _trained_members(train, valid) -> list:
    config = dict(context=2, features=6, hidden=8, batch_size=16, threads=1, epochs=3, lr=0.01)
    return [NPLM(NPLMConfig(**config, seed=seed)).fit(train, valid, verbose=False) for seed in (1, 2, 3)]


def test_fitted_weights_maximize_the_validation_likelihood_and_the_newton_terms_are_its_derivatives():
    train, valid = train_valid(6, sentences=200)
    models = _trained_members(train, valid)
    fitted = LogLinearEnsemble.fit_weights(models, valid)

    def log_likelihood(weights) -> float:
        return perplexity(LogLinearEnsemble(models, weights), valid).log_prob_sum

    best = log_likelihood(fitted.weights)
    assert fitted.validation_perplexity == pytest.approx(perplexity(fitted, valid).perplexity, rel=1e-9)
    assert LogLinearEnsemble(models).validation_perplexity is None  # not fitted: nothing scored
    for k in range(3):
        for delta in (-0.05, 0.05):
            moved = fitted.weights.copy()
            moved[k] += delta
            assert log_likelihood(moved) < best
    assert best > log_likelihood(np.full(3, 1 / 3))  # better than the plain geometric mean
    # gradient and Hessian of likelihood_terms against central differences, away from the optimum
    at = np.array([0.5, 0.1, 0.6])
    total, grad, hess, n = LogLinearEnsemble(models, at).likelihood_terms(valid)
    assert n == len(_examples(valid, 2)[1]) and total == pytest.approx(log_likelihood(at), rel=1e-9)
    h = 1e-4
    for k in range(3):
        step = np.eye(3)[k] * h
        assert grad[k] == pytest.approx((log_likelihood(at + step) - log_likelihood(at - step)) / (2 * h), rel=1e-5)
        plus = LogLinearEnsemble(models, at + step).likelihood_terms(valid)[1]
        minus = LogLinearEnsemble(models, at - step).likelihood_terms(valid)[1]
        np.testing.assert_allclose(hess[:, k], (plus - minus) / (2 * h), rtol=1e-4)
    assert np.all(np.linalg.eigvalsh(hess) < 0)  # concave: the optimum Newton finds is the global one


def test_members_and_weights_are_checked():
    train, valid = train_valid(7)
    models = _random_models(train.vocab)
    with pytest.raises(ValueError, match="model 2 .*one probability per word.*only nplm"):
        LogLinearEnsemble([models[0], KneserNey(2).fit(train)])
    with pytest.raises(ValueError, match="3 finite numbers, one per model"):
        LogLinearEnsemble(models, [0.5, 0.5])
    with pytest.raises(ValueError, match="finite numbers"):
        LogLinearEnsemble(models, [0.5, np.nan, 0.5])
    models[1].b[3] = np.inf
    with pytest.raises(ValueError, match="non-finite logit"):
        LogLinearEnsemble.fit_weights(models, valid)
    with pytest.raises(ValueError, match="non-finite log-probability"):
        perplexity(LogLinearEnsemble(models), valid)


def test_cli_mixes_nplms_log_linearly_and_refuses_an_ngram(lm_texts, capsys):
    train, valid = str(lm_texts / "train.txt"), str(lm_texts / "valid.txt")
    assert main(["train", "nplm", "--input", train, "--valid", valid, "--output", str(lm_texts / "nplm.lmkit"),
                 "--context", "2", "--features", "4", "--hidden", "6", "--epochs", "2", "--threads", "1",
                 "--ensemble", "2", "--quiet"]) == 0
    members = [str(lm_texts / "nplm-1.lmkit"), str(lm_texts / "nplm-2.lmkit")]
    capsys.readouterr()
    assert main(["perplexity", *members, "--input", valid, "--fit-weights", valid, "--log-linear", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "log-linear mixture of 2 models, weights fitted on" in out
    weights = [float(w) for w in re.findall(r"weight (-?[\d.]+), perplexity", out)]
    mixed = float(re.search(r"log-linear mixture: perplexity ([\d.]+)", out).group(1))
    alone = [float(p) for p in re.findall(r"perplexity ([\d.]+)\n", out)]
    assert len(weights) == 2 and len(alone) == 2
    assert mixed <= min(alone) + 1e-2  # fitted on the same text: never worse than a member alone
    assert main(["train", "ngram", "--input", train, "--order", "2", "--output", str(lm_texts / "kn.lmkit"),
                 "--quiet"]) == 0
    assert main(["perplexity", members[0], str(lm_texts / "kn.lmkit"), "--input", valid, "--log-linear",
                 "--quiet"]) == 2
    assert re.search(r"--log-linear: .*kn\.lmkit is a kneser_ney model", capsys.readouterr().err)
