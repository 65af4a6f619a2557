"""The numba compilation flags of every lmkit kernel, defined once.

``jit`` is for kernels whose float32 arithmetic tolerates reassociation
(``fastmath``): dot products, axpy updates, sigmoid lookups, the softmax's
sums.  ``jit_exact`` keeps IEEE semantics for integer and bookkeeping code
whose result a test compares exactly (Huffman trees, alias tables, example
building, vector-file parsing).  ``jit_finite`` is fastmath without the
no-NaN/no-inf assumptions, for code that tests for them (the word2vec
kernels' check of a diverged update; the softmax of :mod:`lmkit.lm.kernels`
tests its logits' bits instead, as integers).
Both cache compiled code on disk (``cache=True``) so a second process starts
at full speed, and release the GIL (``nogil=True``) so worker threads can run
kernels concurrently.
"""
from __future__ import annotations

import numba

jit = numba.njit(cache=True, nogil=True, fastmath=True)
jit_exact = numba.njit(cache=True, nogil=True)
# The optimizers' kernels: numpy's error model (a float division by zero gives
# inf/nan, as in numpy, instead of raising; the Python model's zero test before
# each division keeps LLVM from vectorizing a loop that divides: the dense Adam
# step, when it computed in float64 under full fastmath, 9.6 -> 1.7 ms on 1.8M
# floats) and of fastmath only ``nsz`` (the sign of a zero may be ignored),
# which is what lets LLVM vectorize these loops (float32 Adam, 1.8M floats:
# 5.3 -> 1.7 ms).  Every operation stays correctly rounded, so a step's result
# does not depend on which elements the vector body or the remainder loop
# computed: thread pieces stay bit-identical to one thread.  Full fastmath
# (1.5 ms) turns float32 divisions and square roots into refined reciprocal
# estimates, which differ between the two paths.
# ``jit`` without numba's runtime (NRT), for the word2vec kernels, which allocate no arrays: then
# nothing is reference-counted.  With the runtime, every array a helper received and every row view
# it made cost an atomic increment and decrement, each a call into the runtime, inside the hot loop,
# and with two threads both cores write the same counters.  Measured on top of reference-free row
# views (lmkit.word2vec.rows), 1 thread, paired runs: CBOW-HS +34%, SG-HS +7%, the NS modes +2-3%.
# A kernel that tries to allocate does not compile, which keeps the rule checked.
jit_kernel = numba.njit(cache=True, nogil=True, fastmath=True, _nrt=False)
# ``jit_kernel`` inlined into every caller at numba's level: for the word2vec kernels' helpers that
# take the typed records (Weights, Tables, Scratch): called once per target, they would otherwise
# receive every array of every record as arguments on each call (measured: exact SG-HS 0.98x -> 0.62x
# gensim).
jit_inline = numba.njit(cache=True, nogil=True, fastmath=True, inline="always", _nrt=False)
jit_numpy_errors = numba.njit(cache=True, nogil=True, fastmath={"nsz"}, error_model="numpy")
# Reassociation and contraction (vectorized reductions, FMA) without ``nnan``/
# ``ninf``: for code that tests for NaN/inf, which full fastmath lets the
# compiler assume away.
jit_finite = numba.njit(cache=True, nogil=True, fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})
