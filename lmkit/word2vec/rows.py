"""A matrix row as a bare 1-d array view, for the compiled word2vec loop.

numba's ``matrix[r]`` does two things per view that the kernels do not need:
it wraps a negative ``r`` (a sign test and a select on every view, several
per (hidden row, output row) pair), and, in code compiled with numba's
runtime, it takes a reference to the matrix's memory (an atomic increment
and decrement, each a call into the runtime) that numba's pruning leaves in
place inside loops with branches.  :func:`row_view` makes the same view
without either: its memory-info pointer is null, as for an array numba does
not own.  That is safe because a view never outlives the call that received
the matrix, and the caller keeps the matrix alive; a row must be in
``[0, matrix.shape[0])``, as every row the kernels compute is.

Measured on Brown, 1 thread, paired runs (``scripts/ab_word2vec.py``): with
the runtime, +20% to +30% words/s in all four modes over ``matrix[r]``; in the
kernels as compiled now, without the runtime (``lmkit._jit.jit_kernel``),
still +6% to +9% for negative sampling and 0-5% for hierarchical softmax.

Under ``NUMBA_DISABLE_JIT=1`` it is plain ``matrix[r]``.
"""
from __future__ import annotations

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _row_view_python(matrix, r):
    """Interpreted stand-in: the ordinary view."""
    return matrix[r]


@intrinsic
def _row_view_compiled(typingctx, matrix, r):
    """``row_view(matrix, r)``: ``matrix[r, :]`` of a C-contiguous 2-d array, as a 1-d C array."""
    if not (isinstance(matrix, types.Array) and matrix.ndim == 2 and matrix.layout == "C"
            and isinstance(r, types.Integer)):
        return None
    view_type = types.Array(matrix.dtype, 1, "C")
    signature = view_type(matrix, r)

    def codegen(context, builder, sig, args):
        matrix_type = sig.args[0]
        array = make_array(matrix_type)(context, builder, args[0])
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        start = cgutils.get_item_pointer(context, builder, matrix_type, array, [index, zero], wraparound=False)
        columns = cgutils.unpack_tuple(builder, array.shape, 2)[1]
        view = make_array(view_type)(context, builder)
        populate_array(view, data=start, shape=cgutils.pack_array(builder, [columns]),
                       strides=cgutils.pack_array(builder, [array.itemsize]), itemsize=array.itemsize,
                       meminfo=None)
        return view._getvalue()

    return signature, codegen


row_view = _row_view_python if numba.config.DISABLE_JIT else _row_view_compiled
