"""Output paths checked before the work starts, not after an hour of training.

A directory given as ``--output``, a folder without write permission or a
path through a regular file would otherwise fail only when the result is
saved.  :func:`check_output` refuses them at once, naming the flag; errors at
write time itself (a full disk) are still reported by ``lmkit.io`` naming the
file, and leave the previous file intact.
"""
from __future__ import annotations

import os
from pathlib import Path


def check_output(path: str | os.PathLike | None, flag: str) -> None:
    """ValueError unless ``path`` can be written: not a directory, in a folder we may create files in.

    A symlink is checked at its target (lmkit writes through it); folders that
    do not exist yet are fine if the nearest existing one is writable (they
    are created on write).
    """
    if path is None or path == "":
        return
    given = Path(path)
    target = Path(os.path.realpath(given))
    if target.is_dir():
        raise ValueError(f"{flag} {given}: is a directory; give a file name (e.g. {given / 'out'})")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{flag} {given}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {given}: no permission to create files in {folder}")
