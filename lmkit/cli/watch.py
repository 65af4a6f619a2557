"""Watching training: the ``--log-dir``/``--monitor-every`` options of every trainer, and ``lmkit plot``.

``lmkit plot RUN_DIR [RUN_DIR ...] --output report.png`` draws the panels of
:func:`lmkit.plot.plot_runs` from run folders written with ``--log-dir``;
``lmkit plot vectors VECTORS --words w1 w2 ...`` draws a 2-D PCA map of those
words and their nearest neighbours (:func:`lmkit.plot.plot_vectors`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lmkit.cli.vectors import add_format_arguments


def add_monitor_arguments(parser: argparse.ArgumentParser, unit: str) -> None:
    """``--log-dir`` and ``--monitor-every`` (in ``unit`` steps) for a trainer's parser."""
    group = parser.add_argument_group("monitoring")
    group.add_argument("--log-dir", metavar="DIR",
                       help="write a run folder there: config.json, metrics.jsonl (per-layer gradients, update "
                            "ratios, hidden units, warnings) and, with lmkit[monitor], TensorBoard event files")
    group.add_argument("--monitor-every", type=int, default=None, metavar="N",
                       help=f"{unit} between two monitor reports (default: the monitor's own)")


def monitor_options(args: argparse.Namespace) -> dict:
    """The fit() keywords of the monitoring flags (none when --log-dir is absent)."""
    if args.monitor_every is not None and args.monitor_every < 1:
        raise ValueError(f"--monitor-every must be >= 1, got {args.monitor_every}")
    if args.log_dir is None:
        if args.monitor_every is not None:
            raise ValueError("--monitor-every needs --log-dir DIR")
        return {}
    if Path(args.log_dir).exists() and not Path(args.log_dir).is_dir():
        raise ValueError(f"--log-dir {args.log_dir}: exists and is not a folder")
    options = {"log_dir": args.log_dir}
    if args.monitor_every is not None:
        options["monitor_every"] = args.monitor_every
    return options


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit plot``."""
    plot = commands.add_parser(
        "plot", help="draw training runs (from --log-dir folders) or a map of word vectors",
        description="lmkit plot RUN_DIR [RUN_DIR ...] --output report.png: training curves, per-layer gradient "
                    "norms and update ratios, saturated/dead units; several runs overlaid. "
                    "lmkit plot vectors VECTORS --words W1 W2 ... --output map.png: a 2-D PCA map of the "
                    "words and their nearest neighbours. Needs matplotlib: pip install 'lmkit[plot]'.")
    plot.add_argument("targets", nargs="+", metavar="RUN_DIR | vectors VECTORS",
                      help="run folders, or the word 'vectors' followed by a vector file")
    plot.add_argument("--output", "-o", required=True, metavar="PNG", help="image file to write")
    plot.add_argument("--words", nargs="+", metavar="WORD", help="vectors: the words to place on the map")
    plot.add_argument("--neighbours", type=int, default=5, metavar="K",
                      help="vectors: nearest neighbours drawn around each word (default 5)")
    add_format_arguments(plot)
    plot.set_defaults(handler=_plot)


def _plot(args: argparse.Namespace) -> int:
    from lmkit.cli.paths import check_output
    from lmkit.plot import plot_runs, plot_vectors

    check_output(args.output, "--output")
    if args.targets[0] == "vectors":
        if len(args.targets) != 2:
            raise ValueError("usage: lmkit plot vectors VECTORS --words W1 W2 ... --output map.png")
        if not args.words:
            raise ValueError("lmkit plot vectors needs --words W1 W2 ...")
        if args.neighbours < 0:
            raise ValueError(f"--neighbours must be >= 0, got {args.neighbours}")
        from lmkit.cli.vectors import load_vectors

        vectors = load_vectors(args.targets[1], args.binary, args.limit, no_header=args.no_header,
                               unicode_errors=args.unicode_errors)
        written = plot_vectors(vectors, args.words, args.output, neighbours=args.neighbours)
    else:
        if args.words:
            raise ValueError("--words is for 'lmkit plot vectors VECTORS'")
        written = plot_runs(args.targets, args.output)
    print(f"plot: {written}")
    return 0
