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
dict lookup that hashes a fresh string); the kernel scans the bytes once and
interns each token in an open-addressing hash table (linear probing, load <= 1/2)
over a byte arena, ~50 ns a token.  The hash is 32-bit FNV-1a (Fowler, Noll, Vo),
computed while the token is scanned; each slot packs ``hash << 31 | type id`` so
a probe compares hashes without touching the arena.  Types are numbered in
first-seen order and stored in the arena each followed by ``\\n``, so the arena
is the shard's ``tokens.txt`` as it stands.

The integer arithmetic stays below 2**63 (hashes are masked to 32 bits before
each multiply), so the kernels give the same result with ``NUMBA_DISABLE_JIT=1``.
"""
from __future__ import annotations

import numpy as np

from lmkit._jit import jit_exact

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MASK32 = 0xFFFFFFFF
_ID_BITS = 31                      # a slot holds hash << 31 | type id: type ids below 2**31, as int32 ids need
_ID_MASK = (1 << _ID_BITS) - 1
_NEWLINE = 10
INITIAL_TYPES = 1 << 12            # type capacity of a new table; each growth doubles what runs short


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


@jit_exact
def _intern(data, start, end, hashed, weight, slots, arena, starts, counts, sizes):
    """The type id of ``data[start:end]`` (hash ``hashed``), added as a new type if unseen; adds ``weight``
    to its count.  The caller has made room for one more type and ``end - start + 1`` arena bytes."""
    mask = slots.shape[0] - 1
    tag = hashed << _ID_BITS
    length = end - start
    slot = (hashed ^ (hashed >> 16)) & mask  # fold the high bits in: the table index uses only the low ones
    while True:
        entry = slots[slot]
        if entry < 0:
            break
        if entry >> _ID_BITS == hashed:
            index = entry & _ID_MASK
            first = starts[index]
            if starts[index + 1] - 1 - first == length:
                k = 0
                while k < length and arena[first + k] == data[start + k]:
                    k += 1
                if k == length:
                    counts[index] += weight
                    return index
        slot = (slot + 1) & mask
    index = sizes[0]
    used = sizes[1]
    for k in range(length):
        arena[used + k] = data[start + k]
    arena[used + length] = _NEWLINE
    starts[index + 1] = used + length + 1
    counts[index] = weight
    slots[slot] = tag | index
    sizes[0] = index + 1
    sizes[1] = used + length + 1
    return index


@jit_exact
def _has_room(line_length, new_types, slots, arena, starts, sizes):
    """True when the table takes ``new_types`` more types (load <= 1/2) and ``line_length`` more bytes;
    otherwise records ``line_length`` in ``sizes[2]`` for the caller to grow by."""
    n_types = sizes[0] + new_types
    if 2 * n_types <= slots.shape[0] and n_types < starts.shape[0] and \
            sizes[1] + line_length + new_types <= arena.shape[0]:
        return True
    sizes[2] = line_length
    return False


@jit_exact
def _split_block(data, position, strip, ids, n_tokens, lengths, n_lines, slots, arena, starts, counts, sizes):
    """Split the lines of ``data: uint8[n]`` from byte ``position`` on Rust whitespace and intern the tokens.

    Appends each token's type id to ``ids: int32[>= n/2 + 1]`` (from index
    ``n_tokens``) and each line's token count to ``lengths: int64[lines]``
    (from ``n_lines``).  Lines end at ``\\n`` or at the end of ``data``; with
    ``strip`` each line first loses its trailing Python whitespace.  Returns
    ``(position, n_tokens, n_lines)`` after the last line done: ``position <
    n`` when the table needs room first (see :func:`_has_room`).
    """
    n = data.shape[0]
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
        if not _has_room(end - position, (end - position + 1) // 2, slots, arena, starts, sizes):
            return position, n_tokens, n_lines
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
            ids[n_tokens] = _intern(data, first, i, hashed, 1, slots, arena, starts, counts, sizes)
            n_tokens += 1
            line_tokens += 1
        lengths[n_lines] = line_tokens
        n_lines += 1
        position = stop + 1
    return position, n_tokens, n_lines


@jit_exact
def _intern_lines(data, position, weights, ids, n_lines, slots, arena, starts, counts, sizes):
    """Intern each whole line of ``data: uint8[n]`` from byte ``position`` as one type (the shard merge),
    adding ``weights[line]`` to its count; ``ids[line]`` gets its type id.  Returns ``(position, n_lines)``
    as :func:`_split_block` does."""
    n = data.shape[0]
    while position < n:
        stop = position
        hashed = _FNV_OFFSET
        while stop < n and data[stop] != _NEWLINE:
            hashed = ((hashed ^ int(data[stop])) * _FNV_PRIME) & _MASK32
            stop += 1
        if not _has_room(stop - position, 1, slots, arena, starts, sizes):
            return position, n_lines
        ids[n_lines] = _intern(data, position, stop, hashed, weights[n_lines], slots, arena, starts, counts, sizes)
        n_lines += 1
        position = stop + 1
    return position, n_lines


class TypeTable:
    """Distinct byte strings (types) numbered in first-seen order, with their counts.

    ``n_types``; ``counts()``: int64[n_types]; ``types_utf8()``: the types as
    UTF-8, one a line (no final newline); ``types()``: the same as list[str].
    Fill it with :meth:`split` (tokens of text) or :meth:`add_lines` (one
    type a line, e.g. another table's ``types_utf8()``).
    """

    def __init__(self, capacity: int = INITIAL_TYPES):
        self._slots = np.full(_power_of_two(2 * capacity), -1, dtype=np.int64)  # hash << 31 | id, -1 = empty
        self._starts = np.zeros(capacity + 1, dtype=np.int64)   # type k is arena[starts[k]:starts[k+1] - 1]
        self._counts = np.zeros(capacity, dtype=np.int64)
        self._arena = np.empty(8 * capacity, dtype=np.uint8)
        self._sizes = np.zeros(3, dtype=np.int64)               # n_types, arena bytes used, bytes wanted

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
        ids = np.empty(array.shape[0] // 2 + 1, dtype=np.int32)
        lengths = np.empty(data.count(b"\n") + 1, dtype=np.int64)
        position, n_tokens, n_lines = 0, 0, 0
        while True:
            position, n_tokens, n_lines = _split_block(array, position, strip, ids, n_tokens, lengths, n_lines,
                                                       self._slots, self._arena, self._starts, self._counts,
                                                       self._sizes)
            if position >= array.shape[0]:
                return ids[:n_tokens], lengths[:n_lines]
            self._grow(int(self._sizes[2]), (int(self._sizes[2]) + 1) // 2)

    def add_lines(self, data: bytes, weights: np.ndarray) -> np.ndarray:
        """Add each line of ``data`` (UTF-8, ``\\n`` between lines) as one type, its count raised by
        ``weights[line]`` (int64[n_lines]); returns int64[n_lines]: the lines' type ids."""
        array = np.frombuffer(data, dtype=np.uint8)
        weights = np.ascontiguousarray(weights, dtype=np.int64)
        n_lines = data.count(b"\n") + (not data.endswith(b"\n")) if data else 0
        if n_lines != weights.shape[0]:
            raise ValueError(f"add_lines: {weights.shape[0]} weights for {n_lines} lines")
        ids = np.empty(n_lines, dtype=np.int64)
        position, done = 0, 0
        while True:
            position, done = _intern_lines(array, position, weights, ids, done, self._slots, self._arena,
                                           self._starts, self._counts, self._sizes)
            if position >= array.shape[0]:
                return ids
            self._grow(int(self._sizes[2]), 1)

    def _grow(self, line_bytes: int, new_types: int) -> None:
        """Make room for ``new_types`` more types and ``line_bytes`` more bytes: each array at least doubles."""
        n_types, used = int(self._sizes[0]), int(self._sizes[1])
        capacity = self._counts.shape[0]
        if n_types + new_types >= capacity:
            capacity = max(2 * capacity, n_types + new_types + 1)
            self._starts = _resized(self._starts, capacity + 1)
            self._counts = _resized(self._counts, capacity)
        if used + line_bytes + new_types > self._arena.shape[0]:
            self._arena = _resized(self._arena, max(2 * self._arena.shape[0], used + line_bytes + new_types))
        if 2 * (n_types + new_types) > self._slots.shape[0]:
            self._slots = np.full(_power_of_two(max(2 * self._slots.shape[0], 2 * (n_types + new_types))), -1,
                                  dtype=np.int64)
            _rehash(self._slots, self._arena, self._starts, n_types)


@jit_exact
def _rehash(slots, arena, starts, n_types):
    """Insert types ``0..n_types-1`` of the arena into the empty ``slots``."""
    mask = slots.shape[0] - 1
    for index in range(n_types):
        hashed = _FNV_OFFSET
        for k in range(starts[index], starts[index + 1] - 1):
            hashed = ((hashed ^ int(arena[k])) * _FNV_PRIME) & _MASK32
        slot = (hashed ^ (hashed >> 16)) & mask
        while slots[slot] >= 0:
            slot = (slot + 1) & mask
        slots[slot] = (hashed << _ID_BITS) | index


def _resized(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros(size, dtype=array.dtype)
    grown[:array.shape[0]] = array
    return grown


def _power_of_two(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()
