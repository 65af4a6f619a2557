"""What the monitor measures of a network and when it says something is wrong.

The measures follow the "babysitting the learning process" advice of the
CS231n notes: per layer the gradient norm, the weight norm and the ratio of
the update's size to the weights' (healthy near 1e-3); per hidden layer the
pre-activation's mean and spread and how many units are saturated or dead;
per epoch the train/valid gap.  :class:`Diagnosis` turns them into warnings,
each naming the layer, the step and the number; a warning fires when its
condition starts and again only after the condition has cleared, so a run
that stays unhealthy is not buried under repeats.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VANISHING_GRAD = 1e-7        # a layer's gradient norm below this: it has stopped learning
EXPLODING_GROWTH = 100.0     # a gradient norm this many times its previous report: on the way to divergence
UPDATE_RATIO_BAND = (1e-5, 1e-1)  # ||dW|| / ||W|| outside: learning rate far too low / too high (~1e-3 is healthy)
SATURATED_LIMIT = 0.5        # more than this fraction of hidden units saturated or dead
OVERFIT_EPOCHS = 2           # valid perplexity rising while train falls this many epochs in a row
TANH_SATURATED = 0.97        # |tanh(x)| beyond this: the gradient 1 - y^2 is < 0.06
SIGMOID_BAND = (0.03, 0.97)  # sigmoid outside: the gradient y (1 - y) is < 0.03


def _row_sums_of_squares(a: np.ndarray) -> np.ndarray:
    """``float64[rows]``: each row's sum of squares, the products summed in the array's own dtype
    (a row is short: float32 loses nothing that matters) without copying strided views."""
    return np.einsum("ij,ij->i", a, a).astype(np.float64)


def norm(a: np.ndarray) -> float:
    """L2 norm of all of ``a``'s entries (rows summed in float64)."""
    if a.ndim == 2:
        return float(np.sqrt(_row_sums_of_squares(a).sum()))
    flat = a.ravel().astype(np.float64)
    return float(np.sqrt(flat @ flat))


def update_ratio(before: np.ndarray, after: np.ndarray) -> float | None:
    """``||after - before|| / ||before||`` over the rows the step changed (None if those were zero).

    A dense layer's every row changes; an embedding's step (or a sampled
    softmax's output layer) touches only the batch's rows, and the ratio over
    the whole matrix would drown those in rows that did not move.
    """
    delta = after - before
    if delta.ndim != 2:
        size = norm(before)
        return norm(delta) / size if size > 0 else None
    moved = _row_sums_of_squares(delta)
    changed = moved > 0
    size = float(np.sqrt(_row_sums_of_squares(before)[changed].sum()))
    return float(np.sqrt(moved.sum())) / size if size > 0 else None


@dataclass(frozen=True)
class HiddenStats:
    """A hidden layer on one batch: its pre-activation's mean and std, the fraction of its
    activations saturated (tanh, sigmoid) and of its units dead (ReLU: zero over the whole batch)."""

    pre_mean: float
    pre_std: float
    saturated: float | None
    dead: float | None


def hidden_stats(pre: np.ndarray, activation: str) -> HiddenStats:
    """:class:`HiddenStats` of ``pre: float[B, h]`` under ``activation``."""
    saturated = dead = None
    if activation == "tanh":
        saturated = float(np.mean(np.abs(np.tanh(pre)) > TANH_SATURATED))
    elif activation == "sigmoid":
        y = 1.0 / (1.0 + np.exp(-pre.astype(np.float64)))
        saturated = float(np.mean((y < SIGMOID_BAND[0]) | (y > SIGMOID_BAND[1])))
    elif activation == "relu":
        dead = float(np.mean(np.all(pre <= 0, axis=0)))
    return HiddenStats(float(pre.mean()), float(pre.std()), saturated, dead)


class Diagnosis:
    """Reads the monitor's figures and returns warnings (dicts with ``kind``, ``layer``, ``value``,
    ``message``) when the evidence says something is wrong."""

    def __init__(self):
        self.last_grad: dict[str, float] = {}
        self.active: set[tuple[str, str]] = set()
        self.epochs: list[tuple[float, float]] = []  # (train loss, valid ppl)

    def _check(self, condition: bool, kind: str, layer: str, value: float, message: str) -> list[dict]:
        key = (kind, layer)
        if not condition:
            self.active.discard(key)
            return []
        if key in self.active:
            return []
        self.active.add(key)
        return [{"kind": kind, "layer": layer, "value": value, "message": message}]

    def step(self, step: int, grad_norms: dict, ratios: dict, hidden: dict[str, HiddenStats]) -> list[dict]:
        """Warnings of one monitored step (``ratios``: of the weight matrices; biases have none to keep)."""
        warnings = []
        for layer, g in grad_norms.items():
            warnings += self._check(g < VANISHING_GRAD, "vanishing_gradient", layer, g,
                                    f"step {step}: gradient norm of {layer} is {g:.3g} (< {VANISHING_GRAD:g}): "
                                    f"it has stopped learning")
            previous = self.last_grad.get(layer)
            growth = g / previous if previous else 1.0
            warnings += self._check(growth > EXPLODING_GROWTH, "exploding_gradient", layer, growth,
                                    f"step {step}: gradient norm of {layer} grew {growth:.3g}x since the last "
                                    f"report (to {g:.3g})")
            self.last_grad[layer] = g
        low, high = UPDATE_RATIO_BAND
        for layer, r in ratios.items():
            if r is None:
                continue
            warnings += self._check(not low <= r <= high, "update_ratio", layer, r,
                                    f"step {step}: update/weight ratio of {layer} is {r:.3g}, outside "
                                    f"[{low:g}, {high:g}] (~1e-3 is healthy): the learning rate is "
                                    f"{'too low' if r < low else 'too high'} for it")
        for layer, s in hidden.items():
            for kind, fraction in (("saturated", s.saturated), ("dead", s.dead)):
                if fraction is None:
                    continue
                warnings += self._check(fraction > SATURATED_LIMIT, f"{kind}_units", layer, fraction,
                                        f"step {step}: {fraction:.0%} of the {layer} layer's "
                                        f"{'activations are saturated' if kind == 'saturated' else 'units are dead'}")
        return warnings

    def epoch(self, epoch: int, train_loss: float, valid_ppl: float | None) -> list[dict]:
        """Warnings of one epoch: overfitting when valid rises while train falls ``OVERFIT_EPOCHS`` in a row."""
        if valid_ppl is None or not math.isfinite(valid_ppl):
            return []
        self.epochs.append((train_loss, valid_ppl))
        recent = self.epochs[-(OVERFIT_EPOCHS + 1):]
        overfitting = len(recent) == OVERFIT_EPOCHS + 1 and all(
            b[0] < a[0] and b[1] > a[1] for a, b in zip(recent, recent[1:]))
        return self._check(overfitting, "overfitting", "model", valid_ppl,
                           f"epoch {epoch}: validation perplexity rose for {OVERFIT_EPOCHS} epochs "
                           f"(to {valid_ppl:.2f}) while the training loss fell: overfitting")
