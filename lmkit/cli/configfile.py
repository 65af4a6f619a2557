"""``--config FILE`` of the trainers: a JSON document of config fields, under the flags typed.

A configuration found by ``lmkit tune`` (its ``best.json``) or written by
hand is the base; a flag given on the command line overrides the file's
value, and a flag left at its default does not.  The config flags default to
``argparse.SUPPRESS`` (:mod:`lmkit.cli.options`), so the flags typed are the
attributes present, whatever their values (``--lr 0.001`` typed on purpose
equals the default, and still wins over the file).
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
