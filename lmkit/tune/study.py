"""Hyperparameter search on Optuna: objectives, the study's storage, pruning, and its results.

Optuna (Akiba et al. 2019) supplies what a hand-written loop would do worse:
samplers (TPE, random, grid), pruners (median, successive halving) and a
storage that several processes share.  lmkit supplies the objectives:

- NPLM: the best validation perplexity of a training run.  Every epoch's
  ``valid_ppl`` is reported to the trial by :class:`ReportToTrial`, a
  :class:`lmkit.training.Callback`; when the pruner judges the run hopeless
  beside earlier trials at the same epoch, the callback asks the trainer to
  stop (``run.request_stop``) and the trial is recorded as pruned, with the
  epochs it did not have to train.  A run that diverges (NaN loss) is pruned
  too: a sampler should learn to avoid its region, which a failed trial
  would not teach it.
- word2vec: analogy accuracy or word-similarity Spearman on a benchmark file
  (maximized), or, with no benchmark, the last epoch's training loss
  (minimized, and reported per epoch for pruning; losses are comparable only
  across settings that do not change the objective, e.g. rates and sampling).

The study lives in ``STUDY_DIR/study.journal`` (Optuna's JournalStorage on
a file, safe for concurrent appends) or a database URL, so it resumes after
an interruption and any number of processes -- here or on machines sharing
the folder -- run its trials at once.

Optuna is imported only in this module, through
:func:`lmkit._extras.require`, so ``lmkit`` works without the ``tune`` extra.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from lmkit._extras import require
from lmkit.training.callbacks import Callback
from lmkit.tune.space import Param, grid, suggest

logger = logging.getLogger(__name__)

STUDY_NAME = "lmkit"
JOURNAL = "study.journal"
GRID_POINTS = 3            # values per range with --sampler grid
MEDIAN_STARTUP_TRIALS = 2  # the median pruner judges only once this many trials have reported
OBJECTIVES = {"ppl": "minimize", "loss": "minimize", "analogy": "maximize", "similarity": "maximize"}
LABELS = {"ppl": "validation perplexity", "loss": "training loss", "analogy": "analogy accuracy",
          "similarity": "similarity Spearman"}


def optuna():
    return require("optuna", "tune", "lmkit tune")


@dataclass
class StudySpec:
    """Everything a worker needs to run trials of one study (see :func:`run_trials`)."""

    model: str                    # "nplm", "skipgram" or "cbow"
    objective: str                # a key of OBJECTIVES
    params: list[Param]
    base: dict                    # the fixed config fields every trial starts from
    study_dir: Path
    storage: str | None = None    # a database URL; None: the journal file in study_dir
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 1
    benchmark: str | None = None  # word2vec: the analogy or word-pairs file
    keep_models: bool = False
    extra: dict = field(default_factory=dict)


class ReportToTrial(Callback):
    """Report ``record[key]`` to an Optuna trial after each epoch; stop training when it should be pruned."""

    def __init__(self, trial, key: str):
        self.trial, self.key = trial, key
        self.pruned_after: int | None = None

    def on_epoch_end(self, run, record: dict) -> None:
        value = record.get(self.key)
        if value is None:
            return
        value = float(value) if math.isfinite(value) else 1e300  # Optuna refuses inf; a huge value sorts last
        self.trial.report(value, record["epoch"])
        if self.trial.should_prune():
            self.pruned_after = record["epoch"]
            run.request_stop(f"trial {self.trial.number} pruned after epoch {record['epoch']}")


def open_study(spec: StudySpec, *, worker: int = 0):
    """The study of ``spec`` (created on first use), with a sampler seeded per worker.

    Refuses to reuse a study made for another model or objective.
    """
    opt = optuna()
    opt.logging.set_verbosity(opt.logging.WARNING)  # lmkit reports trials itself
    spec.study_dir.mkdir(parents=True, exist_ok=True)
    if spec.storage:
        storage = spec.storage
    else:
        from optuna.storages.journal import JournalFileBackend

        storage = opt.storages.JournalStorage(JournalFileBackend(str(spec.study_dir / JOURNAL)))
    study = opt.create_study(study_name=STUDY_NAME, storage=storage, direction=OBJECTIVES[spec.objective],
                             sampler=_sampler(spec, worker), pruner=_pruner(spec), load_if_exists=True)
    made_for = {"model": spec.model, "objective": spec.objective}
    for key, value in made_for.items():
        stored = study.user_attrs.get(key)
        if stored is None:
            study.set_user_attr(key, value)
        elif stored != value:
            raise ValueError(f"--study-dir {spec.study_dir}: holds a study of {key} {stored!r}, not {value!r}; "
                             f"use another folder")
    return study


def _sampler(spec: StudySpec, worker: int):
    opt = optuna()
    seed = spec.seed + 1000 * worker  # workers must not propose the same points
    if spec.sampler == "grid":
        return opt.samplers.GridSampler(grid(spec.params, GRID_POINTS), seed=seed)
    if spec.sampler == "random":
        return opt.samplers.RandomSampler(seed=seed)
    if spec.sampler == "tpe":
        return opt.samplers.TPESampler(seed=seed, n_startup_trials=spec.extra.get("startup_trials", 10))
    raise ValueError(f"sampler must be tpe, random or grid, got {spec.sampler!r}")


def _pruner(spec: StudySpec):
    opt = optuna()
    if spec.pruner == "median":
        return opt.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=0)
    if spec.pruner == "halving":
        return opt.pruners.SuccessiveHalvingPruner()
    if spec.pruner == "none":
        return opt.pruners.NopPruner()
    raise ValueError(f"pruner must be median, halving or none, got {spec.pruner!r}")


def finished(study) -> int:
    """Trials that ended (complete, pruned or failed): what ``--trials`` counts."""
    states = optuna().trial.TrialState
    return sum(t.state in (states.COMPLETE, states.PRUNED, states.FAIL) for t in study.get_trials(deepcopy=False))


def fail_orphans(study) -> int:
    """Mark as failed the running trials of this machine whose process is gone (an interrupted run)."""
    states = optuna().trial.TrialState
    host, count = socket.gethostname(), 0
    for t in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") == host and pid is not None and not _alive(int(pid)):
            study._storage.set_trial_user_attr(t._trial_id, "stop", "interrupted")
            study._storage.set_trial_state_values(t._trial_id, states.FAIL)
            count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_trials(spec: StudySpec, train, valid, n_trials: int, *, worker: int = 0,
               timeout: float | None = None) -> None:
    """Run ``n_trials`` trials of the study in this process (stopping early after ``timeout`` seconds)."""
    study = open_study(spec, worker=worker)
    objective = _nplm_objective if spec.model == "nplm" else _word2vec_objective
    study.optimize(lambda trial: objective(trial, spec, train, valid), n_trials=n_trials, timeout=timeout,
                   catch=(ValueError, FloatingPointError))


def _start(trial, spec: StudySpec, values: dict) -> Path:
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    logger.info("trial %d: %s", trial.number, ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                          for k, v in values.items()))
    folder = spec.study_dir / "models"
    folder.mkdir(exist_ok=True)
    return folder / f"trial-{trial.number}.npz"


def _nplm_objective(trial, spec: StudySpec, train, valid) -> float:
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.lm.train import TrainingDiverged

    values = suggest(trial, spec.params)
    config = NPLMConfig.from_dict({**spec.base, **values})
    path = _start(trial, spec, values)
    report = ReportToTrial(trial, "valid_ppl")
    started = time.perf_counter()
    model = NPLM(config)
    try:
        model.fit(train, valid, output=path, verbose=False, callbacks=[report])
    except TrainingDiverged as error:
        return _prune(trial, path, "diverged", len(model.history), time.perf_counter() - started, str(error))
    finally:
        Path(f"{path}.ckpt").unlink(missing_ok=True)
    seconds, epochs = time.perf_counter() - started, len(model.history)
    if report.pruned_after is not None:
        trial.set_user_attr("epochs_saved", config.epochs - epochs)
        return _prune(trial, path, "pruned", epochs, seconds, f"after epoch {epochs}")
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(seconds, 2))
    trial.set_user_attr("stop", "early stop" if epochs < config.epochs else "completed")
    return min(r["valid_ppl"] for r in model.history if "valid_ppl" in r)  # validate_every may skip epochs


def _prune(trial, path: Path, reason: str, epochs: int, seconds: float, detail: str):
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(seconds, 2))
    trial.set_user_attr("stop", reason)
    path.unlink(missing_ok=True)
    logger.info("trial %d %s: %s", trial.number, reason, detail)
    raise optuna().TrialPruned(f"{reason}: {detail}")


def _word2vec_objective(trial, spec: StudySpec, train, valid) -> float:
    from lmkit.word2vec.model import Word2Vec, Word2VecConfig

    values = suggest(trial, spec.params)
    config = Word2VecConfig.from_dict({**spec.base, **values})
    path = _start(trial, spec, values)
    report = ReportToTrial(trial, "train_loss") if spec.objective == "loss" else None
    started = time.perf_counter()
    model = Word2Vec(config).fit(train, verbose=False, callbacks=[report] if report else [])
    seconds, epochs = time.perf_counter() - started, len(model.history)
    if report is not None and report.pruned_after is not None:
        trial.set_user_attr("epochs_saved", config.epochs - epochs)
        return _prune(trial, path, "pruned", epochs, seconds, f"after epoch {epochs}")
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(seconds, 2))
    trial.set_user_attr("stop", "completed")
    model.save(path)
    return word2vec_score(model, spec.objective, spec.benchmark)


def word2vec_score(model, objective: str, benchmark: str | None) -> float:
    """The value a word2vec trial is judged by (see the module docstring)."""
    from lmkit.evaluate import evaluate_word_analogies, evaluate_word_pairs

    if objective == "analogy":
        return float(evaluate_word_analogies(model.wv, benchmark).accuracy)
    if objective == "similarity":
        return float(evaluate_word_pairs(model.wv, benchmark).spearman)
    return float(model.losses[-1])


# ---------------------------------------------------------------------------------------------- results


def trial_rows(study) -> list[dict]:
    """One dict per trial: number, state, value, the last value reported (per epoch), epochs, epochs_saved, seconds, stop, and the params."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        row = {"trial": t.number, "state": t.state.name.lower(), "value": t.value if t.state.name == "COMPLETE" else None,
               "last_value": last,
               "epochs": t.user_attrs.get("epochs"), "epochs_saved": t.user_attrs.get("epochs_saved", 0),
               "seconds": t.user_attrs.get("seconds"), "stop": t.user_attrs.get("stop", "")}
        rows.append(row | dict(t.params))
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table (floats to 4 significant digits)."""
    if not rows:
        return "(no trials)"
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value) -> str:
        if value is None:
            return "-"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def summarize(spec: StudySpec, config_cls, *, plot: bool = True) -> dict:
    """Write the study's results into its folder and return what was written and found.

    ``trials.csv`` (every trial), ``best.json`` (the best trial's full config,
    as ``lmkit train ... --config best.json`` reads it), ``best.npz`` (its
    model; the other trials' models are removed unless ``keep_models``) and,
    with matplotlib, ``study.png`` (optimization history and parameter
    importances).
    """
    from lmkit.io import atomic_write

    opt = optuna()
    study = open_study(spec)
    rows = trial_rows(study)
    out = {"rows": rows, "table": format_table(rows), "written": []}
    with atomic_write(spec.study_dir / "trials.csv", "w", encoding="utf-8") as handle:
        text = io.StringIO()
        columns = list(dict.fromkeys(key for row in rows for key in row)) or ["trial"]
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        handle.write(text.getvalue())
    out["written"].append(spec.study_dir / "trials.csv")
    states = opt.trial.TrialState
    complete = [t for t in study.get_trials(deepcopy=False, states=(states.COMPLETE,))]
    pruned = [r for r in rows if r["stop"] == "pruned"]
    planned = spec.base.get("epochs", 0)
    out["counts"] = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}
    out["epochs_saved"] = sum(r["epochs_saved"] or 0 for r in pruned)
    out["epochs_planned"] = planned * len(rows)
    if complete:
        best = study.best_trial
        config = config_cls.from_dict({**spec.base, **best.params})
        document = dataclasses.asdict(config)
        with atomic_write(spec.study_dir / "best.json", "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        out["best"] = {"trial": best.number, "value": best.value, "params": best.params}
        out["written"].append(spec.study_dir / "best.json")
        model_path = spec.study_dir / "models" / f"trial-{best.number}.npz"
        if model_path.is_file():
            with atomic_write(spec.study_dir / "best.npz", "wb") as handle, open(model_path, "rb") as source:
                shutil.copyfileobj(source, handle)
            out["written"].append(spec.study_dir / "best.npz")
        ranked = sorted(complete, key=lambda t: t.value, reverse=OBJECTIVES[spec.objective] == "maximize")
        out["models"] = [p for p in (spec.study_dir / "models" / f"trial-{t.number}.npz" for t in ranked)
                         if p.is_file()]
        if not spec.keep_models:
            out["models"] = out["models"][:1]
            for other in (spec.study_dir / "models").glob("trial-*.npz"):
                if other != model_path:
                    other.unlink(missing_ok=True)
    if plot and complete:
        out["plot"] = _plot(study, spec, rows)
        if out["plot"] is not None:
            out["written"].append(out["plot"])
    return out


def _plot(study, spec: StudySpec, rows: list[dict]) -> Path | None:
    """``study.png`` when matplotlib is installed (else a log line, and None)."""
    from lmkit._extras import MissingExtra

    try:
        from lmkit.plot import plot_study

        importances = {}
        try:
            importances = dict(optuna().importance.get_param_importances(study))
        except (ValueError, RuntimeError) as error:  # too few complete trials, or a constant objective
            logger.info("no parameter importances: %s", error)
        return plot_study(rows, importances, spec.study_dir / "study.png", value_label=LABELS[spec.objective],
                          minimize=OBJECTIVES[spec.objective] == "minimize")
    except MissingExtra as error:
        logger.info("no study.png: %s", error)
        return None
