"""Compiled parser for the numbers of word2vec text rows: ASCII decimals -> floats.

The text reader (:mod:`lmkit.vectors.formats`) hands over a block of rows, their words
removed, each ending in ``\\n``.  The kernel parses every number with Clinger's fast path
(W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990): a decimal
``m * 10^k`` with an integer mantissa ``m <= 2^53`` and ``|k| <= 22`` is exactly
``float64(m) * 10^k`` or ``float64(m) / 10^-k`` -- both operands are exact doubles, so one
IEEE operation rounds correctly -- and that double is then rounded to float32, which is
what numpy (and so gensim) does with a decimal string.  Results are therefore bit-identical
to ``np.float32(token)``.  Anything outside the fast path (more than 19 digits, a larger
exponent, ``nan``/``inf``, a stray character) or a row with the wrong number of values
makes the kernel report failure, and the caller re-parses the block with numpy, which
handles every case and names the offending line.

Every value written by lmkit (``"%.9g"``: 9 digits) and by gensim or the C tool for the
usual vector magnitudes (about 1e-13 to 1e22) takes the fast path.
"""
from __future__ import annotations

import numpy as np

from lmkit._jit import jit_exact

_POWERS_OF_TEN = np.array([10.0 ** k for k in range(23)], dtype=np.float64)  # exact doubles
_MAX_EXACT = 2 ** 53

_NEWLINE, _SPACE, _TAB, _CR = 10, 32, 9, 13
_PLUS, _MINUS, _DOT, _ZERO, _NINE, _LOWER_E, _UPPER_E = 43, 45, 46, 48, 57, 101, 69


@jit_exact
def _parse_rows(data, out, powers):
    """Parse ``data: uint8[n]`` (rows ending in ``\\n``) into ``out: float[rows, size]``.

    Returns the number of rows parsed (``rows`` on success) or ``-1 - r`` when row ``r``
    has the wrong number of values or a value off the fast path.
    """
    n = data.shape[0]
    rows, size = out.shape
    row = 0
    col = 0
    i = 0
    while i < n:
        c = int(data[i])  # int: uint8 arithmetic would wrap without the JIT
        if c == _NEWLINE:
            if col != size or row >= rows:
                return -1 - row
            row += 1
            col = 0
            i += 1
            continue
        if c == _SPACE or c == _TAB or c == _CR:
            i += 1
            continue
        if col >= size or row >= rows:
            return -1 - row
        negative = False
        if c == _MINUS or c == _PLUS:
            negative = c == _MINUS
            i += 1
        mantissa = 0
        digits = 0          # significant digits kept in mantissa
        exponent = 0        # decimal exponent of the last kept digit
        seen_digit = False
        seen_dot = False
        while i < n:
            c = int(data[i])
            if _ZERO <= c <= _NINE:
                seen_digit = True
                if mantissa == 0 and c == _ZERO:
                    if seen_dot:
                        exponent -= 1
                elif digits < 19:
                    mantissa = mantissa * 10 + (c - _ZERO)
                    digits += 1
                    if seen_dot:
                        exponent -= 1
                else:
                    return -1 - row  # too many digits for an exact integer mantissa
            elif c == _DOT and not seen_dot:
                seen_dot = True
            else:
                break
            i += 1
        if not seen_digit:
            return -1 - row
        if i < n and (data[i] == _LOWER_E or data[i] == _UPPER_E):
            i += 1
            exponent_negative = False
            if i < n and (data[i] == _MINUS or data[i] == _PLUS):
                exponent_negative = data[i] == _MINUS
                i += 1
            written = 0
            exponent_digits = 0
            while i < n and _ZERO <= data[i] <= _NINE:
                if exponent_digits < 6:
                    written = written * 10 + (int(data[i]) - _ZERO)
                exponent_digits += 1
                i += 1
            if exponent_digits == 0 or exponent_digits > 6:
                return -1 - row
            exponent += -written if exponent_negative else written
        if i < n and not (data[i] == _SPACE or data[i] == _TAB or data[i] == _CR or data[i] == _NEWLINE):
            return -1 - row  # a stray character after the number
        if mantissa == 0:
            value = 0.0
        elif mantissa > _MAX_EXACT or exponent > 22 or exponent < -22:
            return -1 - row
        elif exponent >= 0:
            value = np.float64(mantissa) * powers[exponent]
        else:
            value = np.float64(mantissa) / powers[-exponent]
        out[row, col] = -value if negative else value
        col += 1
    return row


def parse_rows(data: bytes, rows: int, size: int, dtype: type) -> np.ndarray | None:
    """``rows`` rows of ``size`` decimals (each row ending in ``\\n``) -> dtype[rows, size],
    rounded as numpy rounds ``np.array(tokens, dtype)``; None when a row needs numpy's
    general parser (see the module docstring)."""
    target = np.float32 if np.dtype(dtype) == np.float32 else np.float64  # float16: one rounding, from double
    out = np.empty((rows, size), dtype=target)
    if _parse_rows(np.frombuffer(data, dtype=np.uint8), out, _POWERS_OF_TEN) != rows:
        return None
    return out if target == np.dtype(dtype) else out.astype(dtype)
