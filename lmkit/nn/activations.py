"""Elementwise nonlinearities with their backward passes.

Each activation is an object: ``y = act.forward(x)`` caches what the backward
pass needs, ``dx = act.backward(dy)`` returns ``dL/dx`` given ``dy = dL/dy``.
``act.params`` / ``act.grads`` list the learned arrays and their gradients (the
gradient arrays are overwritten in place by each ``backward``, so the lists
stay valid for an optimizer).  Arrays are ``float32[..., units]`` (any leading
axes; float64 works too, for gradient checks); outputs keep the input dtype.

==============  ======================================  ==========================
name            forward ``y``                           backward ``dy/dx``
==============  ======================================  ==========================
``sigmoid``     ``1 / (1 + exp(-x))``                   ``y (1 - y)``
``tanh``        ``tanh(x)``                             ``1 - y^2``
``relu``        ``max(x, 0)``                           ``[x > 0]``
``leaky_relu``  ``x if x > 0 else slope x``             ``1 or slope``
``prelu``       ``x if x > 0 else alpha_j x``           ``1 or alpha_j``;  ``dy/dalpha_j = min(x, 0)``
``elu``         ``x if x > 0 else alpha (e^x - 1)``     ``1 or y + alpha``
``maxout``      ``max_i x[..., j*k + i]``               1 at the arg max, else 0
``identity``    ``x``                                   1
==============  ======================================  ==========================

Sources: tanh/sigmoid units and their saturation, Glorot & Bengio 2010;
ReLU, Glorot, Bordes & Bengio 2011; leaky ReLU, Maas et al. 2013; PReLU, He et
al. 2015; ELU, Clevert et al. 2016; maxout, Goodfellow et al. 2013.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from lmkit.nn.init import leaky_relu_gain


class Activation:
    """Base class: a parameter-free activation unless a subclass adds params."""

    name = "activation"

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self._cache: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cached(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.name}.backward called before forward")
        if dy.shape != self._cache.shape:
            raise ValueError(f"dy has shape {dy.shape}, forward output had {self._cache.shape}")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """Logistic sigmoid, computed without overflow for any ``|x|``: with
    ``e = exp(-|x|) <= 1``, ``y = 1/(1+e)`` for ``x >= 0`` and ``e/(1+e)``
    otherwise."""

    name = "sigmoid"

    def forward(self, x):
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1.0, e)
        y /= 1.0 + e
        y = y.astype(x.dtype, copy=False)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cached(dy)
        return dy * y * (1.0 - y)


class Tanh(Activation):
    """Hyperbolic tangent (the NPLM's hidden unit, Bengio et al. 2003)."""

    name = "tanh"

    def forward(self, x):
        y = np.tanh(x)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cached(dy)
        return dy * (1.0 - y * y)


class ReLU(Activation):
    """Rectified linear unit; the subgradient at 0 is taken as 0."""

    name = "relu"

    def forward(self, x):
        self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, dy):
        mask = self._cached(dy)
        return dy * mask


class LeakyReLU(Activation):
    """``x`` for ``x > 0``, ``slope * x`` otherwise (fixed ``slope >= 0``)."""

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        if not math.isfinite(slope) or slope < 0:
            raise ValueError(f"slope must be a finite number >= 0, got {slope!r}")
        self.slope = float(slope)

    def forward(self, x):
        positive = x > 0
        self._cache = positive
        return np.where(positive, x, x * self.slope).astype(x.dtype, copy=False)

    def backward(self, dy):
        positive = self._cached(dy)
        return np.where(positive, dy, dy * self.slope).astype(dy.dtype, copy=False)

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class PReLU(Activation):
    """Leaky ReLU whose slope is learned per unit (He et al. 2015).

    ``alpha: float32[units]`` (initially ``init``, 0.25 in the paper) broadcasts
    over the last axis of ``x: float[..., units]``.  ``backward`` sets
    ``grad_alpha[j] = sum over leading axes of dy * min(x, 0)`` (overwriting it).
    """

    name = "prelu"

    def __init__(self, units: int, init: float = 0.25, dtype: type = np.float32) -> None:
        super().__init__()
        if int(units) <= 0:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        self.alpha = np.full(int(units), init, dtype=dtype)
        self.grad_alpha = np.zeros_like(self.alpha)
        self.params = [self.alpha]
        self.grads = [self.grad_alpha]

    def forward(self, x):
        if x.shape[-1:] != self.alpha.shape:
            raise ValueError(f"x has {x.shape[-1:]} units in its last axis, prelu has {self.alpha.shape}")
        self._cache = x
        return np.where(x > 0, x, x * self.alpha).astype(x.dtype, copy=False)

    def backward(self, dy):
        x = self._cached(dy)
        negative_part = np.minimum(x, 0)
        self.grad_alpha[...] = (dy * negative_part).reshape(-1, x.shape[-1]).sum(axis=0)
        return np.where(x > 0, dy, dy * self.alpha).astype(dy.dtype, copy=False)

    def __repr__(self):
        return f"PReLU(units={self.alpha.size})"


