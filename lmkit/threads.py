"""Thread counts of the dense models: OpenBLAS's pool and lmkit's own row threads.

Used by the neural language model (:mod:`lmkit.lm.nplm`) and the layer
library's ``fit`` (:mod:`lmkit.training.supervised`), so it lives beside
neither.

The dense products run in OpenBLAS (the one numpy loaded), the softmax in a
compiled kernel.  OpenBLAS's threads busy-wait a while after each product,
and on a machine with as many threads as cores a thread still spinning takes
a core from the softmax that follows.  The output layer therefore never
alternates the two: with :func:`single_threaded_blas` each of
:func:`blas_threads` Python threads (:func:`worker_pool`, the kernels release
the GIL) runs the products and the softmax of its own rows (see
:meth:`lmkit.lm.nplm.NPLM._output_layer`).  :func:`set_threads` also sets
numba's thread count, for any parallel kernel.
"""
from __future__ import annotations

import ctypes
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")


@lru_cache(maxsize=1)
def _openblas() -> list[tuple]:
    """``(get, set)`` C functions of every OpenBLAS loaded in this process (numpy's), found in /proc/self/maps."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS if it is not loaded yet)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    found = []
    for lib_path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        lib = ctypes.CDLL(lib_path)
        getter = next((getattr(lib, name) for name in _GETTERS if hasattr(lib, name)), None)
        setter = next((getattr(lib, name) for name in _SETTERS if hasattr(lib, name)), None)
        if getter is not None and setter is not None:
            getter.restype = ctypes.c_int
            found.append((getter, setter))
    return found


def set_blas_threads(threads: int) -> None:
    """Set OpenBLAS's thread count (a no-op where no OpenBLAS is found)."""
    for _, setter in _openblas():
        setter(ctypes.c_int(threads))


def blas_threads() -> int:
    """OpenBLAS's thread count now (0 when no OpenBLAS is found: another BLAS, not controlled here)."""
    libraries = _openblas()
    return int(libraries[0][0]()) if libraries else 0


def set_threads(threads: int) -> None:
    """Use ``threads`` numba and BLAS threads (0: leave the defaults)."""
    if threads <= 0:
        return
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    set_blas_threads(threads)


@contextmanager
def blas_threads_inside(threads: int):
    """OpenBLAS on ``threads`` threads inside the block (0: unchanged), its previous count restored
    after; a no-op without OpenBLAS."""
    before = blas_threads() if threads > 0 else 0
    if before and before != threads:
        set_blas_threads(threads)
    try:
        yield
    finally:
        if before and before != threads:
            set_blas_threads(before)


def single_threaded_blas():
    """OpenBLAS on one thread inside the block (its previous count restored after)."""
    return blas_threads_inside(1)


@lru_cache(maxsize=None)
def worker_pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, made once and reused (a training step is too
    short to start threads each time)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="lmkit-rows")


def even_bounds(n: int, parts: int) -> np.ndarray:
    """``int64[parts + 1]``: the bounds of ``parts`` contiguous ranges splitting ``range(n)`` as evenly
    as whole numbers allow (part ``p`` is ``[bounds[p], bounds[p + 1])``), for :func:`run_parts`."""
    return np.linspace(0, n, parts + 1).astype(np.int64)


def run_parts(workers: int, task) -> None:
    """``task(part)`` for ``part in range(workers)`` on :func:`worker_pool`; returns when all are done
    (re-raising the first error)."""
    if workers == 1:  # no hand-over to a pool thread for a single part
        task(0)
        return
    pool = worker_pool(workers)
    for future in [pool.submit(task, part) for part in range(workers)]:
        future.result()
