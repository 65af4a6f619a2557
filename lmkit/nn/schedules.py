"""Learning-rate schedules: ``lr = schedule(step)``.

A schedule is a callable from the step count (``step >= 0``, an int: a
minibatch, a word, an epoch -- whatever the trainer counts) to the learning
rate; the trainer assigns it to ``optimizer.lr``.  ``ReduceOnPlateau`` also
listens to a validation metric through ``observe``.

=====================  ==================================================
schedule               ``lr(t)``
=====================  ==================================================
``LinearDecay``        ``max(lr0 - (lr0 - lr_min) * t / T, lr_min)`` --
                       word2vec's ``alpha = alpha0 * (1 - progress)``
                       floored at ``alpha0 * 1e-4`` (Mikolov et al. 2013)
``InverseTimeDecay``   ``lr0 / (1 + r t)`` -- Bengio et al. 2003, sec. 4
                       (``eps_t = eps_0 / (1 + r t)``, ``r = 1e-8`` per
                       parameter update)
``StepDecay``          ``lr0 * factor ** (t // every)``
``ExponentialDecay``   ``lr0 * gamma ** t``
``Cooldown``           ``base(t)`` times a ramp from 1 at ``start`` down to
                       ``floor`` at ``end`` -- the decay phase of a
                       warmup-stable-decay schedule (Hagele et al. 2024,
                       "Scaling Laws and Compute-Optimal Training Beyond
                       Fixed Training Durations")
``ReduceOnPlateau``    ``lr`` times ``factor`` each time the observed metric
                       has not improved for more than ``patience``
                       observations (e.g. halve the rate when validation
                       perplexity stops falling)
=====================  ==================================================
"""
from __future__ import annotations

import logging
import math
import numbers

logger = logging.getLogger(__name__)


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_step(step: int) -> int:
    if int(step) != step or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    return int(step)


