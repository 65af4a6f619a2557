"""The sampled-softmax training objective: the sampler's inclusion probabilities, the loss and its
gradients (finite differences, float32 against float64, the full candidate set against the exact
softmax), and training with sampled epochs."""
from __future__ import annotations

import numpy as np
import pytest

from lm_reference import make_corpus, random_sentences
from lmkit.lm.examples import build_examples
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.lm.perplexity import perplexity
from lmkit.lm.sampled import CandidateSampler
from lmkit.nn.gradcheck import check_gradient


def _model_and_batch(dtype, hidden=5, direct=True, n=14, vocab=40):
    rng = np.random.default_rng(3)
    corpus = make_corpus(random_sentences(rng, 30, 9), vocab)
    config = NPLMConfig(context=3, features=4, hidden=hidden, direct=direct)
    model = NPLM(config).build(corpus.vocab, rng=np.random.default_rng(1), dtype=dtype)
    for seed, (_, array) in enumerate(sorted(model.state_arrays().items())):
        array[...] = np.random.default_rng(seed).normal(0, 0.5, array.shape)
    contexts, targets = build_examples(corpus.ids, corpus.offsets, context=3, pad_id=len(corpus.vocab),
                                       eos_id=corpus.vocab.eos_id, boundaries="sentence")
    pick = np.random.default_rng(4).permutation(len(targets))[:n]
    return model, np.ascontiguousarray(contexts[pick]), np.ascontiguousarray(targets[pick])


def _candidates(targets, v, extra, seed=5):
    """Sorted unique ids: the targets plus ``extra`` random words; positions; a nonzero correction."""
    rng = np.random.default_rng(seed)
    candidates, inverse = np.unique(np.concatenate([targets, rng.integers(0, v, extra)]), return_inverse=True)
    correction = rng.uniform(-3.0, 0.0, len(candidates))
    return candidates, inverse[:len(targets)].astype(np.int32), correction


def _reference_loss(model, contexts, targets, candidates, correction):
    """Mean -log softmax over the candidates (logits minus the correction) at the target: plain numpy."""
    x = model.C[contexts].reshape(len(contexts), -1)
    z = np.tanh(x @ model.H.T + model.d)
    if model.config.direct:
        z = np.concatenate([z, x], axis=1)
    logits = z @ model.O[candidates].T + model.b[candidates] - correction
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    where = np.searchsorted(candidates, targets)
    return -logp[np.arange(len(targets)), where].mean()


@pytest.mark.parametrize("hidden,direct", [(5, True), (5, False), (0, True)])
def test_sampled_loss_and_gradient_check(hidden, direct):
    model, contexts, targets = _model_and_batch(np.float64, hidden, direct)
    candidates, positions, correction = _candidates(targets, len(model.vocab), 10)
    assert len(candidates) < len(model.vocab)
    sample = (candidates, positions, correction)
    loss = model.forward_backward_sampled(contexts, *sample)
    assert loss == pytest.approx(_reference_loss(model, contexts, targets, candidates, correction), rel=1e-10)
    analytic = {name: g.copy() for name, g in model.grads.items()}
    outside = np.setdiff1d(np.arange(len(model.vocab)), candidates)
    assert not analytic["O"][outside].any() and not analytic["b"][outside].any()
    dense_c = np.zeros_like(model.C)
    np.add.at(dense_c, model.c_rows, model.c_grad_rows)

    def loss_fn():
        return model.forward_backward_sampled(contexts, *sample)

    for name, param in model.dense_params().items():
        check_gradient(loss_fn, param, analytic[name], eps=1e-6, tol=1e-5, floor=1e-4)
    check_gradient(loss_fn, model.C, dense_c, eps=1e-6, tol=1e-5, floor=1e-4)


