"""`lmkit tune nplm|skipgram|cbow`: hyperparameter search with Optuna (see :mod:`lmkit.tune.study`).

The handler builds the fixed base config (defaults < ``--config FILE`` <
the few flags typed here), reads the space, opens the study in
``--study-dir``, runs the trials still missing to reach ``--trials`` -- here,
or in ``--parallel K`` worker processes that share the study's storage --
then prints the table of trials and writes the results.  A worker is this
same command with the hidden ``--worker-trials N``: it runs N trials and
leaves the summary to its parent.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from lmkit.cli.configfile import read_config
from lmkit.cli.options import field_names, typed_values
from lmkit.corpus.tokenizer_config import TokenizerConfig
from lmkit.cli.data import (add_input_arguments, add_tokenizer_arguments, corpus_source, encoding_options,
                             tokenizer_config)


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit tune nplm|skipgram|cbow``."""
    from lmkit.cli.lm import add_corpus_arguments

    tune = commands.add_parser("tune", help="hyperparameter search with Optuna (needs lmkit[tune])",
                               description="Search a model's options with Optuna: TPE, random or grid sampling, "
                                           "pruning of hopeless NPLM runs per epoch, a resumable study that "
                                           "several processes share. Needs optuna: pip install 'lmkit[tune]'.")
    models = tune.add_subparsers(dest="model", required=True, metavar="MODEL")
    nplm = models.add_parser("nplm", help="tune the NPLM on validation perplexity",
                             description="Tune the NPLM: each trial trains on --input and is judged by its best "
                                         "validation perplexity on --valid, reported every epoch for pruning.")
    add_corpus_arguments(nplm)
    nplm.add_argument("--valid", required=True, metavar="PATH_OR_DATASET", help="validation text (the objective)")
    nplm.add_argument("--max-tokens", type=int, default=None, help="train each trial on the first N tokens only")
    _study_arguments(nplm, "nplm")
    for architecture in ("skipgram", "cbow"):
        parser = models.add_parser(architecture, help=f"tune word2vec {architecture} on a benchmark",
                                   description=f"Tune word2vec {architecture}: each trial is judged by analogy "
                                               f"accuracy (--analogies) or word-similarity Spearman "
                                               f"(--similarity), or with neither by its last training loss.")
        parser.add_argument("--input", required=True, metavar="PATH_OR_DATASET", help="training text")
        benchmark = parser.add_mutually_exclusive_group()
        benchmark.add_argument("--analogies", metavar="FILE", help="questions-words.txt-style analogy file")
        benchmark.add_argument("--similarity", metavar="FILE", help="word pairs with human scores (WordSim-353)")
        parser.add_argument("--quiet", action="store_true", help="no log lines")
        _study_arguments(parser, "word2vec")
        add_tokenizer_arguments(parser)
        add_input_arguments(parser)


def _study_arguments(parser: argparse.ArgumentParser, model: str) -> None:
    study = parser.add_argument_group("study")
    study.add_argument("--study-dir", required=True, metavar="DIR",
                       help="the study's folder: its storage (study.journal), trials.csv, best.json, best.npz, "
                            "study.png; an existing study there is resumed")
    study.add_argument("--space", metavar="FILE", help="JSON search space: {option: {low, high, scale} or "
                       "{choice: [...]}} (default: the built-in space of the model)")
    study.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20); "
                       "a resumed study runs only the missing ones")
    study.add_argument("--config", metavar="FILE", help="JSON of the fixed config fields every trial starts from")
    study.add_argument("--epochs", type=int, default=None, help="epochs of each trial (default: the config's)")
    study.add_argument("--threads", type=int, default=None,
                       help="threads of each trial (default: the cores shared among --parallel workers)")
    study.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                       help="tpe (default), random, or grid (3 values per range, every choice)")
    study.add_argument("--startup-trials", type=int, default=10,
                       help="tpe: random trials before it models the results (default 10)")
    if model == "nplm":
        study.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                           help="stop a trial whose validation perplexity after an epoch is worse than the median "
                                "of earlier trials at that epoch (default), by successive halving, or never")
    else:
        study.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                           help="with no benchmark (the loss objective): pruning per epoch, as for nplm")
    study.add_argument("--seed", type=int, default=1, help="seed of the sampler (default 1)")
    study.add_argument("--time-limit", type=float, default=0.0, metavar="MIN",
                       help="start no trial after this many minutes (default 0: no limit)")
    study.add_argument("--parallel", type=int, default=1, metavar="K",
                       help="run trials in K worker processes sharing the study (default 1)")
    study.add_argument("--storage", metavar="URL",
                       help="a database URL (sqlite:///study.db, postgresql://...) instead of the journal file")
    study.add_argument("--keep-models", action="store_true", help="keep every complete trial's model in DIR/models")
    study.add_argument("--worker-trials", type=int, default=None, help=argparse.SUPPRESS)
    study.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_tune)


def _base_config(args) -> tuple[type, dict]:
    """The config class and the fixed fields of every trial: defaults < --config < flags typed here."""
    import dataclasses

    from lmkit._config import config_from_dict

    if args.model == "nplm":
        from lmkit.lm.config import NPLMConfig as cls
        values = {}
    else:
        from lmkit.word2vec.config import Word2VecConfig as cls
        values = {"architecture": args.model}
    if args.config:
        file_values = read_config(args.config)
        if file_values.get("architecture", args.model) != args.model and args.model != "nplm":
            raise ValueError(f"--config {args.config}: holds a {file_values['architecture']} config, "
                             f"not {args.model}")
        values = {**file_values, **values}
    for name in ("epochs", "threads", "max_tokens"):
        value = getattr(args, name, None)
        if value is not None:
            values["workers" if name == "threads" and args.model != "nplm" else name] = value
    if args.model != "nplm" and typed_values(args, field_names(TokenizerConfig)):
        values["tokenizer"] = dataclasses.asdict(tokenizer_config(args, values.get("tokenizer")))
    try:
        config = config_from_dict(cls, values)
        if hasattr(config, "validate"):
            config.validate()
    except (TypeError, ValueError) as error:
        raise ValueError(f"--config {args.config}: {error}" if args.config else str(error)) from None
    return cls, dataclasses.asdict(config)


