"""The monitor: its numbers against direct computations, its warnings, its log across kills and resumes,
its TensorBoard files against metrics.jsonl."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lm_reference import make_corpus, random_sentences, train_valid
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.training import Callback
from lmkit.training.monitor import Monitor
from lmkit.training.runlog import read_events

SMALL = dict(context=3, features=8, hidden=16, batch_size=16, threads=1)


def _steps(folder):
    return [e for e in read_events(folder / "metrics.jsonl") if e["event"] == "step"]


class DirectNorms(Callback):
    """Computes, independently of the monitor, each layer's gradient norm from the model's own gradient
    arrays (C's repeated rows merged by a Python dict) and each update ratio from copies of the weights."""

    every = 1

    def __init__(self):
        self.grad, self.ratio = {}, {}

    def on_gradients(self, run, record):
        m = run.model
        h = m.config.hidden
        merged = {}
        for row, g in zip(m.c_rows, m.c_grad_rows.astype(np.float64)):
            merged[int(row)] = merged.get(int(row), 0) + g
        grads = {"C": np.array(list(merged.values())), "H": m.grads["H"], "d": m.grads["d"],
                 "U": m.grads["O"][:, :h], "W": m.grads["O"][:, h:], "b": m.grads["b"]}
        if m.bn is not None:
            grads |= {"bn_gamma": m.bn.grad_gamma, "bn_beta": m.bn.grad_beta}
        if m.config.activation == "prelu":
            grads["prelu_alpha"] = m.act.grads[0]
        self.grad[record["step"]] = {k: math.sqrt(float(np.sum(np.square(g, dtype=np.float64))))
                                     for k, g in grads.items()}
        self.rows = sorted(merged)
        self.before = {"C": m.C[self.rows].copy(), "H": m.H.copy(), "U": m.U.copy(), "W": m.W.copy(),
                       "b": m.b.copy(), "d": m.d.copy()}

    def on_step(self, run, record):
        m = run.model
        after = {"C": m.C[self.rows], "H": m.H, "U": m.U, "W": m.W, "b": m.b, "d": m.d}
        self.ratio[record["step"]] = {
            k: float(np.linalg.norm((after[k] - b).astype(np.float64)) / np.linalg.norm(b.astype(np.float64)))
            if np.any(b) else None for k, b in self.before.items()}


@pytest.mark.parametrize("extra", [{}, {"sampled_epochs": 1, "sampled_words": 5, "activation": "relu"},
                                   {"activation": "prelu", "batch_norm": True}])
def test_gradient_norms_and_update_ratios_equal_direct_computations(tmp_path, extra):
    train, valid = train_valid()
    direct = DirectNorms()
    NPLM(NPLMConfig(**SMALL, epochs=1, optimizer="momentum", lr=0.05, **extra)).fit(
        train, valid, verbose=False, callbacks=[direct], log_dir=tmp_path, monitor_every=2)
    steps = _steps(tmp_path)
    assert steps and all(e["step"] % 2 == 0 for e in steps)
    for event in steps:
        assert {f"grad_norm/{layer}" for layer in direct.grad[event["step"]]} == {
            k for k in event if k.startswith("grad_norm/")}
        for layer, value in direct.grad[event["step"]].items():
            assert event[f"grad_norm/{layer}"] == pytest.approx(value, rel=1e-5), (layer, event["step"])
        for layer, value in direct.ratio[event["step"]].items():
            if value is None:  # the hidden bias starts at zero: no ratio at the first step
                assert event[f"update_ratio/{layer}"] is None
            else:
                assert event[f"update_ratio/{layer}"] == pytest.approx(value, rel=1e-4), (layer, event["step"])


def test_hidden_statistics_equal_direct_computations(tmp_path):
    train, valid = train_valid()
    seen = {}

    class Hidden(Callback):
        """The hidden pre-activation recomputed from the batch's contexts and the weights before the update."""

        every = 1

        def on_gradients(self, run, record):
            m = run.model
            x = m.C[m.c_rows].reshape(-1, m.config.context * m.config.features).astype(np.float64)
            seen[record["step"]] = x @ m.H.T.astype(np.float64) + m.d

    NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False, callbacks=[Hidden()], log_dir=tmp_path,
                                            monitor_every=1)
    for event in _steps(tmp_path):
        pre = seen[event["step"]]
        assert event["hidden/pre_mean"] == pytest.approx(pre.mean(), rel=1e-4, abs=1e-6)
        assert event["hidden/pre_std"] == pytest.approx(pre.std(), rel=1e-4)
        assert event["hidden/saturated"] == pytest.approx(np.mean(np.abs(np.tanh(pre)) > 0.97))


def test_a_healthy_run_raises_no_warning(tmp_path):
    train, valid = train_valid(sentences=200)
    monitor = Monitor(tmp_path, every=5)
    NPLM(NPLMConfig(**SMALL, epochs=3, patience=5)).fit(train, valid, verbose=False, callbacks=[monitor])
    assert monitor.warnings == []
    assert not [e for e in read_events(tmp_path / "metrics.jsonl") if e["event"] == "warning"]


