"""Gradient clipping by global norm (Pascanu, Mikolov & Bengio 2013, "On the
difficulty of training recurrent neural networks", Algorithm 1).

With ``n = sqrt(sum_i ||g_i||^2)`` over *all* gradient arrays together, if
``n > max_norm`` every array is scaled by ``max_norm / n``: the direction of
the step is kept, only its length is capped, so one exploding minibatch
cannot throw the parameters far away.
"""
from __future__ import annotations

import logging
import math
import numbers
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """``sqrt(sum_i sum(g_i ** 2))``, accumulated in float64."""
    total = 0.0
    for g in grads:
        flat = g.reshape(-1).astype(np.float64, copy=False)
        total += float(flat @ flat)
    return math.sqrt(total)


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm: float, *,
                   error_if_nonfinite: bool = False) -> float:
    """Scale ``grads`` (float arrays, in place) so their global L2 norm is at
    most ``max_norm``; return the norm *before* clipping.

    A non-finite norm (an inf or NaN gradient) leaves the arrays untouched
    and is returned as is (logged as a warning), or raises ``ValueError``
    with ``error_if_nonfinite=True``: scaling would only spread the NaN.
    """
    if not (isinstance(max_norm, numbers.Real) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive finite number, got {max_norm!r}")
    for i, g in enumerate(grads):
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f" or not g.flags.writeable:
            raise ValueError(f"grads[{i}] must be a writable floating numpy array")
    norm = global_norm(grads)
    if not math.isfinite(norm):
        if error_if_nonfinite:
            raise ValueError(f"the global gradient norm is {norm}; grads contain inf or NaN")
        logger.warning("gradient norm is %s; not clipping", norm)
        return norm
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g *= scale
    return norm
