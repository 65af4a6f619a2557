"""``--config FILE`` of the trainers: a JSON document of config fields, under the flags typed.

A configuration found by ``lmkit tune`` (its ``best.json``) or written by
hand is the base; a flag given on the command line overrides the file's
value, and a flag left at its default does not.  Telling the two apart
cannot be done by comparing values (``--lr 0.001`` typed on purpose equals
the default), so :func:`explicit_flags` reads the command line itself: the
``--option`` tokens the user typed, with argparse's unique-prefix
abbreviations resolved as argparse resolves them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="JSON of config fields (e.g. a study's best.json from lmkit tune); "
                             "flags given on the command line override its values")


def read_config(path: str, flag: str = "--config") -> dict:
    """The JSON object in ``path``; one-line errors naming the flag, the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{flag} {path}: no such file") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag} {path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{flag} {path}: must hold a JSON object of config fields, got {type(values).__name__}")
    return values


def explicit_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The ``dest`` of every option of ``parser`` that ``argv`` names (``--lr 0.1``, ``--lr=0.1``, ``--no-direct``).

    Tokens after a bare ``--`` are positional; a token matching no option, or
    more than one by prefix, names none (argparse has refused it already).
    """
    options = {}
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--"):
                options[option] = action.dest
    found = set()
    for token in argv:
        if token == "--":
            break
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if name in options:
            found.add(options[name])
            continue
        matches = {dest for option, dest in options.items() if option.startswith(name)}
        if len(matches) == 1:
            found |= matches
    return found


def merge(file_values: dict, cli_values: dict, sources: dict[str, tuple[str, ...]], explicit: set[str]) -> dict:
    """Config fields: ``file_values``, with each ``cli_values[field]`` laid over it where the file lacks the
    field or one of the flags it comes from (``sources[field]``, default the field's own name) was typed."""
    merged = dict(file_values)
    for field, value in cli_values.items():
        if field not in file_values or explicit & set(sources.get(field, (field,))):
            merged[field] = value
    return merged
