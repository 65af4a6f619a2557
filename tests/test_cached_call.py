"""lmkit._cached_call: a kernel runs on code from numba's cache; a missing one is compiled in a child."""
from __future__ import annotations

import importlib
import os
import sys
import textwrap

import numpy as np
import pytest

from lmkit._cached_call import call_from_cache, run_if_cached

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="about numba's compiled code")

TOY = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def axpy(a, x, y):
        for i in range(x.shape[0]):
            y[i] += a * x[i]
""")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A module of one cached kernel, under a name of its own: numba's cache (``NUMBA_CACHE_DIR`` or the
    folder's __pycache__) holds nothing for it at first."""
    name = f"toy_kernels_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def test_run_if_cached_does_not_compile_a_missing_kernel(toy):
    x, y = np.ones(3), np.zeros(3)
    assert not run_if_cached(toy.axpy, (2.0, x, y))
    assert not toy.axpy.overloads          # nothing compiled here
    assert (y == 0).all()                  # and nothing ran


def test_a_missing_kernel_is_compiled_in_a_child_and_loaded_from_the_cache(toy):
    x, y = np.arange(3.0), np.ones(3)
    assert call_from_cache(toy.axpy, (2.0, x, y)) == "child"
    assert np.array_equal(y, [1.0, 3.0, 5.0])
    assert sum(toy.axpy.stats.cache_hits.values()) == 1   # this process loaded it from the disk cache
    assert call_from_cache(toy.axpy, (2.0, x, y)) == "loaded"
    assert np.array_equal(y, [1.0, 5.0, 9.0])


def test_other_argument_types_are_compiled_again(toy):
    x, y = np.arange(3.0), np.ones(3)
    assert call_from_cache(toy.axpy, (2.0, x, y)) == "child"
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    assert call_from_cache(toy.axpy, (2.0, x32, y32)) == "child"
    assert len(toy.axpy.overloads) == 2
