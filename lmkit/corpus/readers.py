"""Text in: files, globs and directories, plain or compressed, streamed.

Every corpus is read as a sequence of lines, one sentence per line, in blocks
of a few MiB so memory stays constant however large the file.  Bytes are
decoded as UTF-8; with ``errors="strict"`` (the default) a bad byte stops the
run with the file, line and byte offset, because silently replacing it would
change the vocabulary.  ``errors="replace"`` substitutes U+FFFD instead.
"""
from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import lzma
import os
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

BLOCK_BYTES = 1 << 22  # 4 MiB of raw text per read: large enough to amortize calls, small in memory
ENCODING_ERRORS = ("strict", "replace", "ignore")
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


def iter_line_blocks(path: Path, errors: str = "strict", block_bytes: int = BLOCK_BYTES) -> Iterator[list[str]]:
    """Yield the lines of one file (newline and trailing whitespace removed) in blocks.

    Raises ``ValueError`` naming the file for undecodable bytes (with line
    number and byte offset in the uncompressed stream) and for corrupt or
    truncated compressed files.
    """
    if errors not in ENCODING_ERRORS:
        raise ValueError(f"errors must be one of {ENCODING_ERRORS}, got {errors!r}")
    offset = 0        # byte offset of `pending` in the uncompressed stream
    line_number = 1   # line number of the first line in `pending`
    pending = b""
    try:
        with open_binary(path) as handle:
            while True:
                block = handle.read(block_bytes)
                if not block:
                    break
                data = pending + block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data
                    continue
                yield _decode_lines(data[:cut], path, errors, offset, line_number)
                line_number += data.count(b"\n", 0, cut)
                offset += cut
                pending = data[cut:]
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{path}: corrupt or truncated compressed file near byte {offset} ({error})") from error
    if pending:
        yield _decode_lines(pending, path, errors, offset, line_number)


def _decode_lines(data: bytes, path: Path, errors: str, offset: int, line_number: int) -> list[str]:
    try:
        text = data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as error:
        bad_line = line_number + data.count(b"\n", 0, error.start)
        raise ValueError(f"{path}: line {bad_line}: invalid UTF-8 byte {data[error.start]:#04x} at byte offset "
                         f"{offset + error.start}; pass errors='replace' to substitute U+FFFD") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip() for line in lines]


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


class FileSource:
    """Lines from files on disk: the usual corpus source.

    ``line_blocks()`` streams the files in order; ``fingerprint()`` identifies
    their current content for caching.
    """

    def __init__(self, spec: str | os.PathLike | Iterable[str | os.PathLike], errors: str = "strict"):
        if errors not in ENCODING_ERRORS:
            raise ValueError(f"errors must be one of {ENCODING_ERRORS}, got {errors!r}")
        self.paths = expand_paths(spec)
        self.errors = errors
        self.name = str(self.paths[0]) if len(self.paths) == 1 else f"{self.paths[0]} (+{len(self.paths) - 1} files)"

    def line_blocks(self) -> Iterator[list[str]]:
        for path in self.paths:
            yield from iter_line_blocks(path, self.errors)

    def fingerprint(self) -> str:
        return f"files:{self.errors}:{file_fingerprint(self.paths)}"
