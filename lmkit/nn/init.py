"""Weight initialization: the variance each layer starts from.

A layer ``y = W x`` with ``W: float[out, in]`` and i.i.d. zero-mean weights
multiplies the second moment of its input by ``fan_in * Var(W)``.  Stacking
layers multiplies those factors, so a deep network keeps its signal only if
each factor is close to one:

- ``lecun``  (LeCun et al. 1998, "Efficient BackProp"; the "calibrated"
  initialization): ``Var(W) = 1 / fan_in`` keeps the variance of a *linear*
  layer.
- ``xavier_*`` (Glorot & Bengio 2010, "Understanding the difficulty of
  training deep feedforward neural networks"): ``Var(W) = 2 / (fan_in +
  fan_out)``, the compromise between keeping the forward variance
  (``1/fan_in``) and the backward one (``1/fan_out``) for tanh/sigmoid units
  in their linear regime.  Under ReLU, which zeroes half of its input, it
  halves the second moment at every layer.
- ``he_*`` (He et al. 2015, "Delving Deep into Rectifiers"): ``Var(W) = 2 /
  fan_in`` makes up for the half that ReLU discards; for a leaky ReLU/PReLU of
  slope ``a`` the factor is ``2 / ((1 + a^2) fan_in)`` (their eq. 15).
- ``small``: ``0.01 * N(0, 1)``, the old default: in a deep network the signal
  shrinks by ``fan_in * 1e-4 / 2`` per ReLU layer and vanishes.
- ``zeros`` / ``constant``: every unit of a layer computes the same function
  and receives the same gradient, so they stay identical for ever (the
  *symmetry* problem).  Fine for biases, never for weight matrices.

Gain convention (one rule for every random scheme): ``gain`` multiplies the
scheme's standard deviation (and the bound of the uniform schemes).  So
``he_normal`` with ``gain=g`` draws ``N(0, (g * sqrt(2 / fan_in))^2)``, and
``gain=leaky_relu_gain(a) = 1 / sqrt(1 + a^2)`` gives exactly He et al.'s
leaky-ReLU variance ``2 / ((1 + a^2) fan_in)``; with ``gain=1`` each scheme is
its paper's formula.

Fan convention (``fan_in_fan_out``):

- ``layout="dense"`` (default): a weight ``W: float[out, in]`` used as
  ``y = W @ x`` has ``fan_in = in = shape[1]``, ``fan_out = out = shape[0]``;
  a 1-D shape ``(n,)`` (bias-like) has ``fan_in = fan_out = n``; shapes with
  more axes ``(out, in, *k)`` multiply both by ``prod(k)`` (convolutions).
- ``layout="embedding"``: a table ``C: float[V, d]`` is a dense layer fed a
  one-hot vector, so each output coordinate sees exactly one input:
  ``fan_in = 1``, ``fan_out = d``.  ``lecun`` then gives ``N(0, 1)`` rows
  (PyTorch's ``nn.Embedding`` default).
"""
from __future__ import annotations

import math

import numpy as np

SCHEMES = (
    "zeros",
    "constant",
    "small",
    "lecun",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
)
LAYOUTS = ("dense", "embedding")


