"""The ``lmkit`` command: parse arguments, hand them to the library, report.

Each command family lives in its own module and registers its sub-parsers
here.  Modules import only ``argparse`` at top level and load numba and the
trainers inside their handlers, so ``lmkit --help`` answers at once.
"""
from __future__ import annotations

import argparse
import logging
import sys

from lmkit import __version__
from lmkit._extras import MissingExtra
from lmkit.cluster import WorkerFailedError
from lmkit.cli import data as data_commands
from lmkit.cli import lm as lm_commands
from lmkit.cli import vectors as vectors_commands
from lmkit.cli import tune as tune_commands
from lmkit.cli import watch as watch_commands
from lmkit.cli import word2vec as word2vec_commands
from lmkit.cli.errors import attach_parsers, cli_message

_FAMILIES = (data_commands, word2vec_commands, vectors_commands, lm_commands, tune_commands, watch_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmkit", description="Word embeddings and neural language models.")
    parser.add_argument("--version", action="version", version=f"lmkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser("train", help="train a model from a corpus or dataset name")
    trainers = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for family in _FAMILIES:
        family.register(commands, trainers)
    attach_parsers(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # --config: which flags were typed
    logging.basicConfig(level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
                        format="%(message)s")
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, MissingExtra, WorkerFailedError) as error:
        print(f"lmkit: error: {cli_message(str(error), getattr(args, '_parser', None))}", file=sys.stderr)
        return 2
    except OSError as error:  # a write that failed (full disk, permission): one line naming the file
        where = f"{error.filename}: " if error.filename else ""
        print(f"lmkit: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except MemoryError:
        print("lmkit: error: out of memory: choose smaller sizes (--size, --window, --features, --hidden, "
              "--batch-size) or a smaller vocabulary (--min-count)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lmkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
