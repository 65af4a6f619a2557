"""Compiled kernels of the neural language model: feature gather and softmax.

The dense layers are float32 BLAS products (numpy ``@``); what BLAS cannot do
well is here:

* :func:`gather_features` -- ``x[b] = concat_j C[contexts[b, j]]``, the
  embedding lookup of the ``n - 1`` context words.  (The scatter-add of
  ``dL/dx`` back into the rows of ``C`` is the optimizer's sparse
  ``step_rows``, which merges repeated rows.)
* :func:`softmax_rows` -- the output bias, the exact softmax over the
  vocabulary and the cross-entropy fused, in place on a range of rows of the
  logits buffer (one pass less over a ``B x V`` array than adding the bias
  first); the NPLM's output layer (:meth:`lmkit.lm.nplm.NPLM._output_layer`)
  gives each of its threads its own rows::

      p = exp(l - max l) / sum exp(l - max l)
      loss[b] = -log p[t_b] = log sum exp(l - max l) - (l[t_b] - max l)
      dL/dl = scale * (p - onehot(t_b))           (training only)

  The exponential is a float32 Cephes-style polynomial, ``exp(x) = 2^k p(r)``
  with ``k = round(x / ln 2)``, ``|r| <= ln 2 / 2``, relative error < 2e-7,
  which the compiler vectorizes (libm's ``expf`` is a scalar call, about 4x
  slower here); ``2^k`` is a float built from its exponent bits.  Row sums are
  accumulated in float64.  The row maximum is taken over the floats' bit
  patterns as order-preserving integers (:func:`_add_bias_max_and_special`): LLVM
  vectorizes an integer maximum but not a float one, which ran one element a
  step and cost more than the rest of the kernel.  A row holding NaN or inf
  (all exponent bits set) gets a NaN loss, which the trainer turns into a
  stop.

* :func:`logsumexp_tile` -- evaluation's output layer in column tiles
  (:meth:`lmkit.lm.nplm.NPLM.score`): the bias and an online log-sum-exp over
  one tile of the logits (Milakov & Gimelshein 2018, "Online normalizer
  calculation for softmax"), so the tile is still in cache when it is read
  and no ``B x V`` logits buffer goes out to memory and back::

      m' = max(m, max tile),  s' = s exp(m - m') + sum exp(tile - m'),
      log p[t_b] = l[t_b] - m - log s      (after the last tile)

* :func:`loglinear_rows` -- the log-linear mixture of K models' logits
  (:mod:`lmkit.lm.loglinear`): per row the log-probability of the target
  and, for fitting the weights, the mixture's expectations of the members'
  logits and of their pairwise products, in float64.

Every kernel takes preallocated arrays only.
"""
from __future__ import annotations

import numpy as np
from lmkit._jit import jit, jit_finite

# Cephes expf: ln 2 split in two for an exact range reduction, minimax coefficients.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_C0 = np.float32(1.9875691500e-4)
_C1 = np.float32(1.3981999507e-3)
_C2 = np.float32(8.3334519073e-3)
_C3 = np.float32(4.1665795894e-2)
_C4 = np.float32(1.6666665459e-1)
_C5 = np.float32(5.0000001201e-1)
_MIN_X = np.float32(-87.0)  # exp(-87) ~ 1.6e-38: still a normal float32
# float64 exp for loglinear_rows, the same reduction: exp(x) = 2^k exp(r), |r| <= ln 2 / 2, exp(r) by its
# Taylor polynomial of degree 12 (remainder < r^13 / 13! < 1.7e-16); ln 2 = _LN2_HI64 + _LN2_LO64 with
# _LN2_HI64 = 355/512 exact in 9 bits, so k * _LN2_HI64 is exact.
_LOG2E64 = 1.4426950408889634
_LN2_HI64 = 0.693359375
_LN2_LO64 = float(np.log(2.0) - _LN2_HI64)
_TAYLOR = tuple(1.0 / float(np.prod(np.arange(1, n + 1, dtype=np.float64))) for n in range(12, -1, -1))
_MIN_X64 = -700.0  # exp(-700) ~ 1e-304: normal; smaller terms are below any row sum's last bit
_EXPONENT64 = np.int64(0x7FF0000000000000)  # a float64's exponent bits
_MAGNITUDE64 = np.int64(0x7FFFFFFFFFFFFFFF)


@jit
def _order_key64(b):
    """:func:`_order_key` of a float64's bits ``b: int64`` (its own inverse too)."""
    return b ^ ((b >> 63) & _MAGNITUDE64)