def fan_in_fan_out(shape: tuple[int, ...], layout: str = "dense") -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of this ``shape``.

    ``layout="dense"``: ``shape = (out, in, *receptive)`` gives ``fan_in =
    in * prod(receptive)``, ``fan_out = out * prod(receptive)``; ``(n,)`` gives
    ``(n, n)``.  ``layout="embedding"``: ``shape = (V, d)`` gives ``(1, d)``
    (one active one-hot input per output coordinate).  See the module
    docstring for why.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0 or any(s <= 0 for s in shape):
        raise ValueError(f"shape must be a non-empty tuple of positive sizes, got {shape}")
    if layout == "embedding":
        if len(shape) != 2:
            raise ValueError(f"shape of an embedding table must be (V, d), got {shape}")
        return 1, shape[1]
    if layout != "dense":
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def scheme_std(scheme: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """The standard deviation a random ``scheme`` draws with (uniform schemes
    included: ``U(-b, b)`` has std ``b / sqrt(3)``); 0 for zeros/constant."""
    _check_scheme(scheme)
    if scheme in ("zeros", "constant"):
        return 0.0
    base = {
        "small": 0.01,
        "lecun": math.sqrt(1.0 / fan_in),
        "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "he_normal": math.sqrt(2.0 / fan_in),
        "he_uniform": math.sqrt(2.0 / fan_in),
    }[scheme]
    return gain * base


def init_weights(
    shape: tuple[int, ...],
    scheme: str,
    rng: np.random.Generator,
    *,
    gain: float = 1.0,
    value: float = 0.0,
    dtype: type = np.float32,
    layout: str = "dense",
) -> np.ndarray:
    """Draw a new weight array of ``shape`` and ``dtype`` (default float32).

    ========================  =============================================
    scheme                    distribution (``g = gain``)
    ========================  =============================================
    ``"zeros"``               all 0 (symmetry pitfall: biases only)
    ``"constant"``            all ``value`` (same pitfall)
    ``"small"``               ``g * 0.01 * N(0, 1)``
    ``"lecun"``               ``g * N(0, 1) / sqrt(fan_in)``
    ``"xavier_normal"``       ``N(0, s^2)``, ``s = g * sqrt(2 / (fan_in + fan_out))``
    ``"xavier_uniform"``      ``U(-b, b)``, ``b = g * sqrt(6 / (fan_in + fan_out))``
    ``"he_normal"``           ``N(0, s^2)``, ``s = g * sqrt(2 / fan_in)``
    ``"he_uniform"``          ``U(-b, b)``, ``b = g * sqrt(6 / fan_in)``
    ========================  =============================================

    ``fan_in, fan_out = fan_in_fan_out(shape, layout)``.  ``rng`` is a seeded
    ``numpy.random.Generator``: the same seed gives the same array.
    """
    _check_scheme(scheme)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    if not math.isfinite(gain) or gain <= 0:
        raise ValueError(f"gain must be a positive finite number, got {gain!r}")
    fan_in, fan_out = fan_in_fan_out(shape, layout)
    shape = tuple(int(s) for s in shape)
    if scheme == "zeros":
        return np.zeros(shape, dtype=dtype)
    if scheme == "constant":
        return np.full(shape, value, dtype=dtype)
    std = scheme_std(scheme, fan_in, fan_out, gain)
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    if scheme.endswith("_uniform"):
        bound = std * math.sqrt(3.0)  # U(-b, b) has variance b^2 / 3
        w = rng.random(shape, dtype=draw_dtype)
        w *= 2.0 * bound
        w -= bound
    else:
        w = rng.standard_normal(shape, dtype=draw_dtype)
        w *= std
    return w.astype(dtype, copy=False)


def leaky_relu_gain(slope: float) -> float:
    """Gain for ``he_*`` under a leaky ReLU/PReLU of negative ``slope`` ``a``.

    Returns ``1 / sqrt(1 + a^2)``, so that ``he_normal`` with this gain has
    ``Var(W) = 2 / ((1 + a^2) fan_in)`` (He et al. 2015, eq. 15): a leaky unit
    keeps ``(1 + a^2) / 2`` of its input's second moment instead of ReLU's
    ``1/2``.  ``slope = 0`` (ReLU) gives 1; ``slope = 1`` (linear) gives
    ``1/sqrt(2)``, i.e. LeCun's ``1 / fan_in``.
    """
    if not math.isfinite(slope) or slope < 0:
        raise ValueError(f"slope must be a finite number >= 0, got {slope!r}")
    return 1.0 / math.sqrt(1.0 + slope * slope)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme={scheme!r}; valid schemes: {', '.join(SCHEMES)}")
