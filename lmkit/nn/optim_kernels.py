"""Compiled row updates: every optimizer step in ``lmkit.nn.optim``.

A minibatch of a language model touches only a few rows of an embedding
table ``P: float32[V, d]``; these kernels update just those rows, in place,
in one fused pass (no temporaries).  The dense step is the same kernel on the
whole array seen as a single row (``P.reshape(1, -1)``, ``rows = [0]``): one
pass over the parameter, its gradient and state, where a chain of numpy
operations made six or more.  Every kernel takes:

- ``P: float[V, d]`` the table, updated in place;
- ``rows: int64[n]`` distinct row ids (``sum_duplicate_rows`` makes them so);
- ``G: float[n, d]`` the gradient of row ``rows[j]`` in ``G[j]``;
- the optimizer's state tables (same shape as ``P``), updated in place for
  the given rows only;
- ``wd`` (coupled L2: ``g = G + wd * p``) and ``decay = 1 - lr * decoupled``
  (AdamW-style: ``p <- decay * p - lr * update``).

Scalars arrive as numpy scalars of the table's dtype (the caller converts
them, complements like ``1 - rho`` included, and no float literal appears
below), so a float32 table is updated in float32 arithmetic, as torch's
optimizers do, and a float64 one in float64.  Float64 arithmetic on a float32
table rounded once instead of at each operation (an ulp or so of the stored
value) and made Adam's dense step 1.6x slower: its square roots and divisions
ran at half the vector width (BENCHMARKS.md, NPLM run 12).  The tests check every update against its formula
written out in float64 (``tests/nn/test_nn_optim.py``): to 1e-12 for float64
tables, to float32's precision for float32 ones.
"""
from __future__ import annotations

import numpy as np

from lmkit._jit import jit_numpy_errors


@jit_numpy_errors
def sum_duplicate_rows(rows, grad_rows, out_rows, out_grads):
    """Merge repeated row ids by summing their gradients.

    ``rows: int64[k]``, ``grad_rows: float[k, d]`` in; ``out_rows: int64[k]``,
    ``out_grads: float[k, d]`` scratch out.  Returns ``n``: ``out_rows[:n]``
    are the distinct ids in increasing order and ``out_grads[j]`` is the sum,
    in order of appearance, of the gradients given for ``out_rows[j]``.
    """
    order = np.argsort(rows, kind="mergesort")  # stable: sums in input order
    n = 0
    d = grad_rows.shape[1]
    for j in range(rows.shape[0]):
        src = order[j]
        r = rows[src]
        if n > 0 and out_rows[n - 1] == r:
            for c in range(d):
                out_grads[n - 1, c] += grad_rows[src, c]
        else:
            out_rows[n] = r
            for c in range(d):
                out_grads[n, c] = grad_rows[src, c]
            n += 1
    return n


@jit_numpy_errors
def sgd_rows(P, rows, G, lr, wd, decay):
    """``p <- decay * p - lr * g``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            P[r, c] = decay * p - lr * g


@jit_numpy_errors
def momentum_rows(P, rows, G, Vel, lr, mu, wd, decay):
    """``v <- mu * v - lr * g;  p <- decay * p + v``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            v = mu * Vel[r, c] - lr * g
            Vel[r, c] = v
            P[r, c] = decay * p + v


@jit_numpy_errors
def nesterov_rows(P, rows, G, Vel, lr, mu, wd, decay):
    """``v <- mu * v - lr * g;  p <- decay * p + mu * v - lr * g``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            v = mu * Vel[r, c] - lr * g
            Vel[r, c] = v
            P[r, c] = decay * p + mu * v - lr * g


@jit_numpy_errors
def adagrad_rows(P, rows, G, Acc, lr, eps, wd, decay):
    """``a <- a + g^2;  p <- decay * p - lr * g / (sqrt(a) + eps)``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            a = Acc[r, c] + g * g
            Acc[r, c] = a
            P[r, c] = decay * p - lr * g / (np.sqrt(a) + eps)


@jit_numpy_errors
def rmsprop_rows(P, rows, G, Sq, lr, rho, one_minus_rho, eps, wd, decay):
    """``s <- rho * s + (1 - rho) * g^2;  p <- decay * p - lr * g / (sqrt(s) + eps)``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            s = rho * Sq[r, c] + one_minus_rho * g * g
            Sq[r, c] = s
            P[r, c] = decay * p - lr * g / (np.sqrt(s) + eps)


@jit_numpy_errors
def adadelta_rows(P, rows, G, Eg, Edx, lr, rho, one_minus_rho, eps, wd, decay):
    """``Eg <- rho Eg + (1-rho) g^2;  dx = sqrt(Edx + eps) / sqrt(Eg + eps) * g;
    Edx <- rho Edx + (1-rho) dx^2;  p <- decay * p - lr * dx``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            eg = rho * Eg[r, c] + one_minus_rho * g * g
            Eg[r, c] = eg
            dx = np.sqrt(Edx[r, c] + eps) / np.sqrt(eg + eps) * g
            Edx[r, c] = rho * Edx[r, c] + one_minus_rho * dx * dx
            P[r, c] = decay * p - lr * dx


@jit_numpy_errors
def adam_rows(P, rows, G, M, V, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bc1, bc2, wd, decay):
    """``m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    p <- decay * p - lr * (m / bc1) / (sqrt(v / bc2) + eps)``, with the bias
    corrections ``bc1 = 1 - b1^t``, ``bc2 = 1 - b2^t`` computed by the caller."""
    for j in range(rows.shape[0]):
        r = rows[j]
        for c in range(P.shape[1]):
            p = P[r, c]
            g = G[j, c] + wd * p
            m = beta1 * M[r, c] + one_minus_beta1 * g
            v = beta2 * V[r, c] + one_minus_beta2 * g * g
            M[r, c] = m
            V[r, c] = v
            P[r, c] = decay * p - lr * (m / bc1) / (np.sqrt(v / bc2) + eps)
