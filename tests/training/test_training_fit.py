"""``lmkit.training.fit``: small MLPs learn XOR-like and multi-class data; the callback hooks
in order, with the steps, epochs and probe the monitor reads; clipping, schedules, weight decay,
embeddings, stopping, errors."""
import json

import numpy as np
import pytest

from lmkit.nn import (
    SGD,
    Adam,
    BatchNorm,
    Dense,
    Dropout,
    Embedding,
    ReLU,
    Sequential,
    StepDecay,
    Tanh,
    global_norm,
)
from lmkit.training import Callback, SequentialProbe, TrainingDiverged, evaluate, fit


def xor_data(n, seed):
    """Two noisy XOR quadrants: class = sign(x0) != sign(x1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)


def spirals(n_per_class, classes, seed):
    """``classes`` interleaved spiral arms in the plane (not linearly separable)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1, n_per_class)
        t = np.linspace(c * 4 * np.pi / classes, (c + 1) * 4 * np.pi / classes, n_per_class)
        t = t + rng.normal(0, 0.15, n_per_class)
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n_per_class, c))
    order = rng.permutation(n_per_class * classes)
    return np.concatenate(xs).astype(np.float32)[order], np.concatenate(ys)[order]


def test_mlp_learns_xor():
    x, y = xor_data(1000, 0)
    rng = np.random.default_rng(1)
    model = Sequential([Dense(2, 32, rng=rng), ReLU(), Dense(32, 32, rng=rng), ReLU(), Dense(32, 2, rng=rng)])
    assert evaluate(model, x[800:], y[800:])["accuracy"] < 0.7  # a linear boundary cannot do XOR
    history = fit(model, x[:800], y[:800], epochs=30, batch_size=32, lr=1e-2, valid=(x[800:], y[800:]))
    assert history[-1]["valid_accuracy"] >= 0.95
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 3
    assert model.history is history


def test_mlp_with_batchnorm_and_dropout_learns_three_spirals():
    x, y = spirals(300, 3, 0)
    rng = np.random.default_rng(2)
    model = Sequential([Dense(2, 64, rng=rng), BatchNorm(64), ReLU(), Dropout(0.1, rng),
                        Dense(64, 64, rng=rng), BatchNorm(64), ReLU(), Dense(64, 3, rng=rng)])
    history = fit(model, x[:700], y[:700], epochs=60, batch_size=32, lr=1e-2, valid=(x[700:], y[700:]),
                  clip_norm=5.0)
    assert history[-1]["valid_accuracy"] >= 0.95
    assert evaluate(model, x[700:], y[700:])["accuracy"] == history[-1]["valid_accuracy"]


def test_regression_with_squared_loss():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (600, 1)).astype(np.float32)
    y = np.sin(x) + 0.05 * rng.standard_normal(x.shape).astype(np.float32)
    model = Sequential([Dense(1, 32, rng=rng), Tanh(), Dense(32, 1, rng=rng)])
    history = fit(model, x[:500], y[:500], epochs=60, batch_size=32, lr=1e-2, valid=(x[500:], y[500:]))
    assert "valid_accuracy" not in history[-1]
    assert history[-1]["valid_loss"] < 0.01  # the noise alone is 0.0025; var(sin x) ~ 0.4


class Recorder(Callback):
    """Logs every hook with the step/epoch it saw, the probe's view at on_gradients."""

    every = 1

    def __init__(self):
        self.events = []
        self.snapshots = []

    def on_train_begin(self, run):
        self.events.append(("begin", run.step, run.epoch))
        self.run = run

    def on_gradients(self, run, record):
        self.events.append(("gradients", record["step"], record["epoch"], run.step, run.epoch))
        model = run.model
        probe = run.probe
        self.snapshots.append({
            "probe": {k: g.copy() for k, g in probe.gradients().items()},
            "layers": {f"{name}/{k}": g.copy()
                       for name, layer in model.named_layers() for k, g in layer.grads().items()},
            "params_same": all(probe.parameters()[k] is a for k, a in model.params().items()),
            "activations": {k: (pre.shape, kind) for k, (pre, kind) in probe.activations().items()},
            "record": dict(record),
        })

    def on_step(self, run, record):
        self.events.append(("step", record["step"], record["epoch"], run.step, run.epoch))
        self.snapshots[-1]["step_record"] = dict(record)

    def on_epoch_end(self, run, record):
        self.events.append(("epoch", record["epoch"], run.step, run.epoch))

    def on_train_end(self, run):
        self.events.append(("end", run.step, run.epoch))


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(2, 8, rng=rng), BatchNorm(8), Tanh(), Dropout(0.2, rng), Dense(8, 2, rng=rng), ReLU(),
                       Dense(2, 2, rng=rng)])


