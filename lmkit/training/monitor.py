"""Watch a training run: a run folder with ``config.json``, ``metrics.jsonl`` and TensorBoard event files.

``Monitor(log_dir)`` is a :class:`lmkit.training.Callback`; every trainer
takes it through ``log_dir=`` (``--log-dir`` on the command line).  Every
``every`` steps it records, for each layer the trainer's probe shows
(:class:`lmkit.training.Probe`), the gradient norm, the weight norm and the
update-to-weight ratio ``||dW|| / ||W||`` (:mod:`lmkit.training.diagnosis`),
the hidden layers' pre-activation mean/std and saturated or dead fractions,
the loss, the learning rate and the clipping norm; after every epoch the
trainer's epoch record (train and valid perplexity, speed, objective, best so
far) and each layer's weight norm.  :class:`~lmkit.training.diagnosis.Diagnosis`
adds warnings to the log and to ``metrics.jsonl``.

With ``tensorboardX`` installed (``pip install 'lmkit[monitor]'``) the same
folder gets TensorBoard event files: every value above as a scalar under the
same tag, histograms of each layer's weights, last gradients and hidden
pre-activations per epoch, and the embedding projector's files (vectors and
their words) at the end, so ``tensorboard --logdir DIR`` shows the run.  A
resumed run purges the events past its checkpoint's step.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from lmkit.training.callbacks import Callback, Run
from lmkit.training.diagnosis import Diagnosis, hidden_stats, norm, update_ratio
from lmkit.training.runlog import CONFIG_FILE, MetricsLog

logger = logging.getLogger(__name__)

# Steps between two NPLM reports: a report copies the weights once and takes a few norms, ~2-3 steps' worth
# of work at h=200 on Brown, so 100 keeps it at about 2% of training (BENCHMARKS.md, "monitor overhead").
NPLM_EVERY = 100
PROJECTOR_ROWS = 10_000   # the embedding projector gets the first (most frequent) words; it slows past ~10k
EPOCH_TAGS = {            # epoch-record keys -> tags; the record's other numbers go under "epoch/<key>"
    "train_loss": "loss/train", "train_ppl": "ppl/train", "valid_ppl": "ppl/valid",
    "valid_ppl_last": "ppl/valid_last_iterate", "best_valid_ppl": "ppl/best_valid", "valid_loss": "loss/valid",
    "valid_accuracy": "accuracy/valid", "tokens_per_s": "speed/tokens_per_s", "words_per_s": "speed/words_per_s",
    "seconds": "time/epoch_seconds", "lr": "lr/epoch", "words": "words/raw", "effective_words": "words/effective",
}
EPOCH_NORM = "weight_norm_epoch/"  # + layer: each layer's weight norm after every epoch
STEP_TAGS = {"loss": "loss/step", "lr": "lr/step", "clip/norm": "clip/norm", "clip/clipped": "clip/clipped"}


def _tensorboard_writer(folder: Path, purge_step: int | None):
    """A tensorboardX ``SummaryWriter`` on ``folder``, or None (with one line saying how to get it)."""
    from lmkit._extras import MissingExtra, require

    try:
        tensorboardx = require("tensorboardX", "monitor", "TensorBoard event files")
    except MissingExtra as missing:
        logger.info("no TensorBoard event files (metrics.jsonl has everything): %s", missing)
        return None
    return tensorboardx.SummaryWriter(logdir=str(folder), purge_step=purge_step, flush_secs=10)


class Monitor(Callback):
    """Log a run into ``log_dir`` (see the module docstring).

    ``every``: steps between two reports (an NPLM step is a minibatch, a
    word2vec step a corpus chunk); ``tensorboard``: None writes event files
    when tensorboardX is installed, True requires it, False never writes them.
    After training, ``warnings`` holds every warning raised.
    """

    def __init__(self, log_dir: str | os.PathLike, *, every: int = NPLM_EVERY, tensorboard: bool | None = None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every (--monitor-every) must be an integer >= 1, got {every!r}")
        self.folder = Path(log_dir)
        self.every = every
        self.tensorboard = tensorboard
        self.warnings: list[dict] = []
        self.log: MetricsLog | None = None
        self.writer = None
        self.diagnosis = Diagnosis()
        self._before: dict[str, np.ndarray] = {}
        self._grad_norms: dict[str, float] = {}
        self._last_grads: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ run folder
    def on_train_begin(self, run: Run) -> None:
        from lmkit import __version__
        from lmkit.io import atomic_write

        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"--log-dir {self.folder}: exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.folder, (run.step, run.epoch) if run.resumed else None)
        config_path = self.folder / CONFIG_FILE
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if run.resumed and config_path.is_file():
            document = json.loads(config_path.read_text(encoding="utf-8"))
            document.setdefault("resumed", []).append({"time": now, "step": run.step, "epoch": run.epoch})
        else:
            document = {"trainer": run.trainer, "lmkit_version": __version__, "started": now,
                        "corpus": run.info.get("corpus"), "seed": run.info.get("seed"),
                        "config": run.config, "info": run.info}
        with atomic_write(config_path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, default=str)
        if self.tensorboard is not False:
            self.writer = _tensorboard_writer(self.folder, run.step + 1 if run.resumed else None)
            if self.writer is None and self.tensorboard:
                from lmkit._extras import require

                require("tensorboardX", "monitor", "Monitor(tensorboard=True)")
        self.log.write("begin", run.step, run.epoch, {"resumed": run.resumed})

    def _emit(self, event: str, step: int, epoch: int, values: dict) -> None:
        """One line of ``metrics.jsonl`` and, for steps and epochs, its numbers as TensorBoard scalars."""
        self.log.write(event, step, epoch, values)
        if self.writer is not None:
            for tag, value in values.items():
                if isinstance(value, (int, float, np.number)):
                    self.writer.add_scalar(tag, float(value), step)

    def _warn(self, warnings: list[dict], step: int, epoch: int) -> None:
        for warning in warnings:
            logger.warning("%s", warning["message"])
            self.log.write("warning", step, epoch, warning)
            self.warnings.append(warning | {"step": step, "epoch": epoch})

    # ------------------------------------------------------------------ steps
    def on_gradients(self, run: Run, record: dict) -> None:
        grads = run.probe.gradients()
        self._grad_norms = {name: norm(g) for name, g in grads.items()}
        params = run.probe.parameters()
        self._before = {name: params[name].copy() for name in grads}
        if self.writer is not None:
            self._last_grads = {name: np.array(g, copy=True) for name, g in grads.items()}

    def on_step(self, run: Run, record: dict) -> None:
        values = {STEP_TAGS.get(k, k): v for k, v in record.items() if k not in ("step", "epoch", "count")}
        params = run.probe.parameters()
        ratios = {}
        for name, g in self._grad_norms.items():
            values[f"grad_norm/{name}"] = g
            values[f"weight_norm/{name}"] = norm(params[name])
            ratios[name] = update_ratio(self._before[name], params[name])
            values[f"update_ratio/{name}"] = ratios[name]
        hidden = {}
        for layer, (pre, kind) in run.probe.activations().items():
            stats = hidden_stats(pre, kind)
            hidden[layer] = stats
            values |= {f"{layer}/{key}": value for key, value in dataclasses.asdict(stats).items()
                       if value is not None}
        step, epoch = record["step"], record["epoch"]
        self._emit("step", step, epoch, values)
        # the ratio's rule of thumb is about weight matrices: a bias that starts at zero has a huge ratio early
        matrix_ratios = {name: r for name, r in ratios.items() if params[name].ndim >= 2}
        self._warn(self.diagnosis.step(step, self._grad_norms, matrix_ratios, hidden), step, epoch)
        self._before, self._grad_norms = {}, {}

    # ------------------------------------------------------------------ epochs
    def on_epoch_end(self, run: Run, record: dict) -> None:
        values = {}
        for key, value in record.items():
            if key in ("epoch", "step"):
                continue
            if isinstance(value, str):
                values[key] = value
            else:
                values[EPOCH_TAGS.get(key, f"epoch/{key}")] = value
        params = run.probe.parameters()
        values |= {f"{EPOCH_NORM}{name}": norm(p) for name, p in params.items()}
        self._emit("epoch", run.step, run.epoch, values)
        valid = record.get("valid_ppl")
        self._warn(self.diagnosis.epoch(record["epoch"], record["train_loss"], valid), run.step, run.epoch)
        if self.writer is not None:
            for name, p in params.items():
                self.writer.add_histogram(f"weights/{name}", p, run.step)
            for name, g in self._last_grads.items():
                self.writer.add_histogram(f"gradients/{name}", g, run.step)
            for layer, (pre, _) in run.probe.activations().items():
                self.writer.add_histogram(f"activations/{layer}_pre", pre, run.step)
            self.writer.flush()

    def on_train_end(self, run: Run) -> None:
        if self.log is None:
            return
        if self.writer is not None:
            embeddings = getattr(run.probe, "embeddings", lambda: {})()
            for name, (matrix, words) in embeddings.items():
                rows = min(len(words), PROJECTOR_ROWS)
                self.writer.add_embedding(np.asarray(matrix[:rows], dtype=np.float32), metadata=words[:rows],
                                          tag=name, global_step=run.step)
            self.writer.close()
        self.log.write("end", run.step, run.epoch, {"stop_reason": run.stop_reason, "warnings": len(self.warnings)})
        self.log.close()
        self.log = None
