"""NPLM training checkpoints: where a run stands (:class:`Progress`) plus every array it needs to go on.

A checkpoint is an lmkit model file of kind ``nplm_checkpoint``: the model's
arrays under ``model/``, the optimizers' state under ``opt/<group>/``, the
weight averages under ``average/``, and a JSON document with the model's
metadata, the optimizers' step counts, the RNG state and the
:class:`Progress` record.  ``Progress.SCHEMA`` versions that record: a
checkpoint written before the field existed is schema 1 (the same fields),
one of an unknown schema is refused with a clear error instead of being
half-read.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_KIND = "nplm_checkpoint"
# Settings that may differ between a checkpoint and the run that resumes it: they change how long or
# how the run goes on, not what the saved arrays mean (``sampled_epochs``: a run stopped inside its
# sampled phase can go on with exact-softmax epochs).
RESUMABLE_CHANGES = ("epochs", "cooldown_epochs", "patience", "threads", "validate_last", "validate_every",
                     "time_limit", "sampled_epochs")


@dataclass
class Progress:
    """Where a training run stands after its last finished epoch.

    ``best``: the best validation perplexity so far (inf before the first);
    ``bad_epochs``: epochs since it last improved; ``lr_scale``: the factor
    plateau reverts have applied to the schedule; ``sampled_until``: the last
    sampled-softmax epoch when the sampled phase ended early (None: it runs its
    planned ``sampled_epochs``); ``history``: one record per epoch.
    """

    SCHEMA = 1

    epoch: int = 0
    step: int = 0
    best: float = math.inf
    bad_epochs: int = 0
    lr_scale: float = 1.0
    sampled_until: int | None = None
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"schema": self.SCHEMA, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict, path) -> "Progress":
        schema = values.get("schema", 1)
        if schema != cls.SCHEMA:
            raise ValueError(f"{path}: checkpoint progress schema {schema!r} is not supported "
                             f"(this lmkit reads schema {cls.SCHEMA}); resume it with the lmkit that wrote it")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - {"schema"})
        if unknown:
            raise ValueError(f"{path}: checkpoint progress has unknown fields {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if k in known})


def under(arrays: dict, prefix: str) -> dict:
    """The checkpoint arrays named ``prefix + name``, keyed by ``name``."""
    return {key[len(prefix):]: a for key, a in arrays.items() if key.startswith(prefix)}


def save_checkpoint(path: Path, model, optimizers, average, rng, progress: Progress) -> None:
    """Write everything a resumed run needs, atomically (the previous checkpoint stays until the rename)."""
    from lmkit.io import save_model

    opt_arrays, opt_steps = optimizers.state()
    arrays = {f"model/{n}": a for n, a in model.state_arrays().items()} | opt_arrays
    if average is not None:
        arrays |= {f"average/{n}": a for n, a in average.averages.items()}
    meta = {"model": model.meta(), "optimizer_steps": opt_steps, "rng": rng.bit_generator.state,
            "progress": progress.to_dict()}
    save_model(path, CHECKPOINT_KIND, arrays, meta)


def load_checkpoint(path: Path, model, optimizers, average, rng) -> Progress:
    """Restore the model, optimizers, weight averages and RNG from ``path``; return its :class:`Progress`."""
    from lmkit.io import load_model

    arrays, meta = load_model(path, CHECKPOINT_KIND)
    progress = Progress.from_dict(meta["progress"], path)
    saved_config, config = meta["model"]["config"], dataclasses.asdict(model.config)
    changed = sorted(k for k in saved_config if saved_config[k] != config.get(k) and k not in RESUMABLE_CHANGES)
    if changed:
        raise ValueError(f"{path}: the checkpoint was made with other settings ({', '.join(changed)}); "
                         f"resume with the same configuration")
    if meta["model"]["vocab"]["tokens"] != list(model.vocab.tokens):
        raise ValueError(f"{path}: the checkpoint was made with another vocabulary")
    model.load_state_arrays(under(arrays, "model/"), path)
    optimizers.load_state(arrays, meta["optimizer_steps"])
    if average is not None:
        saved = under(arrays, "average/")
        missing = sorted(set(average.averages) - set(saved))
        if missing:
            raise ValueError(f"{path}: the checkpoint lacks the weight averages of {', '.join(missing)}")
        average.reset(saved)
    rng.bit_generator.state = meta["rng"]
    return progress