def test_callbacks_in_order_with_steps_epochs_and_the_probe():
    x, y = xor_data(40, 4)  # 40 examples, batches of 16: 16, 16, 8 -> 3 steps an epoch
    rec, seen = Recorder(), []
    fit(small_model(), x, y, epochs=2, batch_size=16, valid=(x[:10], y[:10]),
        callbacks=[rec, lambda run, record: seen.append((run.epoch, dict(record)))])
    expected = [("begin", 0, 0)]
    step = 0
    for epoch in (1, 2):
        for _ in range(3):
            step += 1
            expected += [("gradients", step, epoch, step - 1, epoch - 1), ("step", step, epoch, step, epoch - 1)]
        expected.append(("epoch", epoch, step, epoch))
    expected.append(("end", 6, 2))
    assert rec.events == expected
    assert [e for e, _ in seen] == [1, 2]
    record = seen[-1][1]
    assert set(record) == {"epoch", "train_loss", "valid_loss", "valid_accuracy", "seconds", "lr"}
    assert record["epoch"] == 2 and record["lr"] == pytest.approx(1e-3)
    run = rec.run
    assert run.trainer == "mlp" and run.epochs == 2 and isinstance(run.probe, SequentialProbe)
    assert run.config["optimizer"] == "adam" and run.config["batch_size"] == 16 and run.config["n_valid"] == 10
    json.dumps(run.config)  # JSON-able
    for snap in rec.snapshots:
        assert snap["probe"].keys() == snap["layers"].keys() == {
            "dense0/W", "dense0/b", "bn1/gamma", "bn1/beta", "dense4/W", "dense4/b", "dense6/W", "dense6/b"}
        for name in snap["probe"]:
            np.testing.assert_array_equal(snap["probe"][name], snap["layers"][name])
        assert snap["params_same"]
        assert snap["activations"] == {"tanh2": ((16, 8), "tanh"), "relu5": ((16, 2), "relu")} or \
            snap["activations"] == {"tanh2": ((8, 8), "tanh"), "relu5": ((8, 2), "relu")}
        assert set(snap["record"]) == {"step", "epoch", "loss", "lr", "count"}  # no clipping: no clip/norm
        assert snap["step_record"] == snap["record"]


def test_probe_gradients_are_the_gradients_of_the_batch_loss():
    """At on_gradients the probe shows dL/dparam of that step's batch, before clipping and the update."""
    x, y = xor_data(32, 5)

    class Check(Callback):
        every = 1

        def on_gradients(self, run, record):
            model = run.model
            grads = {k: g.copy() for k, g in run.probe.gradients().items()}
            w = model.params()["dense4/W"]
            assert np.abs(grads["dense4/W"]).max() > 0
            self.before = w.copy()
            self.grads = grads

        def on_step(self, run, record):
            w = run.model.params()["dense4/W"]
            assert not np.array_equal(w, self.before)  # the update came after on_gradients
            assert record["clip/norm"] == pytest.approx(global_norm(list(self.grads.values())), rel=1e-5)
            assert global_norm(list(run.probe.gradients().values())) <= 0.01 * 1.0001  # clipped in place

    fit(small_model(), x, y, epochs=1, batch_size=32, clip_norm=0.01, callbacks=[Check()])


def test_stop_requests_after_an_epoch_and_within_one():
    x, y = xor_data(40, 6)
    history = fit(small_model(), x, y, epochs=5, batch_size=16,
                  callbacks=[lambda run, record: record["epoch"] == 2 and run.request_stop("enough")])
    assert [r["epoch"] for r in history] == [1, 2]

    class StopAtStep(Callback):
        every = 1

        def on_step(self, run, record):
            if record["step"] == 4:
                run.request_stop("step 4")

        def on_train_end(self, run):
            self.end = (run.step, run.epoch, run.stop_reason)

    stopper = StopAtStep()
    history = fit(small_model(), x, y, epochs=5, batch_size=16, callbacks=[stopper])
    assert [r["epoch"] for r in history] == [1]  # epoch 2 stopped after its first step
    assert stopper.end == (4, 1, "step 4")


