"""Mixtures of two language models: fixed weight, fitted weight, weights by context frequency."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lm_reference import make_corpus, random_sentences, reference_examples
from lmkit.lm.examples import build_examples
from lmkit.lm.ngram import KneserNey
from lmkit.lm.perplexity import ContextFrequency, Mixture, perplexity

V = 12


def _corpora(boundaries="sentence"):
    rng = np.random.default_rng(3)
    train_sentences = random_sentences(rng, 120, V - 1)
    train = make_corpus(train_sentences, V)
    valid = make_corpus(random_sentences(rng, 60, V - 1), V)
    valid.vocab = train.vocab
    a = KneserNey(2, boundaries=boundaries).fit(train)
    b = KneserNey(4, boundaries=boundaries).fit(train)
    return train_sentences, train, valid, a, b


def _examples(corpus, context, boundaries="sentence"):
    return build_examples(corpus.ids, corpus.offsets, context=context, pad_id=V, eos_id=corpus.vocab.eos_id,
                          boundaries=boundaries)


@pytest.mark.parametrize("boundaries", ["sentence", "stream"])
def test_context_frequency_matches_counter(boundaries):
    sentences, train, valid, _, _ = _corpora(boundaries)
    seen_unseen, seen_top_class = False, False
    for length in (1, 2, 3):
        freq = ContextFrequency(train, length=length, boundaries=boundaries, n_classes=4)
        counts = Counter(ctx[-length:] for ctx, _ in
                         reference_examples(sentences, length, V, V - 1, boundaries == "stream"))
        contexts, _ = _examples(valid, 4, boundaries)
        expected = np.array([counts.get(tuple(int(w) for w in row[-length:]), 0) for row in contexts])
        np.testing.assert_array_equal(freq.count(contexts), expected)
        classes = np.array([min(int(math.floor(math.log2(1 + c))), 3) for c in expected])
        np.testing.assert_array_equal(freq(contexts), classes)
        seen_unseen |= bool((expected == 0).any())
        seen_top_class |= bool((classes == 3).any())
    assert seen_unseen and seen_top_class  # the test covers both ends


def test_conditional_mixture_probabilities_by_hand_and_sum_to_one():
    _, train, valid, a, b = _corpora()
    freq = ContextFrequency(train, length=2, n_classes=5)
    weights = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    mix = Mixture(a, b, weights, classes=freq)
    assert mix.context_size == 3
    contexts, targets = _examples(valid, 3)
    got = mix.score(contexts, targets)
    w = weights[freq(contexts)]
    expected = np.log(w * np.exp(a.score(contexts, targets)) + (1 - w) * np.exp(b.score(contexts, targets)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    for row in contexts[:20]:  # a proper distribution over the vocabulary for every context
        every = np.repeat(row[None, :], V, axis=0)
        assert math.isclose(np.exp(mix.score(every, np.arange(V, dtype=np.int32))).sum(), 1.0, rel_tol=1e-9)


def test_fitted_class_weights_are_the_validation_optimum():
    _, train, valid, a, b = _corpora()
    single = Mixture.fit_weight(a, b, valid)
    freq = ContextFrequency(train, length=2, n_classes=4)
    per_class = Mixture.fit_weight(a, b, valid, classes=freq, prior_tokens=0.0)
    best = perplexity(per_class, valid).perplexity
    assert best <= perplexity(single, valid).perplexity * (1 + 1e-9)
    assert np.ptp(per_class.weight) > 0.05  # the classes really get different weights here
    for c in range(freq.n_classes):  # no single class weight can be moved to do better
        for step in (-0.03, 0.03):
            moved = per_class.weight.copy()
            moved[c] = min(max(moved[c] + step, 0.0), 1.0)
            assert best <= perplexity(Mixture(a, b, moved, classes=freq), valid).perplexity * (1 + 1e-9)
    # a strong prior pulls every class to the single weight
    pulled = Mixture.fit_weight(a, b, valid, classes=freq, prior_tokens=1e9)
    np.testing.assert_allclose(pulled.weight, single.weight, atol=1e-4)
    assert "by frequency class of the last 2 context words" in per_class.describe_weight()


def test_fit_weight_chooses_among_context_lengths_scoring_validation_once(monkeypatch):
    """Several candidate classes: the kept one has the lowest fitted validation perplexity, each
    candidate's figure equals the perplexity of its own separately fitted mixture, and each model
    scores the validation predictions once (not once per candidate)."""
    _, train, valid, a, b = _corpora()
    candidates = [ContextFrequency(train, length=n, n_classes=4) for n in (1, 2, 3)]
    alone = {c.length: Mixture.fit_weight(a, b, valid, classes=c) for c in candidates}
    for n, mix in alone.items():
        assert mix.validation_perplexities[n] == pytest.approx(perplexity(mix, valid).perplexity, rel=1e-12)
    n_predictions = perplexity(a, valid).n_tokens
    scored = []
    original = KneserNey.score
    monkeypatch.setattr(KneserNey, "score", lambda self, c, t: scored.append(len(t)) or original(self, c, t))
    chosen = Mixture.fit_weight(a, b, valid, classes=candidates)
    assert sum(scored) == 2 * n_predictions  # a and b, once each
    assert chosen.validation_perplexities == pytest.approx({n: m.validation_perplexities[n] for n, m in alone.items()},
                                                           rel=1e-12)
    best = min(alone, key=lambda n: alone[n].validation_perplexities[n])
    assert len(set(chosen.validation_perplexities.values())) == 3  # the candidates really differ
    assert chosen.classes is candidates[best - 1]
    np.testing.assert_array_equal(chosen.weight, alone[best].weight)
    assert Mixture.fit_weight(a, b, valid).validation_perplexities.keys() == {None}
    with pytest.raises(ValueError, match="at least one"):
        Mixture.fit_weight(a, b, valid, classes=[])


def test_bad_weights_and_classes():
    _, train, valid, a, b = _corpora()
    freq = ContextFrequency(train, length=2, n_classes=3)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        Mixture(a, b, 0.5, classes=freq)
    with pytest.raises(ValueError, match=r"shape \(\)"):
        Mixture(a, b, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Mixture(a, b, [0.5, 1.5, 0.5], classes=freq)
    with pytest.raises(ValueError, match="boundaries"):
        Mixture(a, b, [0.5] * 3, classes=ContextFrequency(train, length=2, boundaries="stream", n_classes=3))
    with pytest.raises(ValueError, match="context length must be >= 1"):
        ContextFrequency(train, length=0)
    with pytest.raises(ValueError, match="empty corpus"):
        ContextFrequency(make_corpus([], V, eos=False))
    with pytest.raises(ValueError, match=r"contexts must be \[n, >= 2\]"):
        freq.count(np.zeros((4, 1), dtype=np.int32))