class Schedule:
    """Base class: ``__call__(step) -> lr``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class LinearDecay(Schedule):
    """``lr(t) = max(lr0 - (lr0 - lr_min) * min(t / total_steps, 1), lr_min)``,
    with ``0 < lr_min <= lr0`` (word2vec: ``lr_min = lr0 * 1e-4``)."""

    def __init__(self, lr0: float, lr_min: float, total_steps: int) -> None:
        self.lr0 = _positive("lr0", lr0)
        self.lr_min = _positive("lr_min", lr_min)
        if self.lr_min > self.lr0:
            raise ValueError(f"lr_min must be <= lr0, got lr_min={lr_min!r} > lr0={lr0!r}")
        if int(total_steps) != total_steps or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        self.total_steps = int(total_steps)

    def __call__(self, step: int) -> float:
        progress = min(_check_step(step) / self.total_steps, 1.0)
        return max(self.lr0 - (self.lr0 - self.lr_min) * progress, self.lr_min)


class InverseTimeDecay(Schedule):
    """``lr(t) = lr0 / (1 + r * t)``, ``r >= 0`` (Bengio et al. 2003)."""

    def __init__(self, lr0: float, r: float) -> None:
        self.lr0 = _positive("lr0", lr0)
        if not (isinstance(r, numbers.Real) and math.isfinite(r) and r >= 0):
            raise ValueError(f"r must be a finite number >= 0, got {r!r}")
        self.r = float(r)

    def __call__(self, step: int) -> float:
        return self.lr0 / (1.0 + self.r * _check_step(step))


class StepDecay(Schedule):
    """``lr(t) = lr0 * factor ** (t // every)``, ``0 < factor <= 1``."""

    def __init__(self, lr0: float, factor: float, every: int) -> None:
        self.lr0 = _positive("lr0", lr0)
        self.factor = _positive("factor", factor)
        if self.factor > 1:
            raise ValueError(f"factor must satisfy 0 < factor <= 1, got {factor!r}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.every = int(every)

    def __call__(self, step: int) -> float:
        return self.lr0 * self.factor ** (_check_step(step) // self.every)


class ExponentialDecay(Schedule):
    """``lr(t) = lr0 * gamma ** t``, ``0 < gamma <= 1``."""

    def __init__(self, lr0: float, gamma: float) -> None:
        self.lr0 = _positive("lr0", lr0)
        self.gamma = _positive("gamma", gamma)
        if self.gamma > 1:
            raise ValueError(f"gamma must satisfy 0 < gamma <= 1, got {gamma!r}")

    def __call__(self, step: int) -> float:
        return self.lr0 * self.gamma ** _check_step(step)


class Cooldown(Schedule):
    """``lr(t) = base(t) * ramp(t)``: ``ramp = 1`` before ``start``, then a
    straight line down to ``floor`` at ``end`` (and ``floor`` after it).

    Why: a rate that falls to almost nothing over the last stretch of a run
    settles the weights into the basin the noisier steps were circling; the
    stretch can be planned from any point of a run (e.g. added when resuming
    from a checkpoint), whatever ``base`` schedule came before it.
    """

    def __init__(self, base: Schedule, start: int, end: int, floor: float) -> None:
        self.base = base
        if int(start) != start or start < 0:
            raise ValueError(f"start must be an integer >= 0, got {start!r}")
        if int(end) != end or end <= start:
            raise ValueError(f"end must be an integer > start={start!r}, got {end!r}")
        self.start, self.end = int(start), int(end)
        self.floor = _positive("floor", floor)
        if self.floor > 1:
            raise ValueError(f"floor must satisfy 0 < floor <= 1, got {floor!r}")

    def __call__(self, step: int) -> float:
        step = _check_step(step)
        progress = min(max(step - self.start, 0) / (self.end - self.start), 1.0)
        return self.base(step) * (1.0 - (1.0 - self.floor) * progress)


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when a metric stops improving.

    ``observe(metric)`` after each evaluation (lower is better with
    ``mode="min"``, e.g. validation perplexity; ``mode="max"`` for
    accuracies).  An observation improves on the best so far if it beats it
    by more than ``threshold * |best|`` (relative).  After more than
    ``patience`` observations in a row without improvement the rate becomes
    ``max(lr * factor, min_lr)`` and the count restarts.  ``__call__(step)``
    returns the current rate whatever the step.
    """

    def __init__(self, lr0: float, factor: float = 0.5, patience: int = 0,
                 threshold: float = 1e-4, mode: str = "min", min_lr: float = 1e-12) -> None:
        self.lr0 = _positive("lr0", lr0)
        self.factor = _positive("factor", factor)
        if self.factor >= 1:
            raise ValueError(f"factor must satisfy 0 < factor < 1, got {factor!r}")
        if int(patience) != patience or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        if not (isinstance(threshold, numbers.Real) and 0 <= threshold < 1):
            raise ValueError(f"threshold must satisfy 0 <= threshold < 1, got {threshold!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.mode = mode
        self.min_lr = _positive("min_lr", min_lr)
        self.lr = self.lr0
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_observations = 0
        self.reductions = 0

    def observe(self, metric: float) -> float:
        """Record one evaluation of the metric; return the (new) rate."""
        metric = float(metric)
        if math.isnan(metric):
            raise ValueError("metric is NaN")
        margin = self.threshold * abs(self.best) if math.isfinite(self.best) else 0.0
        if self.mode == "min":
            improved = metric < self.best - margin
        else:
            improved = metric > self.best + margin
        if improved:
            self.best = metric
            self.bad_observations = 0
            return self.lr
        self.bad_observations += 1
        if self.bad_observations > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if new < self.lr:
                logger.info("no improvement for %d evaluation(s): lr %.3g -> %.3g",
                            self.bad_observations, self.lr, new)
                self.reductions += 1
            self.lr = new
            self.bad_observations = 0
        return self.lr

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr
