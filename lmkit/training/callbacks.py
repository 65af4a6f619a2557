"""The one callback interface every trainer calls: NPLM, word2vec, the layer library's ``fit``.

As Keras's ``Callback`` and PyTorch Lightning's callbacks: the training loop
stays small and knows nothing of logging, progress bars, time limits or the
monitor; each of those is a :class:`Callback` that reads a :class:`Run` (what
is being trained, where it stands) and plain record dicts.  Hooks, in the
order a trainer calls them::

    on_train_begin(run)
      on_epoch_begin(run, epoch)
      every step due for a callback (``step % callback.every == 0``):
        on_gradients(run, record)   gradients ready, weights not yet updated
        on_step(run, record)        after the update
      on_epoch_end(run, record)     record: the epoch's figures (train loss, valid ppl, ...)
    on_train_end(run)

A *step* is one optimizer update for the NPLM and ``fit``; for word2vec, whose
Hogwild kernels update the weights themselves, a step is one corpus chunk
(~65k words) and ``on_gradients`` is never called.  Step numbers count over
the model's lifetime (a resumed run goes on from the checkpoint's step), and
so do epochs (``record["epoch"]`` is 1-based).

A callback ends training by calling :meth:`Run.request_stop`; the trainer
stops after the current epoch (its checkpoint written) and says why in the log.

A plain function given as a callback is called as ``fn(run, record)`` at
each epoch's end.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

import numpy as np

logger = logging.getLogger(__name__)


class Probe(Protocol):
    """What a trainer lets a monitor look at, by layer name (``C``, ``H``, ``O``, ``syn0``, ...).

    ``parameters()``: the current weights (the model's own arrays, not copies).
    ``gradients()``: the last step's gradient of each parameter, same shapes
    (a sparse embedding's used rows scattered into a dense array are fine);
    empty where the trainer has none.  ``activations()``: per hidden layer,
    ``(pre, kind)``: its last batch's pre-activation ``float[B, h]`` and the
    activation's name (``"tanh"``, ``"relu"``, ...).
    """

    def parameters(self) -> dict[str, np.ndarray]: ...

    def gradients(self) -> dict[str, np.ndarray]: ...

    def activations(self) -> dict[str, tuple[np.ndarray, str]]: ...


class NoProbe:
    """A trainer with nothing to show beyond its records."""

    def parameters(self) -> dict[str, np.ndarray]:
        return {}

    def gradients(self) -> dict[str, np.ndarray]:
        return {}

    def activations(self) -> dict[str, tuple[np.ndarray, str]]:
        return {}


@dataclass
class Run:
    """What a trainer tells its callbacks; callbacks read it and may :meth:`request_stop`.

    ``trainer``: ``"nplm"``, ``"word2vec"`` or ``"mlp"``; ``config``: the
    model's full configuration as a JSON-able dict; ``epochs``: the epochs
    planned (the last epoch number, resumed runs included); ``step`` /
    ``epoch``: steps and epochs done so far; ``resumed``: this call goes on
    from a checkpoint; ``info``: other facts worth logging with the run
    (corpus fingerprint, seed, ...).
    """

    trainer: str
    model: Any
    config: dict
    epochs: int
    probe: Probe = field(default_factory=NoProbe)
    step: int = 0
    epoch: int = 0
    resumed: bool = False
    info: dict = field(default_factory=dict)
    stop_reason: str | None = None
    started: float = field(default_factory=time.perf_counter)

    def request_stop(self, reason: str) -> None:
        """Ask the trainer to stop (the first reason given is kept)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    @property
    def elapsed(self) -> float:
        """Seconds since this training call began."""
        return time.perf_counter() - self.started


class Callback:
    """Base class: every hook does nothing; ``every`` (0 = never) sets how often the step hooks run."""

    every: int = 0

    def on_train_begin(self, run: Run) -> None:
        pass

    def on_epoch_begin(self, run: Run, epoch: int) -> None:
        pass

    def on_gradients(self, run: Run, record: dict) -> None:
        pass

    def on_step(self, run: Run, record: dict) -> None:
        pass

    def on_epoch_end(self, run: Run, record: dict) -> None:
        pass

    def on_train_end(self, run: Run) -> None:
        pass


class EpochFunction(Callback):
    """A plain function ``fn(run, record)`` called at each epoch's end."""

    def __init__(self, fn: Callable[[Run, dict], None]):
        self.fn = fn

    def on_epoch_end(self, run: Run, record: dict) -> None:
        self.fn(run, record)


class TimeLimit(Callback):
    """Stop after the first epoch that ends ``seconds`` or more after training began (0 = no limit)."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)

    def on_epoch_end(self, run: Run, record: dict) -> None:
        if self.seconds > 0 and run.elapsed >= self.seconds:
            run.request_stop(f"time limit of {self.seconds:.0f} s reached after epoch {record['epoch']}")


class Callbacks:
    """The callbacks of one training call, called in the order given.

    ``due(step)`` is what a trainer asks each step: the callbacks whose step
    hooks run at that step (an empty tuple on most steps, so the loop pays
    one modulo per callback that wants steps).
    """

    def __init__(self, callbacks: Iterable[Callback | Callable] = ()):
        self.items: list[Callback] = [as_callback(c) for c in callbacks]
        self._stepped = [c for c in self.items if c.every > 0]

    def due(self, step: int) -> tuple[Callback, ...]:
        if not self._stepped:
            return ()
        return tuple(c for c in self._stepped if step % c.every == 0)

    def train_begin(self, run: Run) -> None:
        for c in self.items:
            c.on_train_begin(run)

    def epoch_begin(self, run: Run, epoch: int) -> None:
        for c in self.items:
            c.on_epoch_begin(run, epoch)

    def epoch_end(self, run: Run, record: dict) -> None:
        for c in self.items:
            c.on_epoch_end(run, record)

    def train_end(self, run: Run) -> None:
        for c in self.items:
            c.on_train_end(run)


def as_callback(item: Callback | Callable) -> Callback:
    """``item`` itself if it is a :class:`Callback`, else a plain function wrapped as :class:`EpochFunction`."""
    if isinstance(item, Callback):
        return item
    if callable(item):
        return EpochFunction(item)
    raise TypeError(f"a callback must be a lmkit.training.Callback or a function (run, record), "
                    f"got {type(item).__name__}")
