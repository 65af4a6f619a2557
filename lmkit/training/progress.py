"""The tqdm progress bar of every trainer, as a callback (disabled by ``verbose=False`` / ``--quiet``)."""
from __future__ import annotations

import math

from lmkit.training.callbacks import Callback, Run


class ProgressBar(Callback):
    """A tqdm bar fed by each step's ``record["count"]`` (tokens, words or examples it covered).

    ``per_epoch=True``: one bar per epoch of ``total`` units, its postfix the
    running mean loss (and perplexity, ``show_ppl``) every ``postfix_every``
    steps; ``False``: one bar over the whole run, ``total`` being every
    epoch's units together, its postfix the last epoch's loss (and its sync cost, when
    the record has one: data-parallel training).
    """

    every = 1

    def __init__(self, total: int, *, unit: str, per_epoch: bool, desc: str = "", show_ppl: bool = False,
                 postfix_every: int = 50):
        self.total, self.unit, self.per_epoch, self.desc = total, unit, per_epoch, desc
        self.show_ppl, self.postfix_every = show_ppl, postfix_every
        self.bar = None
        self.seen = 0
        self.loss_sum = 0.0

    def _open(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit=self.unit, unit_scale=True, desc=desc, smoothing=0.1)

    def on_train_begin(self, run: Run) -> None:
        if not self.per_epoch:
            self._open(self.total, self.desc)

    def on_epoch_begin(self, run: Run, epoch: int) -> None:
        self.seen, self.loss_sum = 0, 0.0
        if self.per_epoch:
            self._open(self.total, f"epoch {epoch}/{run.epochs}")

    def on_step(self, run: Run, record: dict) -> None:
        count = record["count"]
        self.bar.update(count)
        self.seen += count
        self.loss_sum += record["loss"] * count
        if self.per_epoch and record["step"] % self.postfix_every == 0 and self.seen:
            mean = self.loss_sum / self.seen
            self.bar.set_postfix(loss=f"{mean:.3f}", **({"ppl": f"{math.exp(mean):.1f}"} if self.show_ppl else {}))

    def on_epoch_end(self, run: Run, record: dict) -> None:
        if self.per_epoch:
            self.bar.close()
        else:
            postfix = {"epoch": record["epoch"], "loss": f"{record['train_loss']:.4f}"}
            if "syncs" in record:
                megabytes = record["sync_bytes"] / 1e6
                postfix["sync"] = f"{record['syncs']}x {megabytes:.1f} MB {record['sync_seconds']:.1f} s"
            self.bar.set_postfix(**postfix)

    def on_train_end(self, run: Run) -> None:
        if self.bar is not None:
            self.bar.close()
