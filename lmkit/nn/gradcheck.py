"""Finite-difference gradient checking.

The central difference ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` has
error ``O(eps^2)`` from truncation plus ``O(u |f| / eps)`` from rounding
(``u`` the unit roundoff), so in float64 with ``eps ~ 1e-6`` it agrees with a
correct analytic gradient to ~1e-9 relative -- and a wrong one shows up as
an error of order 1.  Run checks in float64: in float32 rounding alone is
~1e-3.  (The method: e.g. LeCun et al. 1998, "Efficient BackProp"; CS231n's
"gradient checks" notes.)

Rounding noise is *absolute* (~``u |f| / eps``, ~1e-10 for a loss of order
1), so an element whose true gradient is tiny (the output bias of a rare word
under a mean loss: ~1e-5) carries a larger relative error than the big ones:
check a summed rather than averaged loss, use ``eps ~ 1e-5``, or raise
``floor`` (the denominator's lower bound) to the size below which you accept
an absolute comparison.

The function under test closes over ``x``, which the checker perturbs in
place one element at a time and always restores, so any model whose loss
reads its parameter arrays can be checked without a functional rewrite.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``.

    ``x: float[...]`` (float64 advised) is modified in place during the call
    and restored exactly afterwards, even if ``f`` raises.  Returns a float64
    array of ``x``'s shape.  Costs ``2 * x.size`` calls of ``f``.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError("x must be a floating numpy array")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = float(f())
            x[idx] = old - eps
            f_minus = float(f())
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_errors(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """Elementwise ``|a - b| / max(|a|, |b|, floor)``: relative where the
    values are of size, absolute (scaled by ``1/floor``) where both are ~0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape}, b has {b.shape}")
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)


def max_relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """The largest of ``relative_errors(a, b, floor)`` (0 for empty arrays)."""
    err = relative_errors(a, b, floor)
    return float(err.max()) if err.size else 0.0


def check_gradient(f: Callable[[], float], x: np.ndarray, analytic: np.ndarray,
                   eps: float = 1e-6, tol: float = 1e-6, floor: float = 1e-8) -> float:
    """Assert that ``analytic`` matches the numerical gradient of ``f`` at ``x``.

    Returns the max relative error; raises ``AssertionError`` naming the worst
    element, both values and the tolerance when it exceeds ``tol``.
    """
    analytic = np.asarray(analytic)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic has shape {analytic.shape}, x has {x.shape}")
    numeric = numerical_gradient(f, x, eps)
    err = relative_errors(analytic, numeric, floor)
    worst = float(err.max()) if err.size else 0.0
    if not worst <= tol:  # also catches NaN
        idx = np.unravel_index(int(np.nanargmax(err)) if np.isfinite(err).any() else 0, err.shape)
        raise AssertionError(
            f"gradient check failed: max relative error {worst:.3g} > tol {tol:g} at index "
            f"{tuple(int(i) for i in idx)}: analytic {float(analytic[idx]):.10g}, "
            f"numerical {float(numeric[idx]):.10g} ({int((err > tol).sum())} of {err.size} "
            f"elements over tol)"
        )
    return worst
