"""Optional extras: import a field-standard library where it is needed, or say in one line how to get it."""
from __future__ import annotations

import importlib


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the ``pip install 'lmkit[EXTRA]'`` line."""


def require(module: str, extra: str, purpose: str):
    """``import module``, or raise :class:`MissingExtra` saying that ``purpose`` needs ``lmkit[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs {module.split('.')[0]}: pip install 'lmkit[{extra}]'") from None
