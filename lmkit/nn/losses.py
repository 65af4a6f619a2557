"""Losses with their gradients, stable for any finite input.

- ``log_softmax``: ``z - max(z) - log(sum(exp(z - max(z))))`` along the last
  axis: the log-sum-exp trick, so logits of 1e30 neither overflow nor lose
  the target's log-probability.
- ``softmax_cross_entropy``: the language model's loss (Bengio et al. 2003:
  the negative log-likelihood of the next word under a softmax),
  ``L = -mean_b log softmax(z_b)[t_b]``, ``dL/dz = (softmax(z) - onehot(t)) / B``.
- ``mse``: ``L = mean((p - y)^2)``, ``dL/dp = 2 (p - y) / N`` (the layer
  library's regression loss).

(word2vec's binary logistic loss lives in its kernels, :mod:`lmkit.word2vec.kernels`.)

Each returns ``(loss, grad)``: ``loss`` a Python float (accumulated in
float64), ``grad`` in the input's dtype and shape.
"""
from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``float[..., V]`` to log-probabilities of the same shape and dtype."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray, *,
                          out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits: float[B, V]`` against ``targets: int[B]``
    (ids in ``[0, V)``); returns ``(loss, dlogits: float[B, V])``.

    ``out`` (``float[B, V]``, may be ``logits`` itself) receives ``dlogits``
    without allocating a second ``B x V`` array -- the output layer of a
    language model is the largest array in its step.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (B, V), got shape {logits.shape}")
    targets = np.asarray(targets)
    batch, vocab = logits.shape
    if targets.shape != (batch,) or (batch and targets.dtype.kind not in "iu"):
        raise ValueError(f"targets must be an integer array of shape ({batch},), got "
                         f"{targets.dtype}{list(targets.shape)}")
    if batch == 0:
        raise ValueError("logits has an empty batch")
    if targets.min() < 0 or targets.max() >= vocab:
        bad = targets.min() if targets.min() < 0 else targets.max()
        raise ValueError(f"targets contains {bad}, outside [0, {vocab})")
    if out is None:
        out = np.empty_like(logits)
    elif out.shape != logits.shape:
        raise ValueError(f"out has shape {out.shape}, logits has {logits.shape}")
    rows = np.arange(batch)
    np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)  # z - max z
    target_shifted = out[rows, targets].astype(np.float64)
    np.exp(out, out=out)
    sums = out.sum(axis=1, keepdims=True)
    log_sums = np.log(sums.astype(np.float64))[:, 0]
    loss = float(np.mean(log_sums - target_shifted))
    out /= sums  # softmax
    out[rows, targets] -= 1.0
    out /= batch
    return loss, out


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error ``mean((pred - target)^2)`` over all elements;
    returns ``(loss, dpred)``."""
    target = np.asarray(target)
    if target.shape != pred.shape:
        raise ValueError(f"target has shape {target.shape}, pred has {pred.shape}")
    if pred.size == 0:
        raise ValueError("pred is empty")
    diff = pred - target
    loss = float(np.mean(diff.astype(np.float64) ** 2))
    diff *= 2.0 / pred.size
    return loss, diff.astype(pred.dtype, copy=False)
