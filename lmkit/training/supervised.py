"""``fit``: minibatch training of a :class:`~lmkit.nn.layers.Sequential` on arrays.

The lecture notes' recipe for an MLP, with lmkit's parts: normalize the
inputs (the caller's job), initialize by activation (``Dense``'s default),
ReLU, batch norm and dropout (layers), Adam (``optimizer="adam"``), a
learning-rate ``schedule``, global-norm gradient clipping (``clip_norm``),
weight decay on weights only (``weight_decay``), a validation split
watched each epoch (``valid``), and callbacks for monitoring, plots and
stopping (:mod:`lmkit.training.callbacks`).

Each step::

    lr = schedule(step - 1)                 (if a schedule is given)
    out = model.forward(augment(x_batch), train=True)
    loss, dout = softmax_cross_entropy(out, y) | mse(out, y)
    model.backward(dout)
    on_gradients(run, record)               gradients ready (before clipping and the update)
    grad_norm = clip_grad_norm(grads, clip_norm)      (if clip_norm > 0)
    optimizer steps: dense params, and step_rows for an Embedding's used rows
    on_step(run, record)                    record has "clip/norm" when clipping

Steps and epochs are 1-based in records and count within this call;
``run.step`` / ``run.epoch`` are those *done* (so inside a step's
``on_gradients``, ``run.step == record["step"] - 1``; at its ``on_step``,
equal).  After each epoch ``on_epoch_end(run, record)`` with ``{"epoch",
"train_loss", "valid_loss", "valid_accuracy" (classification), "seconds",
"lr"}``; training stops after the epoch in which a callback called
``run.request_stop`` (at once, after the step, for a request made in a
step hook).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, Iterable

import numpy as np

from lmkit.nn.clip import clip_grad_norm
from lmkit.nn.layers import Embedding, Sequential
from lmkit.nn.losses import mse, softmax_cross_entropy
from lmkit.nn.optim import Optimizer, make_optimizer
from lmkit.training.callbacks import Callback, Callbacks, Run

logger = logging.getLogger(__name__)

LOSSES = ("cross_entropy", "mse")


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite."""


class SequentialProbe:
    """What :func:`fit` shows a monitor (the :class:`~lmkit.training.callbacks.Probe` protocol):
    ``parameters()`` and ``gradients()`` by the network's names (``dense0/W``, ``bn1/gamma``, ...),
    the live arrays; ``activations()``: ``{layer name: (pre-activation float[B, h], activation
    name)}`` for every activation layer, from the last forward pass."""

    def __init__(self, model: Sequential):
        self.model = model

    def parameters(self) -> dict[str, np.ndarray]:
        return self.model.params()

    def gradients(self) -> dict[str, np.ndarray]:
        return self.model.grads()

    def activations(self) -> dict[str, tuple[np.ndarray, str]]:
        return self.model.activations()


def _loss_kind(loss: str, y: np.ndarray) -> str:
    if loss == "auto":
        return "cross_entropy" if y.dtype.kind in "iu" else "mse"
    if loss in ("softmax_cross_entropy", "crossentropy"):
        return "cross_entropy"
    if loss in ("squared", "squared_error"):
        return "mse"
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use 'auto', 'cross_entropy' or 'mse'")
    return loss


def _targets(kind: str, y, model: Sequential) -> np.ndarray:
    y = np.asarray(y)
    if kind == "cross_entropy":
        if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
            raise ValueError(f"cross_entropy needs integer class ids of shape (n,), got {y.dtype}{list(y.shape)}")
        return y.astype(np.int64, copy=False)
    if y.dtype.kind not in "fiu":
        raise ValueError(f"mse needs numeric targets, got {y.dtype}")
    return y.astype(model.dtype, copy=False)


