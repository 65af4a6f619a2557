"""Building the typed config dataclasses from plain dicts (JSON documents, CLI options)."""
from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def config_from_dict(cls: type[T], values: dict) -> T:
    """``cls(**values)``, refusing names that are not fields of ``cls``.

    A saved model or a hand-written config with a misspelt option should fail
    loudly, naming the option, rather than be silently ignored.
    """
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    return cls(**values)