def test_every_spaces_the_step_hooks():
    x, y = xor_data(64, 7)

    class Every3(Callback):
        every = 3

        def __init__(self):
            self.steps = []

        def on_gradients(self, run, record):
            self.steps.append(record["step"])

    cb = Every3()
    fit(small_model(), x, y, epochs=2, batch_size=8, callbacks=[cb])  # 16 steps
    assert cb.steps == [3, 6, 9, 12, 15]


def test_schedule_sets_the_rate_and_records_show_it():
    x, y = xor_data(64, 8)
    rates = []

    class Rates(Callback):
        every = 1

        def on_step(self, run, record):
            rates.append(record["lr"])

    history = fit(small_model(), x, y, epochs=2, batch_size=16, optimizer="sgd",
                  schedule=StepDecay(0.1, 0.5, every=3), callbacks=[Rates()])
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert history[-1]["lr"] == pytest.approx(0.025)


def test_weight_decay_shrinks_weights_not_biases_or_batchnorm():
    rng = np.random.default_rng(9)
    model = Sequential([Dense(3, 4, rng=rng), BatchNorm(4), Tanh(), Dense(4, 2, rng=rng)])
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = np.zeros((64, 2), np.float32)
    for p in model.params().values():
        p[...] = 0.5
    before = {k: v.copy() for k, v in model.params().items()}
    # lr * wd = 0.1: one step multiplies a weight by 0.9 (plus its tiny data gradient)
    fit(model, x, y, loss="mse", optimizer="sgd", lr=0.1, weight_decay=1.0, epochs=1, batch_size=64)
    after = model.params()
    assert np.all(after["dense0/W"] < 0.47) and np.all(after["dense3/W"] < 0.47)
    assert np.all(after["bn1/gamma"] > 0.47) and np.all(after["dense0/b"] > 0.47)
    assert np.all(np.abs(after["dense3/b"] - before["dense3/b"]) < 0.2)
    with pytest.raises(ValueError, match="weight_decay"):
        fit(model, x, y, optimizer=Adam(), weight_decay=0.1, epochs=1)


def test_optimizer_object_keeps_its_state_across_calls():
    x, y = xor_data(64, 10)
    model, opt = small_model(), Adam(lr=1e-2)
    fit(model, x, y, optimizer=opt, epochs=1, batch_size=16)
    assert {st["t"] for st in opt.state.values()} == {4}
    fit(model, x, y, optimizer=opt, epochs=1, batch_size=16)
    assert {st["t"] for st in opt.state.values()} == {8}


def test_embedding_network_trains_sparse_rows_only():
    rng = np.random.default_rng(11)
    # the class of a pair of ids (a, b) is (a + b) % 3; ids 0..9, id 11 never appears
    ids = rng.integers(0, 10, (600, 2))
    y = ids.sum(axis=1) % 3
    model = Sequential([Embedding(12, 8, rng=rng), Dense(16, 32, rng=rng), ReLU(), Dense(32, 3, rng=rng)])
    unused = model.layers[0].C[11].copy()
    history = fit(model, ids[:500], y[:500], epochs=40, batch_size=32, lr=1e-2, valid=(ids[500:], y[500:]))
    assert history[-1]["valid_accuracy"] >= 0.95
    np.testing.assert_array_equal(model.layers[0].C[11], unused)  # lazy sparse steps: untouched


def test_last_batch_of_one_joins_the_one_before():
    x, y = xor_data(33, 12)
    history = fit(small_model(), x, y, epochs=1, batch_size=16)  # BatchNorm cannot take a batch of 1
    assert np.isfinite(history[0]["train_loss"])


def test_divergence_and_argument_errors():
    x, y = xor_data(32, 13)
    model = small_model()
    with pytest.raises(TrainingDiverged, match="step 1"):
        fit(model, np.full_like(x, np.nan), y, epochs=1)
    with pytest.raises(ValueError, match="same length"):
        fit(model, x[:10], y, epochs=1)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="integer class ids"):
        fit(model, x, y.astype(np.float32), loss="cross_entropy")
    with pytest.raises(ValueError, match="epochs"):
        fit(model, x, y, epochs=0)
    with pytest.raises(ValueError, match="needs lr"):
        fit(model, x, y, optimizer="sgd")
    with pytest.raises(ValueError, match="valid"):
        fit(model, x, y, valid=(x, y[:3]))
    fit(model, x, y, optimizer=SGD(lr=0.1), epochs=1)
