"""NPLM training: overfitting, save/load, checkpoints and resume, divergence, bad input."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lm_reference import make_corpus, train_valid
from lmkit.io import load_model
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.lm.perplexity import Mixture, perplexity
from lmkit.lm.ngram import KneserNey
from lmkit.lm.train import TrainingDiverged

SMALL = dict(context=3, features=8, hidden=16, batch_size=16, threads=1)


def test_overfits_a_tiny_corpus():
    corpus = make_corpus([[3, 1, 4, 1, 5, 9, 2, 6]] * 40, 11)
    model = NPLM(NPLMConfig(**SMALL, lr=0.01, epochs=15)).fit(corpus, verbose=False)
    assert perplexity(model, corpus).perplexity < 1.05
    assert model.history[-1]["train_loss"] < model.history[0]["train_loss"]


def test_save_load_same_perplexity_and_vectors(tmp_path):
    train, valid = train_valid()
    model = NPLM(NPLMConfig(**SMALL, epochs=2, activation="prelu", batch_norm=True)).fit(
        train, valid, output=tmp_path / "m.lmkit", verbose=False)
    loaded = NPLM.load(tmp_path / "m.lmkit")
    assert loaded.config == model.config and loaded.vocab == model.vocab
    assert perplexity(loaded, valid).perplexity == perplexity(model, valid).perplexity
    model.export_vectors(tmp_path / "c.txt")
    lines = (tmp_path / "c.txt").read_text().splitlines()
    assert lines[0] == f"{len(train.vocab)} 8" and len(lines) == len(train.vocab) + 1


@pytest.mark.parametrize("extra", [{}, {"output_optimizer": "momentum", "output_lr": 0.05, "plateau_factor": 0.5,
                                         "decoupled_weight_decay": 1e-3},
                                   {"weight_average": 0.9, "plateau_factor": 0.5, "lr": 0.05},
                                   {"sampled_epochs": 2, "sampled_words": 6}])
def test_resume_is_bit_identical(tmp_path, extra):
    train, valid = train_valid(1)
    config = dict(SMALL, dropout_features=0.1, dropout_hidden=0.2, patience=10, clip_norm=1.0, **extra)
    straight = NPLM(NPLMConfig(**config, epochs=3)).fit(train, valid, output=tmp_path / "a.lmkit", verbose=False)
    NPLM(NPLMConfig(**config, epochs=1)).fit(train, valid, output=tmp_path / "b.lmkit", verbose=False)
    resumed = NPLM(NPLMConfig(**config, epochs=3)).fit(train, valid, output=tmp_path / "b.lmkit",
                                                       resume=True, verbose=False)
    assert [r["valid_ppl"] for r in resumed.history] == [r["valid_ppl"] for r in straight.history]
    for name, array in straight.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[name], array, err_msg=name)
    with pytest.raises(ValueError, match="other settings"):
        NPLM(NPLMConfig(**dict(config, hidden=4), epochs=3)).fit(train, valid, output=tmp_path / "b.lmkit",
                                                                 resume=True, verbose=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        NPLM(NPLMConfig(**config)).fit(train, valid, output=tmp_path / "none.lmkit", resume=True, verbose=False)


def test_a_sampled_phase_can_be_cut_short_when_resuming(tmp_path):
    """A run stopped inside its sampled phase resumes with exact-softmax epochs when sampled_epochs is
    lowered; the same as a straight run planned with that shorter phase."""
    train, valid = train_valid(1)
    config = dict(SMALL, sampled_words=6, patience=10)
    straight = NPLM(NPLMConfig(**config, sampled_epochs=1, epochs=3)).fit(
        train, valid, output=tmp_path / "a.lmkit", verbose=False)
    NPLM(NPLMConfig(**config, sampled_epochs=5, epochs=1)).fit(train, valid, output=tmp_path / "b.lmkit",
                                                                verbose=False)
    resumed = NPLM(NPLMConfig(**config, sampled_epochs=1, epochs=3)).fit(
        train, valid, output=tmp_path / "b.lmkit", resume=True, verbose=False)
    assert [r["objective"] for r in resumed.history] == ["sampled softmax"] + ["exact softmax"] * 2
    assert [r["valid_ppl"] for r in resumed.history] == [r["valid_ppl"] for r in straight.history]
    for name, array in straight.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[name], array, err_msg=name)


def test_nan_loss_stops_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    train, valid = train_valid(2)
    original = NPLM.forward_backward
    calls = {"n": 0}
    steps_per_epoch = -(-sum(len(s) + 1 for s in np.split(train.ids, train.offsets[1:-1])) // SMALL["batch_size"])

    def poisoned(self, contexts, targets):
        calls["n"] += 1
        if calls["n"] == steps_per_epoch + 3:
            self.O[0, 0] = np.nan
        return original(self, contexts, targets)

    monkeypatch.setattr(NPLM, "forward_backward", poisoned)
    with pytest.raises(TrainingDiverged, match=f"step {steps_per_epoch + 3} .*epoch 2.*m.lmkit.ckpt"):
        NPLM(NPLMConfig(**SMALL, epochs=3)).fit(train, valid, output=tmp_path / "m.lmkit", verbose=False)
    arrays, meta = load_model(tmp_path / "m.lmkit.ckpt")
    assert meta["progress"]["epoch"] == 1 and all(np.isfinite(a).all() for a in arrays.values())


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="context must be >= 1"):
        NPLMConfig(context=0).validate()
    with pytest.raises(ValueError, match="hidden=0 needs direct"):
        NPLM(NPLMConfig(hidden=0, direct=False))
    with pytest.raises(ValueError, match="activation"):
        NPLM(NPLMConfig(activation="swish"))
    train, _ = train_valid(3)
    model = NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, verbose=False)
    with pytest.raises(ValueError, match="no token to predict"):
        perplexity(model, make_corpus([], 16))
    with pytest.raises(ValueError, match="no token to predict"):
        NPLM(NPLMConfig(**SMALL)).fit(make_corpus([[]], 16, eos=False), verbose=False)
    other = make_corpus([[1, 2]], 12)
    with pytest.raises(ValueError, match="another vocabulary"):
        perplexity(model, other)
    path = model.save(tmp_path / "m.lmkit")
    (tmp_path / "cut.lmkit").write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        NPLM.load(tmp_path / "cut.lmkit")
    arrays, meta = load_model(path)
    from lmkit.io import save_model

    save_model(tmp_path / "v9.lmkit", "nplm", arrays, {**{k: v for k, v in meta.items()
                                                          if k not in ("format", "format_version", "kind",
                                                                       "lmkit_version")}, "model_version": 9})
    with pytest.raises(ValueError, match="model version 9"):
        NPLM.load(tmp_path / "v9.lmkit")
    with pytest.raises(FileNotFoundError):
        NPLM.load(tmp_path / "absent.lmkit")


def test_mixture_weight_and_perplexity():
    train, valid = train_valid(4)
    nplm = NPLM(NPLMConfig(**SMALL, epochs=2)).fit(train, valid, verbose=False)
    kn = KneserNey(3).fit(train)
    mix = Mixture.fit_weight(nplm, kn, valid)
    assert 0.0 <= mix.weight <= 1.0
    p_mix = perplexity(mix, valid).perplexity
    # the EM weight is at least as good as either model alone and as a neighbouring weight
    assert p_mix <= min(perplexity(nplm, valid).perplexity, perplexity(kn, valid).perplexity) * (1 + 1e-6)
    for w in (max(0.0, mix.weight - 0.05), min(1.0, mix.weight + 0.05)):
        assert p_mix <= perplexity(Mixture(nplm, kn, w), valid).perplexity * (1 + 1e-6)
    with pytest.raises(ValueError, match="boundaries"):
        Mixture(nplm, KneserNey(3, boundaries="stream").fit(train), 0.5)


def test_text_file_of_unknown_words(tmp_path, monkeypatch):
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    train, _ = train_valid(5)
    model = NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, verbose=False)  # vocabulary without <unk>
    (tmp_path / "test.txt").write_text("zebra giraffe\nokapi\n")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        perplexity(model, tmp_path / "test.txt")
    (tmp_path / "known.txt").write_text("w1 w2 zebra w3\n")
    with pytest.raises(ValueError, match="1 words of the test text are not in the model's vocabulary"):
        perplexity(model, str(tmp_path / "known.txt"))  # dropping zebra would flatter the perplexity
    result = perplexity(model, str(tmp_path / "known.txt"), strict=False)
    assert result.n_tokens == 4 and result.n_eos == 1 and result.n_skipped == 1  # zebra skipped, </s> predicted


def test_plateau_reverts_to_the_best_weights_and_cuts_the_rate():
    train, valid = train_valid(6)
    config = NPLMConfig(**SMALL, lr=0.05, epochs=6, patience=10, plateau_factor=0.5)
    model = NPLM(config).fit(train, valid, verbose=False)
    history = model.history
    best, scale = history[0]["valid_ppl"], 1.0
    assert history[0]["lr"] == pytest.approx(0.05)
    cuts = 0
    for before, record in zip(history, history[1:]):
        assert record["lr"] == pytest.approx(0.05 * scale)  # the rate used in this epoch
        if record["valid_ppl"] < best:
            best = record["valid_ppl"]
        else:
            scale *= 0.5
            cuts += 1
    assert cuts >= 1, [r["valid_ppl"] for r in history]  # this setting overfits: the rule must fire
    assert perplexity(model, valid).perplexity == pytest.approx(best)
    timed = NPLM(NPLMConfig(**SMALL, epochs=5, time_limit=1e-9)).fit(train, valid, verbose=False)
    assert len(timed.history) == 1  # the limit is checked between epochs
    with pytest.raises(ValueError, match="plateau_factor"):
        NPLMConfig(plateau_factor=1.0).validate()
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        NPLMConfig(decoupled_weight_decay=-1.0).validate()


def test_linear_schedule_anneals_to_a_hundredth_over_the_planned_epochs():
    train, valid = train_valid(7)
    epochs, lr0 = 4, 0.02
    model = NPLM(NPLMConfig(**SMALL, lr=lr0, epochs=epochs, patience=10, lr_schedule="linear")).fit(
        train, valid, verbose=False)
    rates = np.array([record["lr"] for record in model.history])  # the rate of each epoch's last step
    assert len(rates) == epochs
    # lr0 - 0.99 lr0 t / T falls by 0.99 lr0 / epochs per epoch and reaches lr0 / 100 at the very end
    np.testing.assert_allclose(np.diff(rates), -0.99 * lr0 / epochs, rtol=1e-6)
    steps_per_epoch = 0.99 * lr0 / (rates[-1] - 0.01 * lr0) / epochs  # last step is t = T - 1
    assert steps_per_epoch == pytest.approx(round(steps_per_epoch), rel=1e-6) and steps_per_epoch > 1
    with pytest.raises(ValueError, match="lr_schedule"):
        NPLMConfig(lr_schedule="cosine").validate()


def test_cooldown_cools_the_last_epochs_and_can_be_added_when_resuming(tmp_path):
    train, valid = train_valid(8)
    config = dict(SMALL, lr=0.02, lr_decay=0.01, patience=10)
    straight = NPLM(NPLMConfig(**config, epochs=4, cooldown_epochs=2)).fit(
        train, valid, output=tmp_path / "a.lmkit", verbose=False)
    plain = NPLM(NPLMConfig(**config, epochs=2)).fit(train, valid, output=tmp_path / "b.lmkit", verbose=False)
    rates = [record["lr"] for record in straight.history]  # the rate of each epoch's last step
    assert rates[:2] == [record["lr"] for record in plain.history]  # the first two epochs are not cooled
    steps = round((0.02 / rates[0] - 1) / 0.01) + 1  # rates[0] = lr0 / (1 + r t) at t = steps - 1
    for epoch, rate in enumerate(rates[2:], start=3):
        t = epoch * steps - 1
        ramp = 1 - 0.99 * (t - 2 * steps) / (2 * steps)
        assert rate == pytest.approx(0.02 / (1 + 0.01 * t) * ramp, rel=1e-6)
    assert rates[3] < 0.1 * rates[2]  # the ramp: ~1/2 at the end of epoch 3, ~1/100 + 1/(2 steps) of epoch 4
    # a finished run extended by two cooled epochs from its checkpoint is the straight run
    resumed = NPLM(NPLMConfig(**config, epochs=4, cooldown_epochs=2)).fit(
        train, valid, output=tmp_path / "b.lmkit", resume=True, verbose=False)
    assert [r["valid_ppl"] for r in resumed.history] == [r["valid_ppl"] for r in straight.history]
    for name, array in straight.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[name], array, err_msg=name)
    with pytest.raises(ValueError, match="cooldown_epochs must be <= epochs=2"):
        NPLMConfig(epochs=2, cooldown_epochs=3).validate()
    with pytest.raises(ValueError, match="cooldown_epochs must be >= 0"):
        NPLMConfig(cooldown_epochs=-1).validate()


def test_weight_average_is_validated_kept_and_saved(tmp_path, monkeypatch):
    """The model fit returns (and saves) is the exponential average of the weights over every step,
    recomputed here in float64 from copies of the start and of each step's weights."""
    import lmkit.lm.train as train_module

    start, steps = {}, []

    class Recording(train_module.WeightAverage):
        def __init__(self, params, decay):
            start.update({name: a.astype(np.float64) for name, a in params.items()})
            super().__init__(params, decay)

        def update(self, params):
            steps.append({name: a.astype(np.float64) for name, a in params.items()})
            super().update(params)

    monkeypatch.setattr(train_module, "WeightAverage", Recording)
    train, valid = train_valid(8)
    decay = 0.8
    config = NPLMConfig(**SMALL, epochs=1, weight_average=decay, dropout_hidden=0.2)
    model = NPLM(config).fit(train, valid, output=tmp_path / "m.lmkit", verbose=False)
    assert len(steps) > 3
    expected = start
    for params in steps:
        expected = {name: decay * expected[name] + (1 - decay) * params[name] for name in expected}
    for name, array in model.state_arrays().items():
        np.testing.assert_allclose(array, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
        assert not np.allclose(array, steps[-1][name]), name  # the average is not the last iterate
    record = model.history[0]
    assert perplexity(model, valid).perplexity == pytest.approx(record["valid_ppl"], rel=1e-12)
    assert perplexity(NPLM.load(tmp_path / "m.lmkit"), valid).perplexity == pytest.approx(record["valid_ppl"])
    assert record["valid_ppl_last"] != record["valid_ppl"]
    # skipping the last weights' validation changes nothing else
    quiet = NPLM(dataclasses.replace(config, validate_last=False)).fit(train, valid, verbose=False)
    assert "valid_ppl_last" not in quiet.history[0]
    assert quiet.history[0]["valid_ppl"] == record["valid_ppl"]
    for name, array in quiet.state_arrays().items():
        np.testing.assert_array_equal(array, model.state_arrays()[name], err_msg=name)
    with pytest.raises(ValueError, match="weight_average"):
        NPLMConfig(weight_average=1.0).validate()


def test_validate_every_scores_every_nth_epoch_and_never_ends_unscored(tmp_path):
    """validate_every = 3 over 7 epochs scores epochs 3, 6 and 7 (the last), with the same figures as
    scoring every epoch (validation does not change training here: no plateau rule), and keeps the
    best of those three; the sampled phase's last epoch and the one reaching the time limit are scored too."""
    train, valid = train_valid(3)
    config = dict(SMALL, lr=0.03, epochs=7, patience=10, weight_average=0.9, dropout_hidden=0.2)
    every = NPLM(NPLMConfig(**config)).fit(train, valid, verbose=False)
    sparse = NPLM(NPLMConfig(**config, validate_every=3)).fit(train, valid, output=tmp_path / "m.lmkit",
                                                            verbose=False)
    scored = {r["epoch"]: r["valid_ppl"] for r in sparse.history if "valid_ppl" in r}
    assert list(scored) == [3, 6, 7] and len(sparse.history) == 7
    assert scored == {r["epoch"]: r["valid_ppl"] for r in every.history if r["epoch"] in scored}
    assert [r["train_loss"] for r in sparse.history] == [r["train_loss"] for r in every.history]
    best = min(scored.values())
    assert min(r["valid_ppl"] for r in every.history) < best  # an unscored epoch was better: not kept
    assert perplexity(sparse, valid).perplexity == pytest.approx(best, rel=1e-12)
    assert perplexity(NPLM.load(tmp_path / "m.lmkit"), valid).perplexity == pytest.approx(best, rel=1e-12)
    sampled = NPLM(NPLMConfig(**dict(config, epochs=3), validate_every=5, sampled_epochs=2,
                              sampled_words=6)).fit(train, valid, verbose=False)
    assert [r["epoch"] for r in sampled.history if "valid_ppl" in r] == [2, 3]
    timed = NPLM(NPLMConfig(**config, validate_every=5, time_limit=1e-9)).fit(train, valid, verbose=False)
    assert len(timed.history) == 1 and "valid_ppl" in timed.history[0]
    with pytest.raises(ValueError, match="validate_every"):
        NPLMConfig(validate_every=0).validate()


def test_word_dropout_blanks_training_context_words_only(monkeypatch):
    """dropout_words = p: each context word of a training example becomes the padding row with chance p
    (the batches are compared with a run without it: same epoch order, other words untouched)."""
    original = NPLM.forward_backward
    seen = []

    def recording(self, contexts, targets):
        seen.append((contexts.copy(), targets.copy()))
        return original(self, contexts, targets)

    monkeypatch.setattr(NPLM, "forward_backward", recording)
    train, valid = train_valid(9)
    runs = {}
    for p in (0.0, 0.3):
        seen.clear()
        NPLM(NPLMConfig(**SMALL, epochs=1, dropout_words=p)).fit(train, valid, verbose=False)
        runs[p] = (np.concatenate([c for c, _ in seen]), np.concatenate([t for _, t in seen]))
    pad = len(train.vocab)
    (clean, targets), (noisy, noisy_targets) = runs[0.0], runs[0.3]
    np.testing.assert_array_equal(noisy_targets, targets)
    blanked = (noisy == pad) & (clean != pad)
    np.testing.assert_array_equal(noisy[~blanked], clean[~blanked])
    rate = blanked.sum() / (clean != pad).sum()
    assert abs(rate - 0.3) < 0.04, rate
    with pytest.raises(ValueError, match="dropout_words"):
        NPLMConfig(dropout_words=1.0).validate()