def _batch_loss(kind: str, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    if kind == "cross_entropy":
        return softmax_cross_entropy(out, target)
    return mse(out, target)


def evaluate(model: Sequential, x, y, loss: str = "auto", batch_size: int = 1024) -> dict:
    """``{"loss": ..., ["accuracy": ...]}`` of ``model`` in evaluation mode on ``(x, y)``: the mean
    cross-entropy and the arg-max accuracy for class ids, the mean squared error otherwise."""
    y = np.asarray(y)
    kind = _loss_kind(loss, y)
    y = _targets(kind, y, model)
    n = len(y)
    if n == 0 or len(x) != n:
        raise ValueError(f"x and y must have the same positive length, got {len(x)} and {n}")
    total, correct = 0.0, 0
    for start in range(0, n, batch_size):
        out = model.forward(x[start:start + batch_size], train=False)
        target = y[start:start + batch_size]
        value, _ = _batch_loss(kind, out, target)
        total += value * len(target)
        if kind == "cross_entropy":
            correct += int(np.sum(out.argmax(axis=1) == target))
    result = {"loss": total / n}
    if kind == "cross_entropy":
        result["accuracy"] = correct / n
    return result


class _Optimizers:
    """The optimizer of every learned array: one instance, or with ``weight_decay`` two -- the
    weights (``Dense.W``, ``Embedding.C``) decayed, biases, batch norm and PReLU slopes not (as the
    NPLM).  An Embedding's table is stepped sparsely (``step_rows``, its used rows only)."""

    def __init__(self, model: Sequential, optimizer, lr, weight_decay: float):
        if isinstance(optimizer, Optimizer):
            if weight_decay:
                raise ValueError("weight_decay goes with an optimizer name; an Optimizer object brings its own")
            if lr is not None:
                optimizer.lr = lr
            self.groups = [optimizer, optimizer]
        elif isinstance(optimizer, str):
            kwargs = {} if lr is None else {"lr": lr}
            decayed = make_optimizer(optimizer, weight_decay=weight_decay, **kwargs) if weight_decay else None
            other = make_optimizer(optimizer, **kwargs)
            self.groups = [decayed or other, other]
        else:
            raise ValueError(f"optimizer must be a name or a lmkit.nn Optimizer, got {type(optimizer).__name__}")
        self.dense: list[list[tuple[np.ndarray, np.ndarray]]] = [[], []]  # (param, grad) per group
        self.sparse: list[Embedding] = []
        for layer in model.layers:
            if isinstance(layer, Embedding):
                self.sparse.append(layer)
                continue
            params, grads = layer.params(), layer.grads()
            for key, p in params.items():
                self.dense[0 if key in layer.decayed else 1].append((p, grads[key]))
        self.shared = self.groups[0] is self.groups[1]
        if self.shared:  # one index space: the dense arrays first, then the tables
            self.dense = [self.dense[0] + self.dense[1], []]

    @property
    def lr(self) -> float:
        return self.groups[0].lr

    @lr.setter
    def lr(self, value: float) -> None:
        for opt in self.groups:
            opt.lr = value

    def gradients(self) -> list[np.ndarray]:
        """Every gradient array (the tables' used rows only), for the global norm."""
        return [g for group in self.dense for _, g in group] + [t.grad_rows for t in self.sparse]

    def step(self) -> None:
        for opt, group in zip(self.groups, self.dense):
            if group:
                opt.step([p for p, _ in group], [g for _, g in group])
        first = len(self.dense[0])
        for j, table in enumerate(self.sparse):
            self.groups[0].step_rows(first + j, table.C, table.rows, table.grad_rows)

    @property
    def name(self) -> str:
        return self.groups[0].name


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each minibatch; a last batch of one example joins the one before
    (batch norm needs two)."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def fit(model: Sequential, x, y, *, loss: str = "auto", optimizer: str | Optimizer = "adam",
        lr: float | None = None, weight_decay: float = 0.0, epochs: int = 10, batch_size: int = 32,
        valid: tuple | None = None, clip_norm: float = 0.0, schedule: Callable[[int], float] | None = None,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        callbacks: Iterable[Callback | Callable] = (), shuffle: bool = True, seed: int = 0,
        blas_threads: int = 1, log_dir=None, monitor_every: int = 10) -> list[dict]:
    """Train ``model`` on ``(x, y)``; returns the per-epoch records (also ``model.history``).

    - ``x``: ``float[n, n_in]`` (cast to the model's dtype), or ids for an
      Embedding; ``y``: class ids ``int[n]`` or targets ``float[n, n_out]``.
    - ``loss``: ``"cross_entropy"`` (softmax cross-entropy of the outputs as
      logits), ``"mse"`` (mean squared error), or ``"auto"``: cross-entropy
      for integer ``y``, else mse.
    - ``optimizer``: a name for :func:`~lmkit.nn.optim.make_optimizer` (with
      ``lr``; ``None`` = its default), or an Optimizer object (kept, state
      and all: a second ``fit`` with it goes on where the first stopped).
    - ``weight_decay``: coupled L2 on the weights only (with a name).
    - ``valid``: ``(x_valid, y_valid)``, evaluated after each epoch.
    - ``clip_norm > 0``: clip the global gradient norm to it; the norm before
      clipping is the step record's ``clip/norm``.
    - ``schedule``: ``lr = schedule(steps done)`` before each step (it
      stands in for ``lr``; a
      :mod:`lmkit.nn.schedules` object); one with ``observe`` (ReduceOnPlateau)
      is also told each epoch's validation loss.
    - ``augment(x_batch, rng) -> x_batch``: applied to each training batch's
      inputs (not to ``valid``): input noise for a denoising autoencoder,
      data augmentation.
    - ``callbacks``: :class:`~lmkit.training.callbacks.Callback` objects or
      functions ``fn(run, record)`` called at each epoch's end.
    - ``log_dir``: also watch the run with a :class:`~lmkit.training.monitor.Monitor`
      writing there, every ``monitor_every`` steps.
    - ``shuffle``/``seed``: a new order of the examples each epoch, from
      ``numpy.random.default_rng(seed)`` (also ``augment``'s rng).
    - ``blas_threads``: OpenBLAS threads during training (restored after);
      1, the default, suits small networks: their products are too small to
      share, and OpenBLAS's spinning threads made a 64-256-16-256-64
      autoencoder's steps 3-14x slower (3.8-14 ms against 1.0-1.3 ms) on two
      busy cores; 0 leaves the setting alone.
    """
    if not isinstance(model, Sequential):
        raise ValueError(f"model must be a lmkit.nn.Sequential, got {type(model).__name__}")
    y = np.asarray(y)
    kind = _loss_kind(loss, y)
    y = _targets(kind, y, model)
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    n = len(y)
    if n < 2 or len(x) != n:
        raise ValueError(f"x and y must have the same length, at least 2; got {len(x)} and {n}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (math.isfinite(clip_norm) and clip_norm >= 0):
        raise ValueError(f"clip_norm must be a finite number >= 0, got {clip_norm!r}")
    if valid is not None and (len(valid) != 2 or len(valid[0]) != len(valid[1]) or len(valid[1]) == 0):
        raise ValueError("valid must be a pair (x_valid, y_valid) of the same positive length")
    if lr is None and schedule is not None:
        lr = schedule(0)
    optimizers = _Optimizers(model, optimizer, lr, weight_decay)
    if log_dir is not None:
        from lmkit.training.monitor import Monitor

        callbacks = [*callbacks, Monitor(log_dir, every=monitor_every)]
    callbacks = Callbacks(callbacks)
    rng = np.random.default_rng(seed)
    config = {"loss": kind, "optimizer": optimizers.name, "lr": optimizers.lr, "weight_decay": weight_decay,
              "epochs": int(epochs), "batch_size": int(batch_size), "clip_norm": clip_norm,
              "schedule": repr(schedule) if schedule is not None else None,
              "augment": getattr(augment, "__name__", repr(augment)) if augment is not None else None,
              "shuffle": shuffle, "seed": seed, "blas_threads": blas_threads, "n_train": n,
              "n_valid": len(valid[1]) if valid else 0,
              "network": model.spec()}
    run = Run(trainer="mlp", model=model, config=config, epochs=int(epochs), probe=SequentialProbe(model))
    model.history = []
    from lmkit.threads import blas_threads_inside

    with blas_threads_inside(blas_threads):
        _train(model, x, y, kind, int(epochs), int(batch_size), valid, clip_norm, schedule, augment, shuffle,
               rng, optimizers, callbacks, run)
    return model.history


def _train(model, x, y, kind, epochs, batch_size, valid, clip_norm, schedule, augment, shuffle, rng,
           optimizers, callbacks, run) -> None:
    history, n, step = model.history, len(y), 0
    callbacks.train_begin(run)
    for epoch in range(1, epochs + 1):
        callbacks.epoch_begin(run, epoch)
        started = time.perf_counter()
        order = rng.permutation(n) if shuffle else np.arange(n)
        loss_sum, seen = 0.0, 0
        for start, end in _batches(n, batch_size):
            pick = order[start:end]
            xb, yb = x[pick], y[pick]
            if augment is not None:
                xb = augment(xb, rng)
            step += 1
            if schedule is not None:
                optimizers.lr = schedule(step - 1)
            out = model.forward(xb, train=True)
            value, dout = _batch_loss(kind, out, yb)
            if not math.isfinite(value):
                raise TrainingDiverged(f"training loss became {value} at step {step} (epoch {epoch})")
            model.backward(dout)
            record = {"step": step, "epoch": epoch, "loss": value, "lr": optimizers.lr, "count": len(pick)}
            due = callbacks.due(step)
            for cb in due:
                cb.on_gradients(run, record)
            if clip_norm > 0:
                norm = clip_grad_norm(optimizers.gradients(), clip_norm)
                record = record | {"clip/norm": norm, "clip/clipped": norm > clip_norm}
            optimizers.step()
            run.step = step
            for cb in due:
                cb.on_step(run, record)
            loss_sum += value * len(pick)
            seen += len(pick)
            if run.stop_reason is not None:
                break
        if run.stop_reason is not None and seen < n:
            logger.info("stopped at step %d, during epoch %d: %s", step, epoch, run.stop_reason)
            break
        record = {"epoch": epoch, "train_loss": loss_sum / seen}
        if valid is not None:
            scores = evaluate(model, valid[0], valid[1], kind, max(1024, batch_size))
            record["valid_loss"] = scores["loss"]
            if "accuracy" in scores:
                record["valid_accuracy"] = scores["accuracy"]
            if hasattr(schedule, "observe"):
                schedule.observe(scores["loss"])
        record.update(seconds=time.perf_counter() - started, lr=optimizers.lr)
        history.append(record)
        run.epoch = epoch
        callbacks.epoch_end(run, record)
        logger.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"))
        if run.stop_reason is not None:
            logger.info("stopped after epoch %d: %s", epoch, run.stop_reason)
            break
    callbacks.train_end(run)
