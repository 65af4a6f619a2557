"""Kneser-Ney and example building against the dictionary references."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lm_reference import ReferenceKN, make_corpus, random_sentences, reference_examples
from lmkit.lm.examples import build_examples, sentence_batches
from lmkit.lm.ngram import KneserNey
from lmkit.lm.perplexity import perplexity


@pytest.mark.parametrize("boundaries", ["sentence", "stream"])
@pytest.mark.parametrize("eos", [True, False])
def test_examples_match_reference(boundaries, eos):
    rng = np.random.default_rng(0)
    sentences = random_sentences(rng, 30, 9)
    corpus = make_corpus(sentences, 10 if eos else 9, eos=eos)
    v = len(corpus.vocab)
    expected = reference_examples(sentences, 3, v, corpus.vocab.eos_id, boundaries == "stream")
    contexts, targets = build_examples(corpus.ids, corpus.offsets, context=3, pad_id=v,
                                       eos_id=corpus.vocab.eos_id, boundaries=boundaries)
    assert [(tuple(c), t) for c, t in zip(contexts.tolist(), targets.tolist())] == expected
    # built in sentence ranges, the same examples
    parts = [build_examples(corpus.ids, corpus.offsets, context=3, pad_id=v, eos_id=corpus.vocab.eos_id,
                            boundaries=boundaries, s_begin=a, s_end=b)
             for a, b in sentence_batches(corpus.offsets, corpus.vocab.eos_id, 7)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), contexts)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), targets)


def test_bad_context_and_boundaries():
    corpus = make_corpus([[1, 2]], 5)
    with pytest.raises(ValueError, match="context"):
        build_examples(corpus.ids, corpus.offsets, context=0, pad_id=5, eos_id=4)
    with pytest.raises(ValueError, match="boundaries"):
        KneserNey(3, boundaries="paragraph")
    with pytest.raises(ValueError, match="order"):
        KneserNey(6)


def _fitted(order, boundaries, seed=1, eos=True):
    rng = np.random.default_rng(seed)
    # a skewed distribution so that counts 1, 2, 3, 4 all occur
    sentences = [list(rng.zipf(1.4, rng.integers(1, 9)) % 29) for _ in range(150)]
    corpus = make_corpus(sentences, 30, eos=eos)
    return sentences, corpus, KneserNey(order, boundaries=boundaries).fit(corpus)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
@pytest.mark.parametrize("boundaries", ["sentence", "stream"])
def test_kn_matches_reference_and_sums_to_one(order, boundaries):
    sentences, corpus, model = _fitted(order, boundaries)
    v = len(corpus.vocab)
    examples = reference_examples(sentences, order - 1, v, corpus.vocab.eos_id, boundaries == "stream")
    reference = ReferenceKN(examples, order, v)
    rng = np.random.default_rng(2)
    # seen contexts, unseen contexts, padded contexts, out-of-training words
    contexts = [ctx for ctx, _ in examples[:30]]
    contexts += [tuple(rng.integers(0, v + 1, order - 1)) for _ in range(30)]
    contexts += [(v,) * (order - 1)]
    for ctx in contexts:
        batch = np.array([ctx] * v, dtype=np.int32)
        logp = model.score(batch, np.arange(v, dtype=np.int32))
        assert math.isclose(np.exp(logp).sum(), 1.0, rel_tol=1e-12), ctx
        expected = [reference.prob(ctx, w) for w in range(v)]
        np.testing.assert_allclose(np.exp(logp), expected, rtol=1e-12)


def test_kn_perplexity_matches_reference_and_logprob_api():
    sentences, corpus, model = _fitted(3, "sentence", seed=3)
    test_sentences = random_sentences(np.random.default_rng(4), 20, 29)
    test = make_corpus(test_sentences, 30)
    v = len(test.vocab)
    examples = reference_examples(test_sentences, 2, v, test.vocab.eos_id, False)
    train_examples = reference_examples(sentences, 2, v, corpus.vocab.eos_id, False)
    reference = ReferenceKN(train_examples, 3, v)
    expected = math.exp(-sum(math.log(reference.prob(c, w)) for c, w in examples) / len(examples))
    result = perplexity(model, test, batch_size=5)
    assert result.n_tokens == len(examples)
    assert result.n_eos == len(test_sentences)
    assert math.isclose(result.perplexity, expected, rel_tol=1e-9)
    # token API: a short context is padded; strings and ids agree
    assert math.isclose(model.logprob(["w1"], "w2"), math.log(reference.prob((v, 1), 2)), rel_tol=1e-12)
    assert model.logprob([1], 2) == model.logprob(["w1"], "w2")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.logprob(["w1"], "zebra")


def test_kn_save_load_same_perplexity(tmp_path):
    _, corpus, model = _fitted(4, "stream", seed=5)
    path = model.save(tmp_path / "kn.lmkit")
    loaded = KneserNey.load(path)
    assert loaded.order == 4 and loaded.boundaries == "stream" and loaded.vocab == model.vocab
    assert perplexity(loaded, corpus).perplexity == perplexity(model, corpus).perplexity
    with pytest.raises(ValueError, match="expected 'kneser_ney'"):
        from lmkit.io import save_model

        save_model(tmp_path / "other.lmkit", "word2vec", {}, {})
        KneserNey.load(tmp_path / "other.lmkit")
    truncated = tmp_path / "truncated.lmkit"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        KneserNey.load(truncated)


def test_kn_empty_inputs():
    corpus = make_corpus([[1, 2, 3]], 6)
    model = KneserNey(2).fit(corpus)
    with pytest.raises(ValueError, match="no token to predict"):
        perplexity(model, make_corpus([], 6))
    with pytest.raises(ValueError, match="empty corpus"):
        KneserNey(2).fit(make_corpus([], 6, eos=False))
    with pytest.raises(ValueError, match="not fitted"):
        KneserNey(2).logprob([1], 2)
