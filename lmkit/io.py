"""Atomic file writes and lmkit's own model format.

A saved model is one ``.npz`` file (numpy's zip of ``.npy`` arrays) that also
holds a JSON document, stored as the uint8 array ``__lmkit__``.  Loading uses
``np.load(..., allow_pickle=False)`` and ``json.loads``: opening a model never
executes code, unlike a pickle.  One file (rather than a directory of parts)
keeps the artifact atomic to write and easy to move.

The JSON document always carries::

    {"format": "lmkit-model", "format_version": 1, "kind": "<model kind>",
     "lmkit_version": "...", ...model metadata...}

Every file lmkit writes goes through :func:`atomic_write`: a temporary file
``.<name>.lmkit-<pid>@<host>.<random>.tmp`` beside the target, renamed over
it when complete.  The pid and host in the name let a later write recognize
the leftovers of a writer that was killed (SIGKILL, power loss) and remove
them, without ever touching a file that a live process is still writing.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import tempfile
import time
import zipfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np

FORMAT_NAME = "lmkit-model"
FORMAT_VERSION = 1
_META_KEY = "__lmkit__"
STALE_TEMP_SECONDS = 24 * 3600  # a temp file untouched this long is abandoned even if its writer is unknown
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TEMP_NAME = re.compile(r"\.lmkit-(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)\.[A-Za-z0-9_]+\.tmp")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Readers never see a half-written file: either the old content or the new
    one.  On an exception the temporary file is removed and ``path`` is left
    untouched.  As a plain ``open(path, "w")`` would: a symlink is written
    through (its target is replaced, the link stays), an existing file keeps
    its permission bits and a new one gets ``0o666 & ~umask``.  An ``OSError``
    (full disk, no permission) carries ``path`` as its ``filename``.
    """
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path)
        permissions = _permissions_for(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.lmkit-{os.getpid()}@{_HOST}.", suffix=".tmp",
                                        dir=path.parent)
    except OSError as error:
        raise _naming(error, path) from None
    try:
        os.fchmod(fd, permissions)
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError):
            raise _naming(error, path) from None
        raise


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` naming ``path`` (not the temporary file, nor nothing, as a write that hit a full disk does)."""
    if error.errno is None:
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def _permissions_for(path: Path) -> int:
    """The mode bits a plain ``open(path, "w")`` would leave: the existing file's, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is a set-and-get)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Delete abandoned temporary files of :func:`atomic_write` for ``path``; return those removed.

    Only names of :func:`atomic_write`'s own pattern are considered.  One is
    stale when its writer (the pid in its name, on this host) no longer runs;
    one written from another host (a shared folder), when it has not been
    modified for ``STALE_TEMP_SECONDS``.
    A file whose writer is alive is never touched.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed: list[Path] = []
    try:
        entries = [entry for entry in os.scandir(path.parent)
                   if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file()]
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name[len(prefix) - 1:])
        if not match:
            continue  # not lmkit's naming: someone else's file
        try:
            idle = now - entry.stat().st_mtime
        except OSError:
            continue
        if match["host"] == _HOST:
            stale = not _alive(int(match["pid"]))
        else:
            stale = idle > STALE_TEMP_SECONDS
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def atomic_write_compressed(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """:func:`atomic_write` in binary, compressing with gzip or bzip2 when ``path`` ends in ``.gz``/``.bz2``."""
    import bz2
    import gzip

    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_write(path, "wb") as raw:
        if suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="wb") as handle:
                yield handle
        elif suffix == ".bz2":
            with bz2.BZ2File(raw, "wb") as handle:
                yield handle
        else:
            yield raw


def save_model(path: str | os.PathLike, kind: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and the JSON-serializable ``meta`` to ``path`` atomically.

    ``kind`` names the model class (``"word2vec"``, ``"nplm"``, ...) and is
    checked on load.  Returns the path written.
    """
    from lmkit import __version__

    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind,
                "lmkit_version": __version__, **meta}
    payload = np.frombuffer(json.dumps(document, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    with atomic_write(path) as handle:
        np.savez(handle, **{_META_KEY: payload}, **arrays)
    return path


def load_model(path: str | os.PathLike, kind: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_model`: ``(arrays, meta)``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the
    file for anything else wrong: not an lmkit model, truncated or corrupt,
    written by another format version, or of another ``kind``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        kind = "an empty file" if not magic else "not a zip archive"
        raise ValueError(f"{path}: not an lmkit model file ({kind}; lmkit models are .npz archives written by "
                         f"save(); word vectors are read by lmkit.KeyedVectors, ARPA files by KneserNey.load_arpa)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META_KEY not in archive.files:
                raise ValueError(f"{path}: not an lmkit model file (no {_META_KEY} entry)")
            meta = json.loads(archive[_META_KEY].tobytes().decode("utf-8"))
            arrays = {name: archive[name] for name in archive.files if name != _META_KEY}
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: corrupt or truncated lmkit model file ({error})") from error
    except ValueError as error:
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: corrupt or truncated lmkit model file ({error})") from error
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not an lmkit model file (format={meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {meta.get('format_version')!r} is not supported "
                         f"by this lmkit (reads version {FORMAT_VERSION})")
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{path}: holds a {meta.get('kind')!r} model, expected {kind!r}")
    return arrays, meta
