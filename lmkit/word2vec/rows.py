"""A matrix row as a 1-d array that is not reference-counted, for the compiled word2vec loop.

In numba, ``matrix[r]`` makes a view that holds a reference to the
matrix's memory: an atomic increment when the view is made and an atomic
decrement when it dies, each a call into numba's runtime.  The word2vec
loop makes several views per (hidden row, output row) pair, and numba's
reference-count pruning leaves most of them in place inside loops with
branches; with two threads both counters sit on one cache line that the
cores pass back and forth.  Measured on Brown, 1 thread, paired runs
(``scripts/ab_word2vec.py``): +20% to +30% words/s in all four modes.

:func:`row_view` makes the same view without the reference (its memory-info
pointer is null, as for an array numba does not own).  That is safe here
because the view never outlives the call that received the matrix, and the
caller keeps the matrix alive.  The index is not wrapped: a row must be in
``[0, matrix.shape[0])``, as every row the kernels compute is.

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
