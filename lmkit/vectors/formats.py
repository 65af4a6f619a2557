"""The word2vec vector file formats (Mikolov et al., 2013, ``word2vec.c``), text and binary.

Both start with a header line ``"V d\\n"`` (vocabulary size, vector size), then one row
per word, in the order of the vocabulary:

* text:   ``word v1 v2 ... vd\\n`` -- values in decimal, separated by single spaces;
* binary: ``word`` (UTF-8 bytes) ``b" "`` then ``d`` little-endian float32 (``4 d`` bytes),
  then ``b"\\n"``.  The C tool writes that newline, gensim does not; the reader accepts
  both (it strips newlines in front of each word, as gensim does).

Choices, all checked by the tests:

* Text values are written with ``"%.9g"``: nine significant digits always identify a
  float32 (2^24 < 10^9), and the decimal string lies so close to the value (within
  5e-9 relative, a sixth of half a float32 spacing) that parsing it through a double,
  as numpy and gensim do, gives back the same float32 bit for bit.
* A word is read up to the first space (``b" "`` only, as gensim), so other whitespace
  such as a tab or U+00A0 stays inside the word.  Words containing a space or a newline,
  and empty words, cannot be represented and are refused on write.
* Duplicate words are an error naming both lines (gensim keeps the first silently):
  a duplicate means a damaged file or a lossy ``unicode_errors`` choice.
* Non-finite values (nan, inf) are an error on read and on write: one such row turns
  every cosine similarity into nan.
* ``.gz`` and ``.bz2`` paths are (de)compressed on the fly, on read and on write.
* ``limit=None`` reads or writes every row; an integer ``n >= 0`` at most ``n`` rows
  (gensim reads ``limit=0`` as "all").

Reading streams: text in blocks of about 8 MB of lines, their numbers parsed by a compiled
kernel (:mod:`lmkit.vectors.parse`, bit-identical to numpy's parsing, with numpy's
``np.loadtxt`` as the fallback) into a preallocated ``V x d`` array; binary in 1 MB chunks.
Errors name the file and the line (text) or the word number and byte offset (binary).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from lmkit.corpus.readers import open_binary
from lmkit.io import atomic_write_compressed

logger = logging.getLogger(__name__)

_TEXT_BLOCK_BYTES = 8 << 20      # lines handed to one np.loadtxt call
_BINARY_CHUNK_BYTES = 1 << 20    # bytes read at a time from a binary file
_MAX_WORD_BYTES = 1 << 16        # a longer "word" means a garbled binary file
_DATATYPES = (np.float16, np.float32, np.float64)
_UNICODE_ERRORS = ("strict", "replace", "ignore")


@contextlib.contextmanager
def open_read(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Binary read handle on ``path``, decompressing ``.gz``/``.bz2``; FileNotFoundError if absent."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    with open_binary(path) as handle:
        yield handle


def _check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be None or an integer >= 0, got {limit!r}")


def _parse_header(line: bytes, path: Path) -> tuple[int, int]:
    """``b"V d\\n"`` -> (V, d); ValueError naming the file otherwise."""
    fields = line.split()
    try:
        if len(fields) != 2:
            raise ValueError
        n_words, size = int(fields[0]), int(fields[1])
    except ValueError:
        shown = line[:80].decode("utf-8", "replace").rstrip("\n")
        raise ValueError(f"{path}: line 1: expected a header 'V d' (two integers: number of words, "
                         f"vector size), got {shown!r}; for a file without header pass no_header=True") from None
    if n_words < 0 or size < 1:
        raise ValueError(f"{path}: line 1: header 'V d' needs V >= 0 and d >= 1, got {n_words} {size}")
    return n_words, size


def _decode_word(raw: bytes, unicode_errors: str, where: str) -> str:
    try:
        word = raw.decode("utf-8", unicode_errors)
    except UnicodeDecodeError as error:
        raise ValueError(f"{where}: word {raw[:40]!r} is not valid UTF-8 ({error.reason}); "
                         "pass unicode_errors='replace' or 'ignore' to read it anyway") from None
    if not word:
        raise ValueError(f"{where}: empty word")
    return word


def _add_word(seen: dict[str, int], word: str, position: int, where: str, what: str) -> None:
    first = seen.setdefault(word, position)
    if first != position:
        raise ValueError(f"{where}: duplicate word {word!r} (first seen at {what} {first})")


# ----------------------------------------------------------------------------- text


def _parse_text_rows(rests: list[bytes], size: int, dtype: type, path: Path, first_line: int) -> np.ndarray:
    """Numbers of a block of text rows (each without its word) -> dtype[n, size].

    Three tiers, each handling what the one before refuses: the compiled fast-path parser
    (:mod:`lmkit.vectors.parse`), then one ``np.loadtxt`` over the block, then row by
    row to name the first bad line.
    """
    from lmkit.vectors.parse import parse_rows  # here: numba loads only when a text file is read

    data = b"".join(rests)
    values = parse_rows(data, len(rests), size, dtype)
    if values is not None and np.isfinite(values).all():
        return values
    try:
        text = data.decode("ascii")
        with np.errstate(over="ignore"):  # overflow to inf is reported below
            values = np.loadtxt(io.StringIO(text), dtype=dtype, comments=None, ndmin=2)
        if values.shape == (len(rests), size) and np.isfinite(values).all():
            return values
    except (UnicodeDecodeError, ValueError):
        pass
    for offset, rest in enumerate(rests):
        where = f"{path}: line {first_line + offset}"
        tokens = rest.split()
        if len(tokens) != size:
            raise ValueError(f"{where}: expected {size} values after the word, found {len(tokens)}")
        try:
            with np.errstate(over="ignore"):
                row = np.array([float(token) for token in tokens], dtype=dtype)
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise ValueError(f"{where}: non-numeric value {bad[:40]!r}") from None
        if not np.isfinite(row).all():
            raise ValueError(f"{where}: non-finite value (nan, inf, or out of range of {np.dtype(dtype)})")
    raise ValueError(f"{path}: lines {first_line}-{first_line + len(rests) - 1}: could not parse the vectors")


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_text(handle: IO[bytes], path: Path, n_rows: int | None, size: int | None,
               dtype: type, unicode_errors: str, check_end: bool = False) -> tuple[list[str], np.ndarray]:
    """Rows of a text file after its header (line 2 on), or from line 1 when
    ``size is None`` (no header: ``size`` from the first row, rows until EOF or ``n_rows``).
    ``check_end``: rows after the ``n_rows`` read are an error (the header undercounts).
    """
    first_line = 1 if size is None else 2
    words: list[str] = []
    seen: dict[str, int] = {}
    blocks: list[np.ndarray] = []
    out = None if n_rows is None or size is None else np.empty((n_rows, size), dtype=dtype)
    done = 0
    line_no = first_line
    while n_rows is None or done < n_rows:
        lines = handle.readlines(_TEXT_BLOCK_BYTES)
        if not lines:
            break
        if n_rows is not None:
            extra = lines[n_rows - done:]
            lines = lines[: n_rows - done]
            if check_end and any(line.strip() for line in extra):
                bad = next(i for i, line in enumerate(extra) if line.strip())
                raise ValueError(f"{path}: line {line_no + len(lines) + bad}: more rows than the {n_rows} the "
                                 f"header promises (a wrong header?); pass limit={n_rows} to read only those")
        if size is None:
            size = len(lines[0].partition(b" ")[2].split())
            if size == 0:
                raise ValueError(f"{path}: line 1: no values after the word {lines[0][:40]!r}")
        if not lines[-1].endswith(b"\n"):
            lines[-1] += b"\n"
        rests = []
        for line in lines:
            raw, _, rest = line.partition(b" ")
            where = f"{path}: line {line_no}"
            word = _decode_word(raw, unicode_errors, where)
            if word.endswith("\n") or word.endswith("\r\n"):
                raise ValueError(f"{where}: no values after the word {word.rstrip()!r}")
            _add_word(seen, word, line_no, where, "line")
            words.append(word)
            rests.append(rest)
            line_no += 1
        values = _parse_text_rows(rests, size, dtype, path, line_no - len(lines))
        if out is not None:
            out[done:done + len(lines)] = values
        else:
            blocks.append(values)
        done += len(lines)
    if n_rows is not None and done < n_rows:
        raise ValueError(f"{path}: line {line_no}: unexpected end of file: the header promises {n_rows} "
                         f"rows, found {done}")
    if check_end:
        for line in handle:
            if line.strip():
                raise ValueError(f"{path}: line {line_no}: more rows than the {n_rows} the header promises "
                                 f"(a wrong header?); pass limit={n_rows} to read only those")
            line_no += 1
    if out is None:
        out = np.concatenate(blocks) if blocks else np.empty((0, size or 0), dtype=dtype)
    return words, out


# --------------------------------------------------------------------------- binary


def _read_binary(handle: IO[bytes], path: Path, n_rows: int, size: int, dtype: type,
                 unicode_errors: str, header_bytes: int, check_end: bool = False) -> tuple[list[str], np.ndarray]:
    """``n_rows`` binary rows: word, space, ``size`` little-endian float32, optional newline.

    ``check_end``: bytes after the ``n_rows`` rows (other than newlines) are an error.
    """
    row_bytes = 4 * size
    out = np.empty((n_rows, size), dtype=dtype)
    words: list[str] = []
    starts: list[int] = []  # file offset of each row, for error messages
    seen: dict[str, int] = {}
    buffer = b""
    base = header_bytes  # file offset of buffer[0]
    pos = 0
    eof = False
    for index in range(n_rows):
        while True:
            space = buffer.find(b" ", pos)
            if space >= 0 and len(buffer) - space - 1 >= row_bytes:
                break
            if eof:
                raise ValueError(f"{path}: truncated binary file: the header promises {n_rows} words of "
                                 f"{size} float32 values, the data ends at byte {base + len(buffer)} inside "
                                 f"word {index + 1} (starting at byte {base + pos})")
            if space < 0 and len(buffer) - pos > _MAX_WORD_BYTES:
                raise ValueError(f"{path}: word {index + 1} at byte {base + pos}: no space after "
                                 f"{_MAX_WORD_BYTES} bytes: not a word2vec binary file")
            chunk = handle.read(_BINARY_CHUNK_BYTES)
            eof = not chunk
            buffer = buffer[pos:] + chunk
            base += pos
            pos = 0
        where = f"{path}: word {index + 1} at byte {base + pos}"
        raw = buffer[pos:space].lstrip(b"\n")
        if b"\n" in raw:
            raise ValueError(f"{where}: word contains a newline: not a word2vec binary file "
                             "(is it a text file? pass binary=False)")
        word = _decode_word(raw, unicode_errors, where)
        _add_word(seen, word, index + 1, where, "word")
        words.append(word)
        out[index] = np.frombuffer(buffer, dtype="<f4", count=size, offset=space + 1)
        starts.append(base + pos)
        pos = space + 1 + row_bytes
        if buffer[pos:pos + 1] == b"\n":  # the C tool's row end (else stripped in front of the next word)
            pos += 1
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise ValueError(f"{path}: word {bad + 1} at byte {starts[bad]}: non-finite value (nan, inf, or out of "
                         f"range of {np.dtype(dtype)}) in the vector of {words[bad]!r}")
    if check_end:
        rest = buffer[pos:] + handle.read(_BINARY_CHUNK_BYTES)
        while rest and not rest.strip(b"\n"):
            rest = handle.read(_BINARY_CHUNK_BYTES)
        if rest.strip(b"\n"):
            raise ValueError(f"{path}: byte {base + pos}: more data after the {n_rows} words the header promises "
                             f"(a wrong header?); pass limit={n_rows} to read only those")
    return words, out


def _guess_binary_size(path: Path, n_rows: int, size: int) -> int | None:
    """The vector size that reads the first rows of a binary file cleanly, when it is not ``size``.

    Tried when reading with the header's ``size`` fails: a wrong dimension in the
    header shifts every word after the first, which then fails as garbled UTF-8
    or a newline inside a word, far from the real cause.
    """
    with open_read(path) as handle:
        handle.readline()
        sample = handle.read(1 << 20)
    n_check = min(n_rows, 20)
    for candidate in range(1, 4 * size + 64):
        if candidate == size:
            continue
        pos, ok = 0, True
        for _ in range(n_check):
            while sample[pos:pos + 1] == b"\n":
                pos += 1
            space = sample.find(b" ", pos, pos + 256)
            end = space + 1 + 4 * candidate
            if space <= pos or end > len(sample):
                ok = False
                break
            try:
                word = sample[pos:space].decode("utf-8")
            except UnicodeDecodeError:
                ok = False
                break
            values = np.frombuffer(sample, dtype="<f4", count=candidate, offset=space + 1)
            if "\n" in word or not np.isfinite(values).all():
                ok = False
                break
            pos = end
        if ok and (n_check == n_rows or pos < len(sample)):
            return candidate
    return None


# ---------------------------------------------------------------------------- API


def read_word2vec(path: str | os.PathLike, binary: bool = False, limit: int | None = None,
                  unicode_errors: str = "strict", datatype: type = np.float32,
                  no_header: bool = False) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text or binary file: ``(words, vectors)``.

    Parameters
    ----------
    path : file name; ``.gz``/``.bz2`` are decompressed.
    binary : the binary format (float32 rows) instead of text.
    limit : read at most this many rows (``None``: all).
    unicode_errors : ``"strict"`` (a non-UTF-8 word is an error), ``"replace"`` or ``"ignore"``,
        as Python's ``bytes.decode``.  The C tool cuts long words at a byte count, which can
        split a UTF-8 character: ``"ignore"`` reads such files.
    datatype : dtype of the returned vectors: float16, float32 (default) or float64.
    no_header : text files without the ``V d`` line (GloVe style): the vector size is taken
        from the first row.

    Returns
    -------
    words : list[str], ``V`` distinct words in file order.
    vectors : datatype[V, d].

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and line
    (text) or word number and byte offset (binary) for a malformed one.
    """
    path = Path(path)
    _check_limit(limit)
    if unicode_errors not in _UNICODE_ERRORS:
        raise ValueError(f"unicode_errors must be one of {_UNICODE_ERRORS}, got {unicode_errors!r}")
    if np.dtype(datatype) not in [np.dtype(t) for t in _DATATYPES]:
        raise ValueError(f"datatype must be float16, float32 or float64, got {datatype!r}")
    if no_header and binary:
        raise ValueError("no_header=True is only possible for text files: a binary file needs its header")
    with open_read(path) as handle:
        if no_header:
            words, vectors = _read_text(handle, path, limit, None, datatype, unicode_errors)
        else:
            header = handle.readline()
            if not header:
                raise ValueError(f"{path}: line 1: empty file, expected a header 'V d'")
            n_words, size = _parse_header(header, path)
            n_rows = n_words if limit is None else min(n_words, limit)
            check_end = limit is None  # all the header promises: nothing may follow
            try:
                if binary:
                    words, vectors = _read_binary(handle, path, n_rows, size, datatype, unicode_errors,
                                                  len(header), check_end)
                else:
                    words, vectors = _read_text(handle, path, n_rows, size, datatype, unicode_errors, check_end)
            except ValueError as error:
                if sniff_binary(path) != binary:
                    hint = "binary: pass binary=True" if not binary else "like text: pass binary=False"
                    raise ValueError(f"{error} (the file looks {hint})") from None
                if binary and "more data after" not in str(error):
                    guess = _guess_binary_size(path, n_rows, size)
                    if guess is not None:
                        raise ValueError(f"{path}: line 1: the header gives vector size {size}, but the rows "
                                         f"hold {guess} float32 values: the header is wrong "
                                         f"(reading with {size} failed: {error})") from None
                raise
    logger.info("loaded %d x %d vectors from %s", vectors.shape[0], vectors.shape[1], path)
    return words, vectors


