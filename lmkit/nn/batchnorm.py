"""Batch normalization (Ioffe & Szegedy 2015, "Batch Normalization:
Accelerating Deep Network Training by Reducing Internal Covariate Shift").

Training, over the batch axis of ``x: float[B, F]`` (leading axes are all
treated as batch; ``B >= 2``)::

    mu    = mean(x)                      var = mean((x - mu)^2)     (biased)
    xhat  = (x - mu) / sqrt(var + eps)
    y     = gamma * xhat + beta

Backward through the batch statistics (the paper's Algorithm 1 chain rule,
collapsed; ``g = dy * gamma``)::

    dx     = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)
    dgamma = sum(dy * xhat)          dbeta = sum(dy)

Evaluation uses running statistics instead, updated at each training batch::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var * B / (B - 1)

(the unbiased variance, as the paper uses for inference).  ``momentum`` is
the fraction *kept* (Keras convention, 0.9); PyTorch's ``momentum=0.1`` is the
same rule with ``1 - momentum``.
"""
from __future__ import annotations

import math

import numpy as np


class BatchNorm:
    """Batch normalization over the last axis (``n_features``).

    ``gamma`` (ones) and ``beta`` (zeros) are ``float[n_features]`` of
    ``dtype`` (float32 by default); ``grad_gamma`` / ``grad_beta`` are
    overwritten in place by ``backward``; ``params = [gamma, beta]`` and
    ``grads = [grad_gamma, grad_beta]``.  ``running_mean`` (zeros) and
    ``running_var`` (ones) are used when ``train=False``.
    """

    def __init__(self, n_features: int, momentum: float = 0.9, eps: float = 1e-5,
                 dtype: type = np.float32) -> None:
        if int(n_features) <= 0:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must satisfy 0 <= momentum < 1, got {momentum!r}")
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be a positive finite number, got {eps!r}")
        n = int(n_features)
        self.n_features = n
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.gamma = np.ones(n, dtype=dtype)
        self.beta = np.zeros(n, dtype=dtype)
        self.grad_gamma = np.zeros(n, dtype=dtype)
        self.grad_beta = np.zeros(n, dtype=dtype)
        self.running_mean = np.zeros(n, dtype=dtype)
        self.running_var = np.ones(n, dtype=dtype)
        self.params = [self.gamma, self.beta]
        self.grads = [self.grad_gamma, self.grad_beta]
        self._xhat: np.ndarray | None = None  # (B, F), training forward
        self._inv_std: np.ndarray | None = None  # (F,)
        self._train = False
        self._shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """``x: float[..., F]`` to ``y`` of the same shape and dtype."""
        if x.ndim < 1 or x.shape[-1] != self.n_features:
            raise ValueError(f"x must have shape (..., {self.n_features}), got {x.shape}")
        self._shape = x.shape
        x2 = x.reshape(-1, self.n_features)  # (B, F)
        batch = x2.shape[0]
        self._train = bool(train)
        if train:
            if batch < 2:
                raise ValueError(
                    f"x has a batch of size {batch}: batch normalization in training needs at "
                    "least 2 examples to estimate a variance (use train=False to apply the "
                    "running statistics)"
                )
            mu = x2.mean(axis=0)
            centered = x2 - mu
            var = np.mean(centered * centered, axis=0)
            inv_std = 1.0 / np.sqrt(var + self.eps)
            xhat = centered * inv_std
            m = self.momentum
            self.running_mean *= m
            self.running_mean += (1.0 - m) * mu
            self.running_var *= m
            self.running_var += (1.0 - m) * var * (batch / (batch - 1))
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            xhat = (x2 - self.running_mean) * inv_std
        self._xhat = xhat.astype(x.dtype, copy=False)
        self._inv_std = inv_std.astype(x.dtype, copy=False)
        y = self._xhat * self.gamma + self.beta
        return y.astype(x.dtype, copy=False).reshape(x.shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy: float[..., F]`` (shape of the last forward) to ``dx``; also sets
        ``grad_gamma`` and ``grad_beta``."""
        if self._xhat is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        if dy.shape != self._shape:
            raise ValueError(f"dy has shape {dy.shape}, the last forward had {self._shape}")
        dy2 = dy.reshape(-1, self.n_features)
        xhat = self._xhat
        self.grad_gamma[...] = np.sum(dy2 * xhat, axis=0)
        self.grad_beta[...] = np.sum(dy2, axis=0)
        g = dy2 * self.gamma
        if self._train:
            dx = g - g.mean(axis=0) - xhat * np.mean(g * xhat, axis=0)
            dx *= self._inv_std
        else:  # running statistics are constants
            dx = g * self._inv_std
        return dx.astype(dy.dtype, copy=False).reshape(self._shape)

    def __repr__(self) -> str:
        return f"BatchNorm(n_features={self.n_features}, momentum={self.momentum}, eps={self.eps})"