@jit
def _max_and_special64(bits):
    """``(largest`` :func:`_order_key64` ``, any inf or NaN)`` of the float64 values whose bit patterns
    are ``bits: int64[V]`` (integer operations only, so the loop vectorizes)."""
    top = np.int64(-9223372036854775808)
    special = np.int64(0)
    for i in range(bits.shape[0]):
        b = bits[i]
        top = max(top, _order_key64(b))
        special |= np.int64((b & _EXPONENT64) == _EXPONENT64)
    return top, special != 0


@jit
def gather_features(table, contexts, x):
    """``x[b, j*m:(j+1)*m] = table[contexts[b, j]]``.

    ``table: float32[V + 1, m]``, ``contexts: int32[B, k]``, ``x: float32[B, k*m]``.
    """
    m = table.shape[1]
    for b in range(contexts.shape[0]):
        for j in range(contexts.shape[1]):
            row = table[contexts[b, j]]
            base = j * m
            for i in range(m):
                x[b, base + i] = row[i]


_EXPONENT = np.int32(0x7F800000)  # a float32's exponent bits: all set for inf and NaN
_MAGNITUDE = np.int32(0x7FFFFFFF)


@jit
def _order_key(b):
    """``b ^ ((b >> 31) & 0x7FFFFFFF)`` of a float32's bits ``b: int32``: an integer whose order is the
    floats' order (a negative float's magnitude bits flipped).  The map is its own inverse: it also
    takes a key back to its float's bits."""
    return b ^ ((b >> 31) & _MAGNITUDE)


@jit
def _add_bias_max_and_special(row, bias):
    """``row += bias`` in place, returning ``(key, special)`` of the sums: the largest
    :func:`_order_key` of their bits and whether any is inf or NaN.  The maximum is taken over
    the keys (integers) so the loop vectorizes; the float's bits come from a scalar view."""
    top = np.int32(-2147483648)
    special = np.int32(0)
    for i in range(row.shape[0]):
        y = row[i] + bias[i]
        row[i] = y
        b = np.float32(y).view(np.int32)
        top = max(top, _order_key(b))
        special |= np.int32((b & _EXPONENT) == _EXPONENT)
    return top, special != 0


@jit
def _exp_below(row, mx):
    """``row[i] = exp(row[i] - mx)`` in place for a row whose maximum is ``mx`` (so every exponent is
    <= 0): ``2^k p(r)``, the power of two ``2^k`` built from its exponent bits; inputs clamped at
    ``_MIN_X`` keep ``k >= -126``, so ``2^k`` and every result are normal float32s."""
    for i in range(row.shape[0]):
        xv = max(row[i] - mx, _MIN_X)
        k = np.floor(xv * _LOG2E + np.float32(0.5))
        r = xv - k * _LN2_HI - k * _LN2_LO
        p = _C0 * r + _C1
        p = p * r + _C2
        p = p * r + _C3
        p = p * r + _C4
        p = p * r + _C5
        power = np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
        row[i] = (p * r * r + r + np.float32(1.0)) * power


@jit
def _sum64(row):
    """The float64 sum of a float32 row (a loop of its own: summing inside :func:`_exp_below`'s
    loop keeps LLVM from vectorizing it)."""
    total = 0.0
    for i in range(row.shape[0]):
        total += row[i]
    return total


@jit
def softmax_rows(logits, bias, targets, scale, write_grad, losses, first, last):
    """Fused bias, softmax and cross-entropy over rows ``[first, last)`` of ``logits + bias``, in place.

    ``logits: float32[B, V]`` (before the output bias ``bias: float32[V]``) --
    rows overwritten with ``scale * (softmax - onehot)`` when ``write_grad``,
    else with unnormalized exponentials (clobbered); ``targets: int32[B]``;
    ``losses: float64[B]`` receives ``-log p[target]`` (NaN for a row holding
    NaN/inf).  Three passes over a row, four when training (it stays in L2).
    """
    for b in range(first, last):
        row = logits[b]
        key, special = _add_bias_max_and_special(row, bias)
        if special:
            losses[b] = np.nan
            continue
        mx = np.int32(_order_key(key)).view(np.float32)  # the key back to the float
        target_logit = row[targets[b]] - mx
        _exp_below(row, mx)
        total = _sum64(row)
        losses[b] = np.log(total) - target_logit
        if write_grad:
            factor = np.float32(scale / total)
            for i in range(row.shape[0]):
                row[i] *= factor
            row[targets[b]] -= np.float32(scale)