def _check_word(word: object, index: int) -> str:
    if not isinstance(word, str) or not word or " " in word or "\n" in word:
        raise ValueError(f"word {index} ({word!r}) cannot be written in the word2vec format: "
                         "words must be non-empty strings without spaces or newlines")
    return word


def write_word2vec(path: str | os.PathLike, words: list[str], vectors: np.ndarray, binary: bool = False,
                   limit: int | None = None, write_header: bool = True) -> Path:
    """Write ``words`` and ``vectors: float[V, d]`` (rows in that order) as a word2vec file.

    Text rows hold ``"%.9g"`` values, exact for float32 (see the module docstring);
    binary rows hold float32 (wider dtypes are rounded to float32).  ``limit`` writes
    only the first ``limit`` rows.  The write is atomic; ``.gz``/``.bz2`` compress.
    """
    path = Path(path)
    _check_limit(limit)
    if binary and not write_header:
        raise ValueError("write_header=False is only possible for text files: a binary file needs its header")
    n_rows = len(words) if limit is None else min(len(words), limit)
    vectors = vectors[:n_rows]
    keys = [_check_word(word, i) for i, word in enumerate(words[:n_rows])]
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise ValueError(f"the vector of word {bad} ({keys[bad]!r}) has non-finite values (nan or inf)")
    size = vectors.shape[1]
    with atomic_write_compressed(path) as handle:
        if write_header:
            handle.write(f"{n_rows} {size}\n".encode("utf-8"))
        if binary:
            rows = np.ascontiguousarray(vectors, dtype="<f4")
            for start in range(0, n_rows, 4096):
                handle.write(b"".join(keys[i].encode("utf-8") + b" " + rows[i].tobytes() + b"\n"
                                      for i in range(start, min(start + 4096, n_rows))))
        else:
            row_format = " ".join(["%.9g"] * size)
            for start in range(0, n_rows, 4096):
                block = vectors[start:start + 4096].astype(np.float64).tolist()
                handle.write("".join(f"{keys[start + i]} {row_format % tuple(row)}\n"
                                     for i, row in enumerate(block)).encode("utf-8"))
    logger.info("saved %d x %d vectors to %s", n_rows, size, path)
    return path


