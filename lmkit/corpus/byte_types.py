"""Compiled whitespace tokenization of UTF-8 bytes into type ids, and the type table it fills.

The whitespace fast path of :mod:`lmkit.corpus.shards` (pre-tokenized text: no
normalizer, no subword model) must give exactly the tokens of the HuggingFace
``WhitespaceSplit`` pre-tokenizer, which splits on Rust's ``char::is_whitespace``
(Unicode's White_Space property).  In UTF-8 those code points are::

    U+0009..U+000D, U+0020                  one byte
    U+0085, U+00A0                          C2 85, C2 A0
    U+1680                                  E1 9A 80
    U+2000..U+200A, U+2028, U+2029, U+202F  E2 80 80..8A, E2 80 A8, E2 80 A9, E2 80 AF
    U+205F                                  E2 81 9F
    U+3000                                  E3 80 80

Python's ``str.isspace`` adds U+001C..U+001F (one byte each) and nothing else.
The readers give each line after ``str.rstrip()`` (:mod:`lmkit.corpus.readers`),
so a kernel reading raw file bytes first strips each line's trailing Python
whitespace (``strip=True``) -- that only matters for U+001C..U+001F at a line's
end, which Rust would keep inside the last token.

Splitting and looking up in Python cost ~550 ns a token (``str.split``, then a
dict lookup that hashes a fresh string).  Here a first pass scans a block's
bytes once, recording each token's span and 32-bit FNV-1a hash (Fowler, Noll,
Vo); a second pass interns the tokens in an open-addressing hash table (linear
probing, load <= 1/2) over a byte arena.  The two passes matter: a file has
~300K types, so the table does not fit in cache and most rare tokens cost two
cache misses (slot, then arena bytes); with the hashes known in advance the
second pass prefetches a few keys ahead and the misses overlap.  Each slot is a
pair ``(hash << 31 | type id, arena offset)``, so a probe compares hashes and
reaches the bytes without a third array.  Types are numbered in first-seen
order and stored in the arena each followed by ``\\n``, so the arena is the
shard's ``tokens.txt`` as it stands; merging shards (:meth:`TypeTable.add_lines`)
runs the same second pass over their types.

The integer arithmetic stays below 2**63 (hashes are masked to 32 bits before
each multiply), so the kernels give the same result with ``NUMBA_DISABLE_JIT=1``.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from lmkit._jit import jit_exact

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MASK32 = 0xFFFFFFFF
_ID_BITS = 31                      # a slot holds hash << 31 | type id: type ids below 2**31, as int32 ids need
_ID_MASK = (1 << _ID_BITS) - 1
_NEWLINE = 10
INITIAL_TYPES = 1 << 12            # type capacity of a new table; each growth doubles what runs short
_AHEAD = 8                         # keys prefetched ahead: enough cache misses in flight to hide their latency


@jit_exact
def _rust_space(data, i, end):
    """Bytes of the Rust whitespace character starting at ``data[i]`` (before ``end``), 0 if none."""
    c = int(data[i])
    if c < 0x80:
        return 1 if c == 0x20 or 9 <= c <= 13 else 0
    if c == 0xC2:
        if i + 1 < end:
            d = int(data[i + 1])
            if d == 0x85 or d == 0xA0:
                return 2
        return 0
    if c < 0xE1 or c > 0xE3 or i + 2 >= end:
        return 0
    d, e = int(data[i + 1]), int(data[i + 2])
    if c == 0xE1:
        return 3 if d == 0x9A and e == 0x80 else 0
    if c == 0xE3:
        return 3 if d == 0x80 and e == 0x80 else 0
    if d == 0x80:
        return 3 if e <= 0x8A or e == 0xA8 or e == 0xA9 or e == 0xAF else 0
    return 3 if d == 0x81 and e == 0x9F else 0


@jit_exact
def _python_space_before(data, start, end):
    """Bytes of the Python whitespace character ending at ``data[end - 1]`` (after ``start``), 0 if none."""
    c = int(data[end - 1])
    if c < 0x80:
        return 1 if c == 0x20 or 9 <= c <= 13 or 0x1C <= c <= 0x1F else 0
    if end - 2 >= start and int(data[end - 2]) == 0xC2:
        return 2 if c == 0x85 or c == 0xA0 else 0
    if end - 3 < start:
        return 0
    return 3 if _rust_space(data, end - 3, end) == 3 else 0  # a 3-byte whitespace character, if that is one


if numba.config.DISABLE_JIT:
    def _prefetch(array, index):
        """No-op without the JIT."""
else:
    @intrinsic
    def _prefetch(typingctx, array, index):
        """Ask the CPU to bring ``array[index]`` into cache (LLVM's ``llvm.prefetch``: read, keep)."""
        def codegen(context, builder, signature, args):
            array_type = signature.args[0]
            array = context.make_array(array_type)(context, builder, args[0])
            pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]], wraparound=False)
            byte_pointer, int32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
                "llvm.prefetch.p0i8")
            builder.call(function, [builder.bitcast(pointer, byte_pointer), int32(0), int32(3), int32(1)])
            return context.get_dummy_value()
        return types.void(array, index), codegen


