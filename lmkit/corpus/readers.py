"""Text in: files, globs and directories, plain, compressed or zipped, streamed.

Every corpus is read as a sequence of lines, one sentence per line, in blocks
of a few MiB so memory stays constant however large the file.  Bytes are
decoded as UTF-8 (or another ASCII-compatible ``encoding``, e.g. latin-1);
with ``errors="strict"`` (the default) a bad byte stops the run with the
file, line and byte offset, because silently replacing it would change the
vocabulary.  ``errors="replace"`` substitutes U+FFFD instead, but only for a
few stray bytes: when more than ``max_invalid`` (1%) of a file's bytes are
invalid or NUL, the file is not text (an executable, an image, a wrong
encoding) and reading stops with the count rather than train on garbage.

A ``.zip`` archive is read member by member (its files in name order); NLTK's
``brown.zip`` is recognized and read as the Brown corpus, exactly as the
dataset name ``brown`` is.
"""
from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import hashlib
import lzma
import os
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

BLOCK_BYTES = 1 << 22  # 4 MiB of raw text per read: large enough to amortize calls, small in memory
ENCODING_ERRORS = ("strict", "replace", "ignore")
DEFAULT_ENCODING = "utf-8"
MAX_INVALID = 0.01  # with errors="replace": more invalid or NUL bytes than this fraction of a file means "not text"
_GLOB_CHARS = set("*?[")


