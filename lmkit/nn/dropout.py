"""Inverted dropout (Srivastava et al. 2014, "Dropout: A Simple Way to Prevent
Neural Networks from Overfitting").

In training each unit is kept with probability ``1 - rate`` and the kept ones
are scaled by ``1 / (1 - rate)``::

    y = x * mask / (1 - rate),    mask ~ Bernoulli(1 - rate), elementwise

so ``E[y] = x`` and evaluation is the identity: no rescaling at test time
(the paper scales the weights by ``1 - rate`` at test time instead; the two
are equivalent in expectation).  ``backward`` multiplies by the same scaled
mask.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


class Dropout:
    """Inverted dropout with a fixed ``rate`` in ``[0, 1)``.

    ``forward(x, train)``: ``x: float[...]`` to the same shape and dtype.
    With ``train=True`` it draws ``mask: bool[x.shape]`` from ``rng`` (a
    seeded ``numpy.random.Generator``; ``True`` = kept) and keeps it on
    ``self.mask``; with ``train=False`` (or ``rate == 0``) it returns ``x``
    itself.  ``backward(dy)`` applies the last forward's mask and scale.
    """

    def __init__(self, rate: float, rng: np.random.Generator) -> None:
        if not (isinstance(rate, numbers.Real) and math.isfinite(rate) and 0.0 <= rate < 1.0):
            raise ValueError(f"rate must satisfy 0 <= rate < 1, got {rate!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.rate = float(rate)
        self.rng = rng
        self.mask: np.ndarray | None = None
        self._scaled_mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        if not train or self.rate == 0.0:
            self.mask = None
            self._scaled_mask = None
            return x
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        self.mask = self.rng.random(x.shape, dtype=draw_dtype) >= self.rate
        scaled = self.mask.astype(x.dtype)
        scaled *= 1.0 / (1.0 - self.rate)
        self._scaled_mask = scaled
        return x * scaled

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._scaled_mask is None:  # last forward was the identity
            return dy
        if dy.shape != self._scaled_mask.shape:
            raise ValueError(f"dy has shape {dy.shape}, the mask has {self._scaled_mask.shape}")
        return dy * self._scaled_mask

    def __repr__(self) -> str:
        return f"Dropout(rate={self.rate})"