class Sabotage(Callback):
    """Before training starts, set some of the model's weights (the forced failure cases)."""

    def __init__(self, **values):
        self.values = values

    def on_train_begin(self, run):
        for name, value in self.values.items():
            getattr(run.model, name)[...] = value


def test_dead_relu_units_raise_a_warning_naming_layer_step_and_number(tmp_path, caplog):
    train, valid = train_valid()
    monitor = Monitor(tmp_path, every=5)
    NPLM(NPLMConfig(**SMALL, epochs=1, activation="relu", direct=True)).fit(
        train, valid, verbose=False, callbacks=[Sabotage(d=-100.0), monitor])
    dead = [w for w in monitor.warnings if w["kind"] == "dead_units"]
    assert dead and dead[0]["layer"] == "hidden" and dead[0]["step"] == 5 and dead[0]["value"] == 1.0
    assert "step 5: 100% of the hidden layer's units are dead" in caplog.text
    logged = [e for e in read_events(tmp_path / "metrics.jsonl") if e["event"] == "warning"]
    assert [(e["kind"], e["layer"], e["step"]) for e in logged if e["kind"] == "dead_units"] == [
        ("dead_units", "hidden", 5)]
    # dead units pass no gradient back: the layers behind them are reported as not learning too
    assert {("vanishing_gradient", "H"), ("vanishing_gradient", "d")} <= {(e["kind"], e["layer"]) for e in logged}


def test_a_cut_off_path_raises_a_vanishing_gradient_warning(tmp_path):
    train, valid = train_valid()
    monitor = Monitor(tmp_path, every=5)
    # U = 0 and frozen by a zero learning rate on the output side: no gradient reaches H and d
    NPLM(NPLMConfig(**SMALL, epochs=1, optimizer="sgd", output_lr=1e-30)).fit(
        train, valid, verbose=False, callbacks=[Sabotage(O=0.0), monitor])
    layers = {w["layer"] for w in monitor.warnings if w["kind"] == "vanishing_gradient"}
    assert {"H", "d"} <= layers
    assert all(f"gradient norm of {w['layer']} is" in w["message"] and "step 5" in w["message"]
               for w in monitor.warnings if w["kind"] == "vanishing_gradient")


def test_a_huge_learning_rate_raises_an_update_ratio_warning(tmp_path):
    train, valid = train_valid()
    monitor = Monitor(tmp_path, every=1)
    NPLM(NPLMConfig(**SMALL, epochs=1, optimizer="sgd", lr=3.0)).fit(train, verbose=False, callbacks=[monitor])
    too_high = [w for w in monitor.warnings if w["kind"] == "update_ratio"]
    assert too_high and all("too high" in w["message"] and w["value"] > 0.1 for w in too_high)


def test_overfitting_is_reported_when_valid_rises_while_train_falls(tmp_path):
    from lmkit.training.diagnosis import Diagnosis

    diagnosis = Diagnosis()
    assert diagnosis.epoch(1, 5.0, 300.0) == [] and diagnosis.epoch(2, 4.5, 310.0) == []
    warning = diagnosis.epoch(3, 4.0, 320.0)
    assert warning and warning[0]["kind"] == "overfitting" and "epoch 3" in warning[0]["message"]
    assert diagnosis.epoch(4, 3.5, 330.0) == []  # once per episode
    assert diagnosis.epoch(5, 3.0, 300.0) == []


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, {lm_tests!r})
    from lm_reference import make_corpus, random_sentences, train_valid
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.training import Callback

    class Kill(Callback):
        every = 1
        def on_step(self, run, record):
            if record["epoch"] == 2 and record["step"] == {kill_step}:
                os.kill(os.getpid(), signal.SIGKILL)

    rng = np.random.default_rng(0)
    train = make_corpus(random_sentences(rng, 80, 15), 16)
    valid = make_corpus(random_sentences(rng, 20, 15), 16)
    valid.vocab = train.vocab
    NPLM(NPLMConfig(context=3, features=8, hidden=16, batch_size=16, threads=1, epochs=3, patience=5)).fit(
        train, valid, output={output!r}, verbose=False, callbacks=[Kill()], log_dir={log_dir!r}, monitor_every=4)
