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

from lmkit._config import read_json_object


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="JSON of config fields (e.g. a study's best.json from lmkit tune); "
                             "flags given on the command line override its values")


def read_config(path: str, flag: str = "--config") -> dict:
    """The JSON object of config fields in ``path``; one-line errors naming the flag, the file and the line."""
    return read_json_object(path, flag, "config fields")
