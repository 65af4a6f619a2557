"""Command-line flags generated from a config dataclass, so each default and its reason live in one place.

Every field declared with :func:`lmkit._config.option` becomes a flag: its
name (``--field-name``, or the field's ``flag``), its type (``int``,
``float``, ``str``; ``bool`` fields get ``--x/--no-x``; ``X | None`` fields
take an ``X`` and default to none), its choices, and a help text made of the
field's reason and its default, read from the dataclass.  The flags default
to ``argparse.SUPPRESS``: a flag the user did not type leaves no attribute,
so :func:`typed_values` returns exactly what was typed, and the config's own
defaults (or a ``--config`` file's values) fill in the rest.
"""
from __future__ import annotations

import argparse
import dataclasses


def _flags(field: dataclasses.Field) -> tuple[str, ...]:
    """The option strings of ``field``: its ``flag`` metadata (a name or a tuple of names), else ``--field-name``."""
    flag = field.metadata.get("flag") or "--" + field.name.replace("_", "-")
    return (flag,) if isinstance(flag, str) else tuple(flag)


def cli_fields(cls, exclude=()) -> list[dataclasses.Field]:
    """The fields of ``cls`` the command line sets (``option(..., cli=False)`` and ``exclude`` left out)."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True) and f.name not in exclude]


def _value_type(field: dataclasses.Field) -> type:
    """The value type from the field's annotation (a string under ``from __future__ import annotations``;
    ``X | None`` gives ``X``: the flag takes an X, its absence leaves the default)."""
    names = [part.strip() for part in str(field.type).split("|") if part.strip() != "None"]
    if len(names) != 1 or names[0] not in ("int", "float", "str", "bool"):
        raise TypeError(f"{field.name}: no command-line type for {field.type!r}")
    return {"int": int, "float": float, "str": str, "bool": bool}[names[0]]


def _default_text(field: dataclasses.Field) -> str:
    default = field.default
    if default is None:
        return "none"
    if default == "":
        return "''"
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default)


def add_config_options(parser, cls, *, exclude=()) -> list[str]:
    """Add a flag for each command-line field of ``cls`` to ``parser`` (or an argument group).

    Returns the field names added, for :func:`typed_values`.
    """
    added = []
    for field in cli_fields(cls, exclude):
        kind = _value_type(field)
        reason = field.metadata.get("reason", "")
        help_text = f"{reason} (default {_default_text(field)})".replace("%", "%%")
        options = {"dest": field.name, "default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
            if field.metadata.get("choices"):  # "" (unset) is a default, never typed
                options["choices"] = [c for c in field.metadata["choices"] if c != ""]
            else:
                options["metavar"] = {int: "N", float: "X", str: "TEXT"}[kind]
        parser.add_argument(*_flags(field), **options)
        added.append(field.name)
    return added


def typed_values(args: argparse.Namespace, names) -> dict:
    """The config fields among ``names`` that the user typed a flag for, with their values."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def field_names(cls) -> list[str]:
    """The names of ``cls``'s command-line fields."""
    return [f.name for f in cli_fields(cls)]
