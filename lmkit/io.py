"""Atomic file writes and lmkit's own model format.

A saved model is one ``.npz`` file (numpy's zip of ``.npy`` arrays) that also
holds a JSON document, stored as the uint8 array ``__lmkit__``.  Loading uses
``np.load(..., allow_pickle=False)`` and ``json.loads``: opening a model never
executes code, unlike a pickle.  One file (rather than a directory of parts)
keeps the artifact atomic to write and easy to move.

The JSON document always carries::

    {"format": "lmkit-model", "format_version": 1, "kind": "<model kind>",
     "lmkit_version": "...", ...model metadata...}
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np

FORMAT_NAME = "lmkit-model"
FORMAT_VERSION = 1
_META_KEY = "__lmkit__"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Readers never see a half-written file: either the old content or the new
    one.  On an exception the temporary file is removed and ``path`` is left
    untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


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