def _spec(args):
    from lmkit.tune.space import default_space, load_space
    from lmkit.tune.study import StudySpec

    if args.trials < 1:
        raise ValueError(f"--trials must be >= 1, got {args.trials}")
    if args.parallel < 1:
        raise ValueError(f"--parallel must be >= 1, got {args.parallel}")
    if args.time_limit < 0:
        raise ValueError(f"--time-limit must be >= 0, got {args.time_limit}")
    cls, base = _base_config(args)
    family = "nplm" if args.model == "nplm" else "word2vec"
    params = load_space(args.space, cls, base) if args.space else default_space(family, cls, base)
    if args.model == "nplm":
        objective, benchmark = "ppl", None
    else:
        objective = "analogy" if args.analogies else "similarity" if args.similarity else "loss"
        benchmark = args.analogies or args.similarity
        if benchmark and not Path(benchmark).is_file():
            raise FileNotFoundError(f"--{objective if objective == 'similarity' else 'analogies'} {benchmark}: "
                                    f"no such file")
    return cls, StudySpec(model=args.model, objective=objective, params=params, base=base,
                          study_dir=Path(args.study_dir), storage=args.storage, sampler=args.sampler,
                          pruner=args.pruner, seed=args.seed, benchmark=benchmark, keep_models=args.keep_models,
                          extra={"startup_trials": args.startup_trials})


def _corpora(args, spec):
    """The encoded training corpus (and validation one, for the NPLM) of every trial."""
    if args.model == "nplm":
        from lmkit.cli.lm import encode_training
        from lmkit.corpus.encoded import encode_with_vocab

        train = encode_training(args)
        valid = encode_with_vocab(corpus_source(args, args.valid), train.vocab, train.tokenizer,
                                  **encoding_options(args), verbose=not args.quiet)
        return train, valid
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.corpus.tokenizer import TokenizerConfig

    base = spec.base
    return encode_corpus(corpus_source(args, args.input), TokenizerConfig.from_dict(base["tokenizer"]),
                         min_count=base["min_count"], max_size=base["max_vocab_size"],
                         max_sentence_length=base["max_sentence_length"], **encoding_options(args),
                         verbose=not args.quiet), None


def _tune(args: argparse.Namespace) -> int:
    from lmkit.tune import study as studies

    cls, spec = _spec(args)
    timeout = args.time_limit * 60 if args.time_limit else None
    if args.worker_trials is not None:  # a worker of a --parallel parent
        train, valid = _corpora(args, spec)
        studies.run_trials(spec, train, valid, args.worker_trials, worker=args.worker_index, timeout=timeout)
        return 0
    study = studies.open_study(spec)
    orphans = studies.fail_orphans(study)
    if orphans:
        print(f"tune: {orphans} trial(s) of an interrupted run marked failed")
    done = studies.finished(study)
    remaining = max(0, args.trials - done)
    print(f"tune {args.model}: study in {spec.study_dir} holds {done} finished trial(s); running {remaining} more "
          f"({', '.join(p.describe() for p in spec.params)})")
    if remaining and args.parallel == 1:
        train, valid = _corpora(args, spec)
        studies.run_trials(spec, train, valid, remaining, timeout=timeout)
    elif remaining:
        _run_workers(args, remaining)
    summary = studies.summarize(spec, cls)
    print(summary["table"])
    counts = summary["counts"]
    print(f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed"
          + (f", {counts['running']} running" if counts["running"] else ""))
    if summary["epochs_planned"]:
        share = summary["epochs_saved"] / summary["epochs_planned"]
        print(f"pruning saved {summary['epochs_saved']} of {summary['epochs_planned']} planned epochs ({share:.0%})")
    if "best" in summary:
        best = summary["best"]
        print(f"best: trial {best['trial']}, {studies.LABELS[spec.objective]} {best['value']:.4g}, "
              + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items()))
    if args.keep_models and summary.get("models"):
        print("models, best first (lmkit perplexity M1 M2 ... --fit-weights VALID mixes the top ones): "
              + " ".join(str(p) for p in summary["models"]))
    print("written: " + ", ".join(str(p) for p in summary["written"]))
    return 0


def _run_workers(args: argparse.Namespace, remaining: int) -> None:
    """Run ``remaining`` trials in ``--parallel`` processes of this command, each with its share of the cores."""
    k = min(args.parallel, remaining)
    shares = [remaining // k + (i < remaining % k) for i in range(k)]
    extra = []
    if args.threads is None:
        extra = ["--threads", str(max(1, (os.cpu_count() or 1) // k))]
    processes = [subprocess.Popen([sys.executable, "-m", "lmkit", *args._argv, *extra, "--parallel", "1",
                                   "--worker-trials", str(share), "--worker-index", str(i)])
                 for i, share in enumerate(shares)]
    codes = [p.wait() for p in processes]
    failed = [i for i, code in enumerate(codes) if code != 0]
    if failed:
        raise ValueError(f"--parallel: worker(s) {', '.join(map(str, failed))} exited with an error (see above); "
                         f"the study keeps their finished trials, run the command again to complete it")
