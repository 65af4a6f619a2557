"""Linear mixtures of K language models: weights by EM, per-token probabilities, the CLI."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from lm_reference import make_corpus, random_sentences
from lmkit.cli import main
from lmkit.lm.ensemble import Ensemble, em_weights, member_perplexities, mix_log
from lmkit.lm.examples import build_examples
from lmkit.lm.ngram import KneserNey
from lmkit.lm.perplexity import Mixture, perplexity

V = 12


def _models():
    rng = np.random.default_rng(5)
    train = make_corpus(random_sentences(rng, 150, V - 1), V)
    valid = make_corpus(random_sentences(rng, 60, V - 1), V)
    valid.vocab = train.vocab
    models = [KneserNey(order, boundaries="sentence").fit(train) for order in (2, 3, 5)]
    return train, valid, models


def _log_likelihood(models, weights, corpus) -> float:
    return perplexity(Ensemble(models, weights), corpus).log_prob_sum


def test_fitted_weights_sum_to_one_and_beat_every_grid_point():
    _, valid, models = _models()
    fitted = Ensemble.fit_weights(models, valid)
    assert math.isclose(fitted.weights.sum(), 1.0, rel_tol=1e-12) and np.all(fitted.weights >= 0)
    best = _log_likelihood(models, fitted.weights, valid)
    assert fitted.validation_perplexity == pytest.approx(perplexity(fitted, valid).perplexity, rel=1e-9)
    assert Ensemble(models).validation_perplexity is None
    step = 0.05
    grid_best = -math.inf
    for a, b in itertools.product(np.arange(0, 1 + 1e-9, step), repeat=2):
        if a + b <= 1 + 1e-9:
            w = np.array([a, b, max(0.0, 1 - a - b)])
            grid_best = max(grid_best, _log_likelihood(models, w / w.sum(), valid))
    assert best >= grid_best - 1e-9
    # and no nearby point on the simplex does better
    for i, j in itertools.permutations(range(3), 2):
        moved = fitted.weights.copy()
        shift = min(1e-3, moved[i])
        moved[i] -= shift
        moved[j] += shift
        assert _log_likelihood(models, moved, valid) <= best + 1e-6  # EM's last steps towards a bound gain ~1e-8 nats in all


def test_em_finds_a_weight_on_the_bound():
    rng = np.random.default_rng(0)
    good = np.log(rng.uniform(0.5, 0.9, 500))
    bad = good - 3.0  # always worse: its weight belongs at 0
    weights, _ = em_weights(np.stack([bad, good]))
    assert weights[0] < 1e-3 and math.isclose(weights.sum(), 1.0)


def test_mixture_probability_is_the_weighted_sum_of_the_members():
    _, valid, models = _models()
    weights = np.array([0.2, 0.3, 0.5])
    ensemble = Ensemble(models, weights)
    contexts, targets = build_examples(valid.ids, valid.offsets, context=ensemble.context_size, pad_id=V,
                                       eos_id=valid.vocab.eos_id, boundaries="sentence")
    got = np.exp(ensemble.score(contexts, targets))
    for row in range(0, len(targets), 7):
        slow = sum(w * math.exp(float(m.score(contexts[row:row + 1], targets[row:row + 1])[0]))
                   for w, m in zip(weights, models))
        assert math.isclose(got[row], slow, rel_tol=1e-12)
    every = np.repeat(contexts[:1], V, axis=0)
    assert math.isclose(np.exp(ensemble.score(every, np.arange(V, dtype=np.int32))).sum(), 1.0, rel_tol=1e-9)


def test_an_ensemble_of_one_is_that_model_and_of_two_is_the_mixture():
    _, valid, models = _models()
    alone = perplexity(models[2], valid)
    assert perplexity(Ensemble(models[2:]), valid).log_prob_sum == pytest.approx(alone.log_prob_sum, rel=1e-12)
    assert Ensemble.fit_weights(models[2:], valid).weights.tolist() == [1.0]
    two = Ensemble.fit_weights(models[1:], valid)
    mixture = Mixture.fit_weight(models[1], models[2], valid)
    assert two.weights[0] == pytest.approx(mixture.weight, abs=1e-4)
    assert member_perplexities(Ensemble(models), valid)[2] == pytest.approx(alone.perplexity, rel=1e-12)


def test_weights_and_members_are_checked():
    train, _, models = _models()
    with pytest.raises(ValueError, match="sum to 1"):
        Ensemble(models, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="one per model"):
        Ensemble(models, [0.5, 0.5])
    with pytest.raises(ValueError, match="finite numbers"):
        Ensemble(models, [0.5, np.nan, 0.5])
    other = KneserNey(2, boundaries="stream").fit(train)
    with pytest.raises(ValueError, match="model 2 .*boundaries"):
        Ensemble([models[0], other])
    assert np.isneginf(mix_log(np.array([[-np.inf], [-np.inf]]), np.array([0.5, 0.5]))).all()


def test_cli_mixes_several_models_and_trains_an_ensemble(lm_texts, capsys):
    train, valid = str(lm_texts / "train.txt"), str(lm_texts / "valid.txt")
    paths = []
    for order in (2, 3, 4):
        paths.append(str(lm_texts / f"kn{order}.lmkit"))
        assert main(["train", "ngram", "--input", train, "--order", str(order), "--output", paths[-1],
                     "--quiet"]) == 0
    capsys.readouterr()
    assert main(["perplexity", *paths, "--input", valid, "--fit-weights", valid, "--quiet"]) == 0
    out = capsys.readouterr().out
    weights = [float(w) for w in re.findall(r"weight ([\d.]+), perplexity", out)]
    assert len(weights) == 3 and math.isclose(sum(weights), 1.0, abs_tol=2e-4)
    mixed = float(re.search(r"mixture: perplexity ([\d.]+)", out).group(1))
    members = [float(p) for p in re.findall(r"perplexity ([\d.]+)\n", out)]
    assert mixed <= min(members) + 1e-2  # fitted on the same text: never worse than a member alone
    assert main(["perplexity", *paths[:2], "--input", valid, "--weights", "0.5", "--quiet"]) == 2
    assert "--weights: 1 numbers for 2 models" in capsys.readouterr().err
    assert main(["perplexity", *paths[:2], "--input", valid, "--mix", paths[2], "--quiet"]) == 2
    assert main(["train", "nplm", "--input", train, "--valid", valid, "--output", str(lm_texts / "nplm.lmkit"),
                 "--context", "2", "--features", "4", "--hidden", "6", "--epochs", "2", "--threads", "1",
                 "--ensemble", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (lm_texts / "nplm-1.lmkit").is_file() and (lm_texts / "nplm-2.lmkit").is_file()
    member = [float(p) for p in re.findall(r"nplm-\d.lmkit: validation perplexity ([\d.]+)", out)]
    assert len(member) == 2 and member[0] != member[1]  # different seeds
    assert re.search(r"ensemble of 2 \(equal weights\), validation: perplexity [\d.]+", out)
