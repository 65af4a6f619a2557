"""The typed config dataclasses' shared parts: fields that carry their reason, building configs from dicts.

Each field of a config (:class:`lmkit.lm.config.NPLMConfig`,
:class:`lmkit.word2vec.config.Word2VecConfig`, ...) is declared with
:func:`option`: its default and the one-line reason for it live there, once;
the command line builds its flags from them (:mod:`lmkit.cli.options`), so a
changed default changes the API and the CLI together.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def option(default=dataclasses.MISSING, reason: str = "", *, default_factory=dataclasses.MISSING,
           flag: str | None = None, choices: tuple | None = None, cli: bool = True):
    """A dataclass field with its ``reason`` (the CLI help), and how the command line shows it.

    ``flag``: the option's name when it is not ``--field-name`` (the C tool's
    ``--size`` for ``vector_size``); ``choices``: the allowed values;
    ``cli=False``: a field the command line sets another way (say why in the
    reason).  Choices that the library keeps elsewhere are written out here so
    that reading a config loads no numerical code; tests compare the two.
    """
    metadata = {"reason": reason, "flag": flag, "choices": choices, "cli": cli}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


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


def read_json_object(path, flag: str, what: str) -> dict:
    """The JSON object in ``path`` (a config, a search space); one-line errors naming ``flag``, the file and
    the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{flag} {path}: no such file") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag} {path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{flag} {path}: must hold a JSON object of {what}, got {type(values).__name__}")
    return values
