"""A run folder's ``metrics.jsonl``: one JSON object per event, append-only, flushed per line.

Every line carries ``event`` (``begin``, ``step``, ``epoch``, ``warning``,
``end``), ``step`` (the global step), ``epoch`` and ``time`` (seconds since
the epoch of the Unix clock), then the event's values under the same names
as the TensorBoard tags (``loss/train``, ``grad_norm/H``, ...).  Non-finite
numbers are written as ``null``, so every line is strict JSON.

A killed run keeps every line it flushed (a half-written last line is
dropped when the file is next opened); a resumed run first drops what was
logged after the checkpoint it resumes from -- those steps are trained again
-- so the file never holds a step twice or misses one.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"


def read_events(path: str | os.PathLike) -> list[dict]:
    """Every complete event of a ``metrics.jsonl`` (a cut-off last line is skipped)."""
    events = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith("\n"):
                break  # the write a kill interrupted
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON event ({error.msg})") from None
    return events


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Appends events to ``folder/metrics.jsonl``.

    ``resume_after=(step, epoch)``: keep only the events up to that step and
    epoch (what the checkpoint being resumed had seen) and append after them;
    None: the file must not hold events yet (a new run never mixes into an
    old one's log).
    """

    def __init__(self, folder: Path, resume_after: tuple[int, int] | None):
        from lmkit.io import atomic_write

        self.path = folder / METRICS_FILE
        if self.path.exists() and self.path.stat().st_size > 0:
            if resume_after is None:
                raise ValueError(f"{folder}: already holds a run's {METRICS_FILE}; give another log folder "
                                 f"(or resume that run)")
            step, epoch = resume_after
            kept = [e for e in read_events(self.path) if e["step"] <= step and e["epoch"] <= epoch]
            with atomic_write(self.path, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(e) + "\n" for e in kept)
        self.handle = open(self.path, "a", encoding="utf-8")

    def write(self, event: str, step: int, epoch: int, values: dict) -> dict:
        record = {"event": event, "step": step, "epoch": epoch, "time": round(time.time(), 3)}
        record |= {key: _finite(value) for key, value in values.items()}
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        return record

    def close(self) -> None:
        self.handle.close()