def test_all_words_without_correction_is_the_exact_softmax():
    model, contexts, targets = _model_and_batch(np.float64)
    everything = np.arange(len(model.vocab))
    sampled = model.forward_backward_sampled(contexts, everything, targets.astype(np.int32),
                                             np.zeros(len(everything)))
    sampled_grads = {name: g.copy() for name, g in model.grads.items()}
    sampled_c = model.c_grad_rows.copy()
    assert sampled == pytest.approx(model.forward_backward(contexts, targets), rel=1e-12)
    for name, grad in model.grads.items():
        np.testing.assert_allclose(sampled_grads[name], grad, rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(sampled_c, model.c_grad_rows, rtol=1e-10, atol=1e-14)


def test_float32_matches_float64_and_clears_the_previous_rows():
    fast, contexts, targets = _model_and_batch(np.float32, n=30, vocab=300)
    slow, _, _ = _model_and_batch(np.float64, n=30, vocab=300)
    for seed in (5, 6):  # two batches in a row: rows of the first set must not linger in the second's gradient
        sample = _candidates(targets, len(fast.vocab), 60, seed)
        loss = fast.forward_backward_sampled(contexts, sample[0], sample[1], sample[2].astype(np.float32))
        assert loss == pytest.approx(slow.forward_backward_sampled(contexts, *sample), rel=1e-5)
        for name, grad in slow.grads.items():
            np.testing.assert_allclose(fast.grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(fast.c_grad_rows, slow.c_grad_rows, rtol=1e-4, atol=1e-6)


def test_sampler_inclusion_probability_and_candidates():
    counts = np.array([50, 20, 10, 5, 3, 1, 1, 0, 10])
    batch, draws = 4, 6
    sampler = CandidateSampler(counts, batch, draws)
    rng = np.random.default_rng(0)
    unigram = counts / counts.sum()
    seen = np.zeros(len(counts))
    trials = 20000
    for _ in range(trials):
        targets = rng.choice(len(counts), size=batch, p=unigram).astype(np.int32)
        candidates, positions, correction = sampler.draw(targets, rng)
        assert np.all(np.diff(candidates) > 0)
        np.testing.assert_array_equal(candidates[positions], targets)
        seen[candidates] += 1
    expected = np.exp(sampler.log_inclusion.astype(np.float64))
    # the set is B draws from the unigram distribution and S from its 0.75 power: P(in) by its formula
    np.testing.assert_allclose(seen / trials, expected, atol=4 * np.sqrt(0.25 / trials))
    q = counts ** 0.75 / (counts ** 0.75).sum()
    assert expected[5] == pytest.approx(1 - (1 - unigram[5]) ** batch * (1 - q[5]) ** draws, rel=1e-6)
    assert seen[7] == 0 and sampler.log_inclusion[7] == -np.inf  # never a target: never a candidate
    np.testing.assert_array_equal(correction, sampler.log_inclusion[candidates])
    with pytest.raises(ValueError, match="draws"):
        CandidateSampler(counts, 4, 0)
    with pytest.raises(ValueError, match="positive total"):
        CandidateSampler(np.zeros(3), 4, 2)


def test_training_with_sampled_epochs_then_exact():
    rng = np.random.default_rng(2)
    train = make_corpus(random_sentences(rng, 120, 15), 60)
    valid = make_corpus(random_sentences(rng, 20, 15), 60)
    valid.vocab = train.vocab
    config = NPLMConfig(context=3, features=8, hidden=16, batch_size=16, threads=1, lr=0.01, epochs=3,
                        patience=10, sampled_epochs=2, sampled_words=12)
    untrained = NPLM(config).build(train.vocab, rng=np.random.default_rng(1))
    model = NPLM(config).fit(train, valid, verbose=False)
    assert [r["objective"] for r in model.history] == ["sampled softmax"] * 2 + ["exact softmax"]
    assert model.history[1]["valid_ppl"] < 0.8 * perplexity(untrained, valid).perplexity
    assert model.history[2]["valid_ppl"] < model.history[1]["valid_ppl"]
    with pytest.raises(ValueError, match="sampled_words"):
        NPLMConfig(sampled_epochs=2, sampled_words=0).validate()
    with pytest.raises(ValueError, match="sampled_epochs"):
        NPLMConfig(sampled_epochs=-1).validate()


def test_a_stalled_sampled_phase_hands_over_to_the_exact_softmax(monkeypatch):
    """Patience 0: one worse sampled epoch ends the sampled phase, not the training; the exact
    phase then has its own patience (scripted validation perplexities)."""
    rng = np.random.default_rng(2)
    train = make_corpus(random_sentences(rng, 40, 15), 30)
    scripted = iter([50.0, 60.0, 45.0, 40.0, 41.0])

    class Result:
        def __init__(self):
            self.perplexity = next(scripted)

    monkeypatch.setattr("lmkit.lm.perplexity.perplexity", lambda model, corpus, **kw: Result())
    config = NPLMConfig(context=3, features=8, hidden=16, batch_size=16, threads=1, epochs=8, patience=0,
                        sampled_epochs=6, sampled_words=8)
    model = NPLM(config).fit(train, train, verbose=False)
    assert [r["objective"] for r in model.history] == ["sampled softmax"] * 2 + ["exact softmax"] * 3
    assert [r["valid_ppl"] for r in model.history] == [50.0, 60.0, 45.0, 40.0, 41.0]