@jit
def logsumexp_tile(tile, bias, targets, first_column, first_row, running_max, running_sum, target_logit):
    """Fold one column tile of the logits into each row's running log-sum-exp (module docstring).

    ``tile: float32[R, n]`` holds columns ``[first_column, first_column + n)`` of rows
    ``[first_row, first_row + R)``, before the output bias ``bias: float32[n]`` (those columns');
    clobbered.  ``targets: int32[B]``; per row ``b``, float64[B]: ``running_max`` (start at -inf),
    ``running_sum`` (start at 0) and ``target_logit`` (the target's biased logit, set by the tile
    holding it).  A row holding NaN or inf gets ``running_sum = -1`` (no sum is negative) and is
    skipped from then on: a flag, not a NaN, because the kernels compile with fastmath, under which
    the compiler may assume no value is NaN.
    """
    n = tile.shape[1]
    for i in range(tile.shape[0]):
        b = first_row + i
        if running_sum[b] < 0.0:
            continue
        row = tile[i]
        key, special = _add_bias_max_and_special(row, bias)
        if special:
            running_sum[b] = -1.0
            continue
        t = targets[b] - first_column
        if 0 <= t < n:
            target_logit[b] = row[t]
        top = max(running_max[b], np.float64(np.int32(_order_key(key)).view(np.float32)))
        _exp_below(row, np.float32(top))  # top is a float32's value: exact either way
        running_sum[b] = running_sum[b] * np.exp(running_max[b] - top) + _sum64(row)
        running_max[b] = top


@jit_finite
def loglinear_rows(logits, weights, targets, moments, log_probs, means, second, scores, exponents, first, last):
    """Rows ``[first, last)`` of the log-linear mixture ``s = sum_k weights[k] logits[k]``.

    ``logits: float32[K, B, V]`` (each member's log-probabilities up to a
    constant per row, which the renormalization cancels); ``weights:
    float64[K]``; ``targets: int32[B]``; ``log_probs: float64[B]`` receives
    ``s[t] - log sum_v exp s_v`` (NaN for a row holding NaN/inf).  With
    ``moments``, under ``p = softmax(s)``: ``means[b, k] = E_p[logits[k, b]]``
    and ``second[b, k, j] = E_p[logits[k, b] logits[j, b]]`` for ``j <= k``
    (the gradient and Hessian of the log-likelihood in the weights).
    ``scores: float64[V]``, ``exponents: int32[V]`` scratch.  Each loop runs
    over one contiguous row so LLVM vectorizes it; the exponential is the
    float64 twin of :func:`softmax_rows`' (libm's ``exp`` is a scalar call
    and took two thirds of the time).
    """
    n_models, _, v = logits.shape
    bits = scores.view(np.int64)
    word = np.empty(1, np.int64)
    for b in range(first, last):
        for i in range(v):
            scores[i] = weights[0] * logits[0, b, i]
        for k in range(1, n_models):
            weight, row = weights[k], logits[k, b]
            for i in range(v):
                scores[i] += weight * row[i]
        key, special = _max_and_special64(bits)
        if special:
            log_probs[b] = np.nan
            continue
        word[0] = _order_key64(key)  # the key back to the float's bits
        top = word.view(np.float64)[0]
        target_score = scores[targets[b]] - top
        for i in range(v):
            x = max(scores[i] - top, _MIN_X64)
            power = np.floor(x * _LOG2E64 + 0.5)
            r = x - power * _LN2_HI64 - power * _LN2_LO64
            p = _TAYLOR[0]
            for c in _TAYLOR[1:]:
                p = p * r + c
            scores[i] = p
            exponents[i] = np.int32(power)  # int32: AVX2 converts 4 doubles to int32 at once, not to int64
        total = 0.0
        for i in range(v):
            bits[i] += np.int64(exponents[i]) << 52
            total += scores[i]
        log_probs[b] = target_score - np.log(total)
        if moments:
            inverse = 1.0 / total
            for k in range(n_models):
                row = logits[k, b]
                acc = 0.0
                for i in range(v):
                    acc += scores[i] * row[i]
                means[b, k] = acc * inverse
                for j in range(k + 1):
                    other = logits[j, b]
                    acc = 0.0
                    for i in range(v):
                        acc += scores[i] * row[i] * other[i]
                    second[b, k, j] = acc * inverse