@jit_exact
def _scan_tokens(data, strip, firsts, ends, hashes, lengths):
    """Pass 1 over ``data: uint8[n]``: the tokens of each line, split on Rust whitespace.

    Token ``t`` is ``data[firsts[t]:ends[t]]`` with FNV-1a hash ``hashes[t]``
    (int64[>= n/2 + 1] each); ``lengths[line]`` its line's token count.  Lines
    end at ``\\n`` or at the end of ``data``; with ``strip`` each line first
    loses its trailing Python whitespace.  Returns ``(n_tokens, n_lines, bytes)``,
    bytes = the tokens' total length.
    """
    n = data.shape[0]
    n_tokens = 0
    n_lines = 0
    total = 0
    position = 0
    while position < n:
        stop = position
        while stop < n and data[stop] != _NEWLINE:
            stop += 1
        end = stop
        if strip:
            while end > position:
                width = _python_space_before(data, position, end)
                if width == 0:
                    break
                end -= width
        line_tokens = 0
        i = position
        while i < end:
            width = _rust_space(data, i, end)
            if width:
                i += width
                continue
            first = i
            hashed = _FNV_OFFSET
            while i < end:
                c = int(data[i])
                if (c <= 0x20 and (c == 0x20 or 9 <= c <= 13)) or (c >= 0xC2 and _rust_space(data, i, end)):
                    break
                hashed = ((hashed ^ c) * _FNV_PRIME) & _MASK32
                i += 1
            firsts[n_tokens] = first
            ends[n_tokens] = i
            hashes[n_tokens] = hashed
            total += i - first
            n_tokens += 1
            line_tokens += 1
        lengths[n_lines] = line_tokens
        n_lines += 1
        position = stop + 1
    return n_tokens, n_lines, total


@jit_exact
def _scan_lines(data, firsts, ends, hashes):
    """Pass 1 for whole lines as keys: line ``t`` is ``data[firsts[t]:ends[t]]``, hash ``hashes[t]``."""
    n = data.shape[0]
    n_lines = 0
    position = 0
    while position < n:
        stop = position
        hashed = _FNV_OFFSET
        while stop < n and data[stop] != _NEWLINE:
            hashed = ((hashed ^ int(data[stop])) * _FNV_PRIME) & _MASK32
            stop += 1
        firsts[n_lines] = position
        ends[n_lines] = stop
        hashes[n_lines] = hashed
        n_lines += 1
        position = stop + 1
    return n_lines


