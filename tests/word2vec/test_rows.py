"""row_view: the right row, written through, and no reference counting in the compiled loop."""
import numba
import numpy as np
import pytest

from lmkit.word2vec.rows import row_view


@numba.njit
def _axpy_rows(matrix, rows, gains):
    """matrix[rows[i + 1]] += gains[i] * matrix[rows[i]] for each i with gains[i] != 0, through row_view.

    The views are made inside a branch, as in the kernels' logistic update: that is where numba's
    reference-count pruning leaves its own views' references in place.
    """
    for i in range(rows.shape[0] - 1):
        source = row_view(matrix, rows[i])
        if gains[i] != 0.0:
            target = row_view(matrix, rows[i + 1])
            for k in range(source.shape[0]):
                target[k] += gains[i] * source[k]


@numba.njit
def _axpy_rows_indexed(matrix, rows, gains):
    """The same with numba's own views, matrix[r] (the control)."""
    for i in range(rows.shape[0] - 1):
        source = matrix[rows[i]]
        if gains[i] != 0.0:
            target = matrix[rows[i + 1]]
            for k in range(source.shape[0]):
                target[k] += gains[i] * source[k]


@numba.njit
def _view_layout(matrix, r):
    view = row_view(matrix, r)
    return view.shape[0], view.strides[0], view[0], view[-1]


def test_row_view_reads_and_writes_the_row():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((7, 5)).astype(np.float32)
    rows = np.array([3, 0, 6, 3, 1], dtype=np.int32)
    gains = np.array([0.5, -2.0, 0.0, 1.5], dtype=np.float32)
    expected = matrix.copy()
    for i in range(len(rows) - 1):                 # the slow numpy twin
        expected[rows[i + 1]] += gains[i] * expected[rows[i]]
    _axpy_rows(matrix, rows, gains)
    np.testing.assert_array_equal(matrix, expected)
    assert _view_layout(matrix, 4) == (5, 4, matrix[4, 0], matrix[4, -1])


def _calls_to(function, name: str) -> int:
    """How many calls to ``name`` the compiled function's LLVM IR makes."""
    ir = next(iter(function.inspect_llvm().values()))
    return sum(line.count(f"@{name}(") for line in ir.splitlines() if "call" in line)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="inspects compiled code")
def test_row_view_takes_no_reference():
    matrix = np.zeros((4, 3), dtype=np.float32)
    rows = np.array([0, 1, 2], dtype=np.int32)
    gains = np.ones(2, dtype=np.float32)
    _axpy_rows(matrix, rows, gains)
    _axpy_rows_indexed(matrix, rows, gains)
    assert _calls_to(_axpy_rows_indexed, "NRT_incref") > 0   # the control: numba's views count references
    assert _calls_to(_axpy_rows, "NRT_incref") == 0
