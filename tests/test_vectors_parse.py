"""The compiled decimal parser of word2vec text rows, against numpy's own parsing."""
from __future__ import annotations

import numpy as np
import pytest

from lmkit.vectors import parse
from lmkit.vectors.parse import parse_rows


def reference(tokens, dtype=np.float32):
    """What numpy (and so gensim) makes of each token: the naive twin of the kernel."""
    return np.array([dtype(token) for token in tokens], dtype=dtype)


def fast_path_tokens(count=20_000, seed=0):
    """Decimals of every shape the fast path takes: signs, dots, exponents, zeros."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(count) * 10.0 ** rng.integers(-6, 9, size=count)
    formats = ["%.9g", "%.12g", "%.3f", "%.6e", "%.1E", "%g", "%.0f", "%.6f"]
    tokens = [formats[i % len(formats)] % v for i, v in enumerate(values)]
    tokens += ["0", "-0", "+0", "0.0", "-0.0", "1", "+1.5", "5.", ".5", "-.25", "1e0", "1E+2", "2.5e-3",
               "000123.4500", "0.000000000000000000001", "9007199254740992", "9007199254740991e-22",
               "123456789012345e-10", "3.4028234e+22", "1.17549435e-14", "0.1", "0.2", "0.3"]
    return tokens


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_fast_path_is_bit_identical_to_numpy(dtype):
    tokens = fast_path_tokens()
    tokens = tokens[: len(tokens) // 10 * 10]
    rows = [" ".join(tokens[i:i + 10]) for i in range(0, len(tokens), 10)]
    data = "".join(row + "\n" for row in rows).encode("ascii")
    with np.errstate(over="ignore"):
        got = parse_rows(data, len(rows), 10, dtype)
        want = reference(tokens, dtype).reshape(-1, 10)
    assert got is not None and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def test_tokens_off_the_fast_path_still_read_exactly(tmp_path):
    """Through the whole reader, the numpy fallback takes what the kernel refuses."""
    from lmkit.vectors import KeyedVectors

    rng = np.random.default_rng(1)
    values = rng.standard_normal(400) * 10.0 ** rng.integers(-30, 30, size=400)
    tokens = [repr(float(v)) for v in values]  # 17-digit doubles, large exponents
    tokens[7] = "1e-40"  # a float32 subnormal
    path = tmp_path / "v.txt"
    rows = [f"w{r} " + " ".join(tokens[r * 8:(r + 1) * 8]) for r in range(50)]
    path.write_text("50 8\n" + "\n".join(rows) + "\n", encoding="ascii")
    got = KeyedVectors.load_word2vec_format(path).vectors
    np.testing.assert_array_equal(got.view(np.uint32), reference(tokens).reshape(50, 8).view(np.uint32))


def test_separators_and_row_ends():
    data = b"1 2 \n\t3\t4\r\n  5   6\n"
    np.testing.assert_array_equal(parse_rows(data, 3, 2, np.float32), [[1, 2], [3, 4], [5, 6]])


@pytest.mark.parametrize("data", [
    b"1 2\n3\n",                 # too few values
    b"1 2\n3 4 5\n",             # too many
    b"1 2\n3 4\n5 6\n",          # more rows than expected
    b"1 2\n",                    # fewer rows (returns a short count)
    b"1 x\n3 4\n", b"1 2x\n3 4\n", b"1 nan\n3 4\n", b"1 inf\n3 4\n", b"1 -\n3 4\n", b"1 .\n3 4\n",
    b"1 1.2.3\n3 4\n", b"1 1e\n3 4\n", b"1 1e+\n3 4\n", b"1 0x10\n3 4\n",
    b"1 1e23\n3 4\n",            # exponent beyond 10^22
    b"1 1e-23\n3 4\n",
    b"1 9007199254740993\n3 4\n",           # mantissa beyond 2^53
    b"1 12345678901234567890\n3 4\n",       # beyond 19 digits
    b"1 1e0000001\n3 4\n",                  # exponent with more than 6 digits
])
def test_anything_off_the_fast_path_is_refused(data):
    assert parse_rows(data, 2, 2, np.float32) is None


def test_kernel_reports_the_failing_row():
    out = np.empty((3, 2), dtype=np.float32)
    assert parse._parse_rows(np.frombuffer(b"1 2\n3 4\n5 x\n", np.uint8), out, parse._POWERS_OF_TEN) == -3
    assert parse._parse_rows(np.frombuffer(b"1 2\n3 4\n5 6\n", np.uint8), out, parse._POWERS_OF_TEN) == 3
