"""Errors in the words of the command line: the flag, not the Python argument.

The library's messages name its parameters (``vector_size must be >= 1``,
``pass errors='replace'``, ``no_header=True``), which is right for a Python
caller and wrong for someone typing ``lmkit train skipgram --size 0``.
:func:`cli_message` rewrites such names into the options of the command that
ran (found in its argparse parser), so the advice can be followed as it is.
"""
from __future__ import annotations

import argparse
import re

# Python names whose CLI option has another name, for every command that has that option.
ALIASES = {
    "vector_size": "size", "workers": "threads", "errors": "encoding_errors",
}


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest -> --long-option`` for every option of ``parser`` (and the aliases that point at one)."""
    names = {}
    for action in parser._actions:
        longs = [option for option in action.option_strings if option.startswith("--")]
        if longs:
            names.setdefault(action.dest, longs[0])
    for python_name, dest in ALIASES.items():
        if dest in names:
            names.setdefault(python_name, names[dest])
    return names


def cli_message(message: str, parser: argparse.ArgumentParser | None) -> str:
    """``message`` with ``name=value`` and ``name must/needs/>= ...`` written as the parser's flags."""
    if parser is None:
        return message
    names = option_names(parser)
    if not names:
        return message
    pattern = "|".join(sorted(map(re.escape, names), key=len, reverse=True))

    def assignment(match: re.Match) -> str:
        flag, value = names[match["name"]], match["value"]
        if value == "True":
            return flag
        return f"{flag} {value.strip(chr(39) + chr(34))}"

    message = re.sub(rf"(?<![\w.-])(?P<name>{pattern})=(?P<value>'[^']*'|\"[^\"]*\"|[\w.+-]+)", assignment,
                     message)
    return re.sub(rf"(?<![\w.-])(?P<name>{pattern})(?=\s+(must|needs|is only|>=|<=|>|<)\s)",
                  lambda match: names[match["name"]], message)


def attach_parsers(parser: argparse.ArgumentParser) -> None:
    """Set ``_parser`` on every leaf sub-parser's defaults, so that main() knows whose flags to use."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        parser.set_defaults(_parser=parser)
    for action in subparsers:
        for child in set(action.choices.values()):
            attach_parsers(child)