""")


def test_metrics_survive_sigkill_and_resume_appends_without_duplicates_or_gaps(tmp_path):
    from pathlib import Path

    train, valid = train_valid()
    steps_per_epoch = NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False).history[0]["step"]
    kill_step = steps_per_epoch + 9
    script = KILLED_RUN.format(lm_tests=str(Path(__file__).resolve().parents[1] / "lm"), kill_step=kill_step,
                               output=str(tmp_path / "m.lmkit"), log_dir=str(tmp_path / "run"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    before = read_events(tmp_path / "run" / "metrics.jsonl")
    assert max(e["step"] for e in before if e["event"] == "step") == kill_step - kill_step % 4  # kept to the kill
    NPLM(NPLMConfig(**SMALL, epochs=3, patience=5)).fit(train, valid, output=tmp_path / "m.lmkit", resume=True,
                                                        verbose=False, log_dir=tmp_path / "run", monitor_every=4)
    events = read_events(tmp_path / "run" / "metrics.jsonl")
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps == list(range(4, 3 * steps_per_epoch + 1, 4))
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3]
    assert [e["resumed"] for e in events if e["event"] == "begin"] == [False, True]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["trainer"] == "nplm" and config["resumed"][0]["epoch"] == 1
    assert config["config"]["hidden"] == 16 and config["seed"] == 1


def test_a_new_run_refuses_a_folder_holding_another_runs_log(tmp_path):
    train, valid = train_valid()
    NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False, log_dir=tmp_path)
    with pytest.raises(ValueError, match="already holds a run's metrics.jsonl"):
        NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False, log_dir=tmp_path)


def test_tensorboard_event_files_hold_the_same_values_as_metrics_jsonl(tmp_path, need_module):
    accumulator = need_module("tensorboard.backend.event_processing.event_accumulator")
    train, valid = train_valid()
    NPLM(NPLMConfig(**SMALL, epochs=2, patience=5)).fit(train, valid, verbose=False, log_dir=tmp_path,
                                                        monitor_every=3, callbacks=[])
    events = read_events(tmp_path / "metrics.jsonl")
    reader = accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0})
    reader.Reload()
    tags = reader.Tags()
    checked = 0
    for event in events:
        if event["event"] not in ("step", "epoch"):
            continue
        for tag, value in event.items():
            if tag in ("event", "step", "epoch", "time") or not isinstance(value, (int, float)):
                continue
            logged = {s.step: s.value for s in reader.Scalars(tag)}
            assert logged[event["step"]] == pytest.approx(value, rel=1e-6), tag
            checked += 1
    assert checked > 100
    assert {"weights/H", "gradients/H", "activations/hidden_pre"} <= set(tags["histograms"])
    assert (tmp_path / "projector_config.pbtxt").is_file()


def test_word2vec_monitor_logs_chunks_and_epochs(tmp_path):
    from lmkit.word2vec.model import Word2Vec

    rng = np.random.default_rng(0)
    corpus = make_corpus(random_sentences(rng, 3000, 30, max_len=12), 31)
    model = Word2Vec(vector_size=8, min_count=1, epochs=2, loss="both").fit(corpus, verbose=False, log_dir=tmp_path)
    events = read_events(tmp_path / "metrics.jsonl")
    steps = [e for e in events if e["event"] == "step"]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["step"] for e in steps] == list(range(1, model.steps + 1))
    assert all(e["loss/step"] > 0 and e["lr/step"] > 0 for e in steps)
    assert steps[-1]["lr/step"] < steps[0]["lr/step"]
    assert [e["loss/train"] for e in epochs] == pytest.approx(model.losses)
    assert epochs[-1]["weight_norm_epoch/syn0"] == pytest.approx(float(np.linalg.norm(model.syn0)), rel=1e-5)
    assert epochs[-1]["weight_norm_epoch/syn1"] == pytest.approx(float(np.linalg.norm(model.syn1)), rel=1e-5)
    assert {"weight_norm_epoch/syn1neg", "speed/words_per_s", "words/effective"} <= set(epochs[0])


def test_monitor_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="--monitor-every"):
        Monitor(tmp_path, every=0)


def test_without_tensorboardx_the_monitor_says_how_to_get_it_and_logs_the_rest(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX now raises ImportError
    train, valid = train_valid()
    caplog.set_level("INFO")
    NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False, log_dir=tmp_path)
    assert "pip install 'lmkit[monitor]'" in caplog.text
    assert not list(tmp_path.glob("events.out.tfevents*"))
    assert [e["event"] for e in read_events(tmp_path / "metrics.jsonl")][-2:] == ["epoch", "end"]
    with pytest.raises(ImportError, match=r"pip install 'lmkit\[monitor\]'"):
        NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, verbose=False,
                                                callbacks=[Monitor(tmp_path / "tb", tensorboard=True)])


def test_a_deep_tanh_stack_with_tiny_init_raises_vanishing_and_a_healthy_one_does_not(tmp_path):
    """Built from lmkit.nn: 10 tanh layers initialized 0.01 * N(0, 1) pass almost no gradient back to
    the first layer (the lecture notes' collapse); the same stack with Xavier init trains cleanly."""
    from lmkit.nn import Dense, Sequential, Tanh
    from lmkit.training import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

    def stack(init):
        layers = [Dense(20, 50, init=init, rng=rng), Tanh()]
        for _ in range(9):
            layers += [Dense(50, 50, init=init, rng=rng), Tanh()]
        return Sequential(layers + [Dense(50, 2, rng=rng)])

    tiny = Monitor(tmp_path / "tiny", every=4)
    fit(stack("small"), x, y, epochs=1, batch_size=32, callbacks=[tiny])
    vanishing = {w["layer"] for w in tiny.warnings if w["kind"] == "vanishing_gradient"}
    assert "dense0/W" in vanishing, tiny.warnings
    healthy = Monitor(tmp_path / "xavier", every=4)
    fit(stack(None), x, y, epochs=2, batch_size=32, callbacks=[healthy])
    assert healthy.warnings == []