@jit_exact
def _resolve(data, firsts, ends, hashes, count, ids, slots, arena, sizes):
    """Pass 2: ``ids[t]`` = the type id of key ``t < count`` of pass 1, new keys added as types.

    The caller has made room for ``count`` new types and their bytes.  Slot
    ``s`` is ``slots[2s]`` = hash << 31 | type id (-1: empty) and
    ``slots[2s+1]`` = the type's offset in the arena, where it is followed by
    ``\\n`` (keys never hold one), so a probe needs no third array.  The
    lookups of a block are independent: the slot of key ``t + 8`` and the
    arena bytes of key ``t + 4`` are prefetched, so their cache misses overlap
    instead of following one another.
    """
    mask = (slots.shape[0] >> 1) - 1
    for t in range(count):
        if t + _AHEAD < count:
            ahead = hashes[t + _AHEAD]
            _prefetch(slots, 2 * ((ahead ^ (ahead >> 16)) & mask))
        if t + _AHEAD // 2 < count:
            ahead = hashes[t + _AHEAD // 2]
            slot = 2 * ((ahead ^ (ahead >> 16)) & mask)
            if slots[slot] >> _ID_BITS == ahead:
                _prefetch(arena, slots[slot + 1])
        hashed = hashes[t]
        start = firsts[t]
        length = ends[t] - start
        slot = (hashed ^ (hashed >> 16)) & mask  # fold the high bits in: the index uses only the low ones
        while True:
            entry = slots[2 * slot]
            if entry < 0:
                break
            if entry >> _ID_BITS == hashed:
                at = slots[2 * slot + 1]
                if at + length < sizes[1] and arena[at + length] == _NEWLINE:
                    k = 0
                    while k < length and arena[at + k] == data[start + k]:
                        k += 1
                    if k == length:
                        break
            slot = (slot + 1) & mask
        if entry >= 0:
            ids[t] = entry & _ID_MASK
            continue
        index = sizes[0]
        used = sizes[1]
        for k in range(length):
            arena[used + k] = data[start + k]
        arena[used + length] = _NEWLINE
        slots[2 * slot] = (hashed << _ID_BITS) | index
        slots[2 * slot + 1] = used
        sizes[0] = index + 1
        sizes[1] = used + length + 1
        ids[t] = index


class TypeTable:
    """Distinct byte strings (types) numbered in first-seen order, with their counts.

    ``n_types``; ``counts()``: int64[n_types]; ``types_utf8()``: the types as
    UTF-8, one a line (no final newline); ``types()``: the same as list[str].
    Fill it with :meth:`split` (tokens of text) or :meth:`add_lines` (one
    type a line, e.g. another table's ``types_utf8()``).
    """

    def __init__(self, capacity: int = INITIAL_TYPES):
        self._slots = np.full(2 * _power_of_two(2 * capacity), -1, dtype=np.int64)  # pairs: hash << 31 | id, offset
        self._arena = np.empty(8 * capacity, dtype=np.uint8)    # each type's bytes, then b"\n"
        self._counts = np.zeros(capacity, dtype=np.int64)
        self._sizes = np.zeros(2, dtype=np.int64)               # n_types, arena bytes used
        self._scratch = np.empty((3, 0), dtype=np.int64)        # pass 1's firsts, ends, hashes

    @property
    def n_types(self) -> int:
        return int(self._sizes[0])

    def counts(self) -> np.ndarray:
        """int64[n_types]: occurrences (or added weights) of each type."""
        return self._counts[:self.n_types].copy()

    def types_utf8(self) -> bytes:
        """The types in id order, one a line, without a final newline (the shard's ``tokens.txt``)."""
        return self._arena[:max(int(self._sizes[1]) - 1, 0)].tobytes()

    def types(self) -> list[str]:
        """The types in id order as strings."""
        return self.types_utf8().decode("utf-8").split("\n") if self.n_types else []

    def split(self, data: bytes, strip: bool) -> tuple[np.ndarray, np.ndarray]:
        """Tokenize ``data`` (UTF-8 lines, ``\\n`` between them; a final ``\\n`` ends the last line) on Rust
        whitespace, adding the tokens to the table.

        ``strip``: remove each line's trailing Python whitespace first, as the
        readers do (for raw file bytes).  Returns ``(ids, lengths)``:
        int32[n_tokens] type ids and int64[n_lines] tokens per line.
        """
        array = np.frombuffer(data, dtype=np.uint8)
        firsts, ends, hashes = self._scratch_for(array.shape[0] // 2 + 1)
        lengths = np.empty(data.count(b"\n") + 1, dtype=np.int64)
        n_tokens, n_lines, n_bytes = _scan_tokens(array, strip, firsts, ends, hashes, lengths)
        ids = self._resolve(array, n_tokens, n_bytes)
        self._add_counts(np.bincount(ids, minlength=self.n_types))
        return ids.astype(np.int32), lengths[:n_lines]

    def add_lines(self, data: bytes, weights: np.ndarray) -> np.ndarray:
        """Add each line of ``data`` (UTF-8, ``\\n`` between lines) as one type, its count raised by
        ``weights[line]`` (int64[n_lines]); returns int64[n_lines]: the lines' type ids."""
        array = np.frombuffer(data, dtype=np.uint8)
        n_lines = data.count(b"\n") + (not data.endswith(b"\n")) if data else 0
        if n_lines != len(weights):
            raise ValueError(f"add_lines: {len(weights)} weights for {n_lines} lines")
        firsts, ends, hashes = self._scratch_for(n_lines)
        _scan_lines(array, firsts, ends, hashes)
        ids = self._resolve(array, n_lines, array.shape[0])
        added = np.zeros(self.n_types, dtype=np.int64)
        np.add.at(added, ids, np.asarray(weights, dtype=np.int64))
        self._add_counts(added)
        return ids

    def _scratch_for(self, size: int) -> np.ndarray:
        if self._scratch.shape[1] < size:
            self._scratch = np.empty((3, size), dtype=np.int64)
        return self._scratch

    def _resolve(self, array: np.ndarray, count: int, n_bytes: int) -> np.ndarray:
        """Pass 2 over the first ``count`` keys of the scratch arrays (``n_bytes`` long in all): int64[count] ids."""
        self._reserve(count, n_bytes + count)
        ids = np.empty(count, dtype=np.int64)
        firsts, ends, hashes = self._scratch
        _resolve(array, firsts, ends, hashes, count, ids, self._slots, self._arena, self._sizes)
        return ids

    def _add_counts(self, added: np.ndarray) -> None:
        if self._counts.shape[0] < added.shape[0]:
            self._counts = _resized(self._counts, max(2 * self._counts.shape[0], added.shape[0]))
        self._counts[:added.shape[0]] += added

    def _reserve(self, new_types: int, new_bytes: int) -> None:
        """Room for ``new_types`` more types (load <= 1/2) of ``new_bytes`` arena bytes; each array at least doubles."""
        n_types, used = int(self._sizes[0]), int(self._sizes[1])
        if used + new_bytes > self._arena.shape[0]:
            self._arena = _resized(self._arena, max(2 * self._arena.shape[0], used + new_bytes))
        if 2 * (n_types + new_types) > self._slots.shape[0] // 2:
            pairs = _power_of_two(max(self._slots.shape[0], 2 * (n_types + new_types)))
            self._slots = np.full(2 * pairs, -1, dtype=np.int64)
            _rehash(self._slots, self._arena, used)


@jit_exact
def _rehash(slots, arena, used):
    """Insert every type of ``arena[:used]`` (``\\n`` after each; id = order) into the empty ``slots``."""
    mask = (slots.shape[0] >> 1) - 1
    index = 0
    start = 0
    hashed = _FNV_OFFSET
    for k in range(used):
        c = int(arena[k])
        if c != _NEWLINE:
            hashed = ((hashed ^ c) * _FNV_PRIME) & _MASK32
            continue
        slot = (hashed ^ (hashed >> 16)) & mask
        while slots[2 * slot] >= 0:
            slot = (slot + 1) & mask
        slots[2 * slot] = (hashed << _ID_BITS) | index
        slots[2 * slot + 1] = start
        index += 1
        start = k + 1
        hashed = _FNV_OFFSET


def _resized(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros(size, dtype=array.dtype)
    grown[:array.shape[0]] = array
    return grown


def _power_of_two(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()