class ELU(Activation):
    """Exponential linear unit (Clevert et al. 2016): smooth, saturating to
    ``-alpha`` for very negative ``x``; ``expm1`` keeps it accurate near 0."""

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not math.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x):
        negative = np.expm1(np.minimum(x, 0))
        negative *= self.alpha
        y = np.where(x > 0, x, negative).astype(x.dtype, copy=False)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._cached(dy)
        return np.where(y > 0, dy, dy * (y + self.alpha)).astype(dy.dtype, copy=False)

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class Maxout(Activation):
    """Maxout (Goodfellow et al. 2013): ``x: float[..., units * k]`` to
    ``y: float[..., units]``, ``y[..., j] = max(x[..., j*k : (j+1)*k])`` (the
    ``k`` pieces of a unit are adjacent).  The gradient goes to the arg max
    (the first one on ties)."""

    name = "maxout"

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        if int(k) < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.k = int(k)
        self._in_shape: tuple[int, ...] = ()

    def forward(self, x):
        if x.shape[-1] % self.k:
            raise ValueError(f"x has {x.shape[-1]} columns, not a multiple of k={self.k}")
        pieces = x.reshape(*x.shape[:-1], x.shape[-1] // self.k, self.k)  # (..., units, k)
        arg = pieces.argmax(axis=-1)
        self._cache = arg
        self._in_shape = x.shape
        return np.take_along_axis(pieces, arg[..., None], axis=-1)[..., 0]

    def backward(self, dy):
        arg = self._cached(dy)
        dx = np.zeros((*dy.shape, self.k), dtype=dy.dtype)  # (..., units, k)
        np.put_along_axis(dx, arg[..., None], dy[..., None], axis=-1)
        return dx.reshape(self._in_shape)

    def __repr__(self):
        return f"Maxout(k={self.k})"


class Identity(Activation):
    """``y = x``: a linear layer (the NPLM's output)."""

    name = "identity"

    def forward(self, x):
        self._cache = x  # a reference, for the shape check in backward
        return x

    def backward(self, dy):
        self._cached(dy)
        return dy


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, Maxout, Identity)
}


def get_activation(name: str, **params) -> Activation:
    """A new activation object by ``name`` (see the module table), with its
    parameters: ``leaky_relu(slope=0.01)``, ``prelu(units, init=0.25,
    dtype=float32)``, ``elu(alpha=1.0)``, ``maxout(k=2)``."""
    cls = ACTIVATIONS.get(name)
    if cls is None:
        raise ValueError(f"unknown activation name={name!r}; valid names: {', '.join(ACTIVATIONS)}")
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unexpected = sorted(set(params) - set(accepted))
    if unexpected:
        raise ValueError(
            f"unexpected parameter(s) {', '.join(unexpected)} for activation {name!r}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
    return cls(**params)


def recommended_init(name: str, **params) -> tuple[str, float]:
    """``(scheme, gain)`` for the weights feeding activation ``name``, to pass
    to ``init_weights(shape, scheme, rng, gain=gain)``.

    tanh, sigmoid, identity: Glorot & Bengio's ``xavier_uniform`` (gain 1).
    relu, maxout: He's ``he_normal`` (gain 1).  leaky_relu / prelu of slope
    ``a`` (``slope=`` / ``init=``, defaults 0.01 / 0.25): ``he_normal`` with
    ``leaky_relu_gain(a)``.  elu: ``he_normal`` (Clevert et al. 2016 follow He).
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation name={name!r}; valid names: {', '.join(ACTIVATIONS)}")
    if name in ("tanh", "sigmoid", "identity"):
        return "xavier_uniform", 1.0
    if name == "leaky_relu":
        return "he_normal", leaky_relu_gain(params.get("slope", 0.01))
    if name == "prelu":
        return "he_normal", leaky_relu_gain(params.get("init", 0.25))
    return "he_normal", 1.0
