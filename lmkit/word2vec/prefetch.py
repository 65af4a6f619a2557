"""A software prefetch of one matrix row, for the compiled word2vec loop.

word2vec's time goes mostly into fetching rows of the weight matrices that
the random negatives (and the words of the window) pick: each is a cache
miss, and the update of one row waits for its dot product, so misses are
served one after another.  Announcing all rows of an update before touching
any (``llvm.prefetch`` on every 64-byte line of each row) lets the memory
system fetch them in parallel.  A prefetch is only a hint: results do not
change, whether or not it is honoured.

Under ``NUMBA_DISABLE_JIT=1`` the hint is a no-op Python function.
"""
from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CACHE_LINE = 64  # bytes


def _prefetch_row_python(matrix, row) -> None:
    """Interpreted stand-in: nothing to do."""


@intrinsic
def _prefetch_row_compiled(typingctx, matrix, row):
    """``prefetch_row(matrix, row)``: hint that ``matrix[row, :]`` (C-contiguous 2-d) is about to be written."""
    if not (isinstance(matrix, types.Array) and matrix.ndim == 2 and isinstance(row, types.Integer)):
        return None
    signature = types.void(matrix, row)

    def codegen(context, builder, sig, args):
        array_type = sig.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        start = cgutils.get_item_pointer(context, builder, array_type, array, [index, zero], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        start = builder.bitcast(start, byte_pointer)
        row_bytes = cgutils.unpack_tuple(builder, array.strides, 2)[0]
        int32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), "llvm.prefetch.p0")
        step = context.get_constant(types.intp, CACHE_LINE)
        with cgutils.for_range_slice(builder, zero, row_bytes, step) as (offset, _):
            # rw = 1 (the row will be written), locality = 3 (keep in all cache levels), data cache.
            builder.call(hint, [builder.gep(start, [offset]), int32(1), int32(3), int32(1)])
        return context.get_dummy_value()

    return signature, codegen


prefetch_row = _prefetch_row_python if numba.config.DISABLE_JIT else _prefetch_row_compiled