def expand_paths(spec: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Turn a path, glob, directory or list of them into a sorted list of files.

    A directory stands for every regular, non-hidden file below it.  Raises
    ``FileNotFoundError`` for a path or glob that names nothing and
    ``ValueError`` for a directory that holds no file.
    """
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if not specs:
        raise ValueError("no input files given")
    files: list[Path] = []
    for item in specs:
        text = os.fspath(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no file matches the pattern {text!r}")
            for match in matches:
                files.extend(_files_below(match))
            continue
        path = Path(text)
        if not path.exists():
            raise FileNotFoundError(f"input file not found: {path}")
        found = _files_below(path)
        if not found:
            raise ValueError(f"directory {path} contains no text files")
        files.extend(found)
    return files


def _files_below(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    return []


def open_binary(path: Path) -> BinaryIO:
    """Open ``path`` for reading bytes, decompressing ``.gz``, ``.bz2`` and ``.xz``."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    return open(path, "rb", buffering=1 << 20)  # 1 MiB: fewer system calls on large files


def check_encoding(encoding: str) -> str:
    """The codec name of ``encoding``; ValueError for an unknown one or one whose lines are not split by b"\\n"."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    if "\na z".encode(name, errors="replace") != b"\na z":
        raise ValueError(f"encoding {encoding!r} is not ASCII-compatible (UTF-16/32 files are not supported): "
                         f"convert the file to UTF-8 first")
    return name


def _check_options(errors: str, encoding: str, max_invalid: float) -> str:
    if errors not in ENCODING_ERRORS:
        raise ValueError(f"errors must be one of {ENCODING_ERRORS}, got {errors!r}")
    if not (isinstance(max_invalid, (int, float)) and 0 <= max_invalid <= 1):
        raise ValueError(f"max_invalid must be a fraction in [0, 1], got {max_invalid!r}")
    return check_encoding(encoding)


def iter_line_blocks(path: Path, errors: str = "strict", block_bytes: int = BLOCK_BYTES,
                     encoding: str = DEFAULT_ENCODING, max_invalid: float = MAX_INVALID, start: int = 0,
                     end: int | None = None) -> Iterator[list[str]]:
    """Yield the lines of one file (newline and trailing whitespace removed) in blocks.

    ``start``/``end``: read only the bytes ``[start, end)`` of a plain file
    (offsets from :func:`line_boundaries`); errors then name the range, count
    lines from its start and give byte offsets in the whole file, and the
    ``max_invalid`` share is taken over the range.

    Raises ``ValueError`` naming the file for undecodable bytes (with line
    number and byte offset in the uncompressed stream), for a file that is
    not text (more than ``max_invalid`` of its bytes invalid or NUL, with
    ``errors="replace"``/``"ignore"``) and for corrupt or truncated
    compressed files.
    """
    return _file_blocks(path, errors, block_bytes, encoding, max_invalid, start, end, _decode_lines)


def iter_utf8_blocks(path: Path, errors: str = "strict", block_bytes: int = BLOCK_BYTES,
                     encoding: str = DEFAULT_ENCODING, max_invalid: float = MAX_INVALID, start: int = 0,
                     end: int | None = None) -> Iterator[bytes]:
    """The lines of :func:`iter_line_blocks` as UTF-8 bytes, ``\\n`` after each, trailing whitespace not yet stripped.

    For compiled readers (:mod:`lmkit.corpus.byte_types`) that need no
    ``str``: a block of valid UTF-8 without NUL bytes is passed on as read,
    with no decoding beyond the check; any other block (another encoding,
    invalid bytes, NUL) goes through :func:`iter_line_blocks`'s decoding, so
    errors, replacement and the ``max_invalid`` check are the same, and is
    encoded back to UTF-8.  Stripping each line's trailing whitespace is left
    to the consumer, which does it in its own scan (in Python it would be a
    second pass over every line).
    """
    return _file_blocks(path, errors, block_bytes, encoding, max_invalid, start, end, _utf8_lines)


def _file_blocks(path: Path, errors: str, block_bytes: int, encoding: str, max_invalid: float, start: int,
                 end: int | None, decode) -> Iterator:
    encoding = _check_options(errors, encoding, max_invalid)
    if start == 0 and end is None:
        with _opened(path) as handle:
            yield from _stream_blocks(handle, str(path), errors, block_bytes, encoding, max_invalid, decode=decode)
        return
    if path.suffix.lower() in (".gz", ".bz2", ".xz"):
        raise ValueError(f"{path}: a compressed file cannot be read by byte range")
    with open(path, "rb") as handle:
        handle.seek(start)
        yield from _stream_blocks(_Range(handle, end - start if end is not None else None),
                                  f"{path} (lines counted from byte {start})", errors, block_bytes, encoding,
                                  max_invalid, offset=start, decode=decode)


class _Range:
    """The ``read`` of a binary file limited to ``size`` bytes from its current position (None: no limit)."""

    def __init__(self, handle: BinaryIO, size: int | None):
        self.handle, self.left = handle, size

    def read(self, size: int) -> bytes:
        if self.left is None:
            return self.handle.read(size)
        data = self.handle.read(min(size, self.left))
        self.left -= len(data)
        return data


def line_boundaries(path: Path, pieces: int) -> list[int]:
    """Byte offsets ``[0, ..., size]`` cutting a plain file into about ``pieces`` equal ranges of whole lines.

    Each inner offset is the first byte after a newline, so every line lies in
    exactly one range; ranges that would be empty are merged away.
    """
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as handle:
        for piece in range(1, max(pieces, 1)):
            target = max(size * piece // pieces, bounds[-1])
            if target == 0:
                continue
            handle.seek(target - 1)
            handle.readline()
            cut = handle.tell()
            if bounds[-1] < cut < size:
                bounds.append(cut)
    bounds.append(size)
    return bounds


def _opened(path: Path) -> BinaryIO:
    try:
        return open_binary(path)
    except (OSError, EOFError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"{path}: cannot open ({error})") from error


def _stream_blocks(handle: BinaryIO, name: str, errors: str, block_bytes: int, encoding: str,
                   max_invalid: float, offset: int = 0, decode=None) -> Iterator:
    """The lines of one byte stream in blocks; ``name`` is what errors call it, ``offset`` where it starts.

    ``decode``: :func:`_decode_lines` (the default: list[str] blocks) or :func:`_utf8_lines` (bytes).
    """
    decode = decode or _decode_lines
    first = offset    # the invalid share is taken over the bytes read from here
    line_number = 1   # line number of the first line in `pending`
    pending = b""
    invalid = [0]     # invalid or NUL bytes seen so far (a list: _decode_lines adds to it)
    try:
        while True:
            block = handle.read(block_bytes)
            if not block:
                break
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending = data
                if len(pending) > 4 * block_bytes:  # no newline in 16 MiB: a binary file or one huge line
                    _check_invalid(name, invalid[0] + pending.count(b"\0"), len(pending), errors, max_invalid,
                                   encoding)
                continue
            yield decode(data[:cut], name, errors, offset, line_number, encoding, invalid)
            line_number += data.count(b"\n", 0, cut)
            offset += cut
            _check_invalid(name, invalid[0], offset - first, errors, max_invalid, encoding)
            pending = data[cut:]
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as error:
        if isinstance(error, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{name}: corrupt or truncated compressed file near byte {offset} ({error})") from error
    if pending:
        lines = decode(pending, name, errors, offset, line_number, encoding, invalid)
        _check_invalid(name, invalid[0], offset - first + len(pending), errors, max_invalid, encoding)
        yield lines


def _check_invalid(name: str, invalid: int, total: int, errors: str, max_invalid: float, encoding: str) -> None:
    """Stop when more than ``max_invalid`` of the bytes read so far were invalid or NUL: the file is not text."""
    if invalid > max_invalid * total and invalid > 0:
        raise ValueError(f"{name}: {invalid:,} of the first {total:,} bytes ({100 * invalid / total:.1f}%) are not "
                         f"valid {_shown(encoding)} text (invalid or NUL), more than errors={errors!r} accepts "
                         f"({100 * max_invalid:g}%): is it a text file in this encoding? Pass max_invalid=1 to "
                         f"read it anyway")


def _shown(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8" else encoding


def _decode_lines(data: bytes, name: str, errors: str, offset: int, line_number: int, encoding: str = "utf-8",
                  invalid: list[int] | None = None) -> list[str]:
    nul = data.count(b"\0")
    try:
        if nul and errors == "strict":
            raise UnicodeDecodeError(encoding, data, data.index(b"\0"), data.index(b"\0") + 1, "NUL byte")
        text = data.decode(encoding, errors="strict")
    except UnicodeDecodeError as error:
        if errors == "strict":
            bad_line = line_number + data.count(b"\n", 0, error.start)
            what = "NUL byte (binary data)" if error.reason == "NUL byte" else f"invalid {_shown(encoding)} byte"
            raise ValueError(f"{name}: line {bad_line}: {what} {data[error.start]:#04x} at byte offset "
                             f"{offset + error.start}; pass errors='replace' to substitute U+FFFD, or the file's "
                             f"encoding (e.g. encoding='latin-1')") from None
        text = data.decode(encoding, errors="replace")
        replaced = text.count("\ufffd") - (data.count("\ufffd".encode(encoding)) if encoding == "utf-8" else 0)
        nul += replaced
        if errors == "ignore":
            text = data.decode(encoding, errors="ignore")
    if invalid is not None:
        invalid[0] += nul
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip() for line in lines]


def _utf8_lines(data: bytes, name: str, errors: str, offset: int, line_number: int, encoding: str = "utf-8",
                invalid: list[int] | None = None) -> bytes:
    """``data`` itself when it is valid UTF-8 without NUL, else the UTF-8 of :func:`_decode_lines`'s lines."""
    if encoding == "utf-8" and b"\0" not in data and (data.isascii() or _is_utf8(data)):
        return data
    lines = _decode_lines(data, name, errors, offset, line_number, encoding, invalid)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def file_fingerprint(paths: list[Path]) -> str:
    """A digest of the files' resolved paths, sizes and modification times.

    Cheap (no content is read) and changes whenever a file is edited, replaced
    or renamed, which is what a cache of derived arrays needs.
    """
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def is_zip(path: Path) -> bool:
    """True for a zip archive: named ``.zip`` or starting with the zip signature."""
    if path.suffix.lower() == ".zip":
        return True
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def zip_members(path: Path) -> list[str]:
    """The files of a zip archive, in name order, without folders and hidden or macOS metadata files."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(info.filename for info in archive.infolist()
                          if not info.is_dir() and not any(part.startswith((".", "__MACOSX"))
                                                           for part in info.filename.split("/")))
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a valid zip file ({error})") from error


class FileSource:
    """Lines from files on disk: the usual corpus source.

    ``line_blocks()`` streams the files in order (a ``.zip`` member by member,
    NLTK's ``brown.zip`` as the Brown corpus); ``fingerprint()`` identifies
    their current content for caching.
    """

    def __init__(self, spec: str | os.PathLike | Iterable[str | os.PathLike], errors: str = "strict",
                 encoding: str = DEFAULT_ENCODING, max_invalid: float = MAX_INVALID):
        self.encoding = _check_options(errors, encoding, max_invalid)
        self.paths = expand_paths(spec)
        self.errors = errors
        self.max_invalid = max_invalid
        self.name = str(self.paths[0]) if len(self.paths) == 1 else f"{self.paths[0]} (+{len(self.paths) - 1} files)"

    def line_blocks(self) -> Iterator[list[str]]:
        for path in self.paths:
            if is_zip(path):
                yield from self._zip_blocks(path)
            else:
                yield from iter_line_blocks(path, self.errors, encoding=self.encoding, max_invalid=self.max_invalid)

    def _zip_blocks(self, path: Path) -> Iterator[list[str]]:
        members = zip_members(path)
        with zipfile.ZipFile(path) as archive:
            if not members:
                raise ValueError(f"{path}: the zip archive holds no files")
            for member in members:
                with archive.open(member) as handle:
                    yield from _stream_blocks(handle, f"{path}:{member}", self.errors, BLOCK_BYTES, self.encoding,
                                              self.max_invalid)

    def fingerprint(self) -> str:
        return f"files:{self.errors}:{self.encoding}:{file_fingerprint(self.paths)}"
