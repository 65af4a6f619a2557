"""`lmkit` commands of the vectors family (see :mod:`lmkit.cli`)."""
from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add this family's commands to the top-level and ``train`` sub-parsers."""