def sniff_binary(path: str | os.PathLike) -> bool:
    """Guess whether ``path`` is a binary (True) or text (False) word2vec file.

    Rule: the first 64 KB after the header line are read.  If every complete line
    there is a word followed by the header's ``d`` decimal numbers, the file is text
    (whatever the encoding of a word: a non-UTF-8 word is then reported as such, at
    its line).  Otherwise a NUL byte, an ASCII control character other than tab,
    newline and carriage return, or bytes that are not UTF-8 mean binary.  float32 data nearly always holds such bytes
    (one row of ``d`` random floats has ``4 d`` bytes, a fair share of them below 0x20
    or invalid UTF-8), so in practice the rule errs only on tiny, contrived files.
    """
    path = Path(path)
    with open_read(path) as handle:
        header = handle.readline()
        sample = handle.read(65536)
    if _rows_look_like_text(header, sample):
        return False
    if any(byte < 0x20 and byte not in (9, 10, 13) for byte in sample):
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut by the end of the sample is still text
        return not (error.start >= len(sample) - 3 and error.reason == "unexpected end of data")
    return False


def _rows_look_like_text(header: bytes, sample: bytes) -> bool:
    """Whether the complete lines of ``sample`` are ``word v1 .. vd`` rows, ``d`` from ``header``."""
    fields = header.split()
    if len(fields) != 2 or not fields[1].isdigit():
        return False
    size = int(fields[1])
    lines = sample.split(b"\n")[:-1][:50]
    if not lines:
        return False
    for line in lines:
        values = line.rstrip(b"\r").split(b" ")[1:]
        if values and values[-1] == b"":
            values = values[:-1]  # the C tool ends each text row with a space
        if len(values) != size or not all(_is_float(v) for v in values):
            return False
    return True
