"""Search spaces: which config options ``lmkit tune`` varies, over what range, on what scale.

A space file is a JSON object naming fields of the model's config
(:class:`lmkit.lm.nplm.NPLMConfig`, :class:`lmkit.word2vec.model.Word2VecConfig`)::

    {"lr":         {"low": 1e-4, "high": 1e-2, "scale": "log"},
     "hidden":     {"low": 20, "high": 200},
     "activation": {"choice": ["tanh", "relu"]}}

``scale`` is ``"log"`` (a rate, a decay: equal odds per factor of ten) or
``"linear"`` (the default); an integer field (from its default's type) is
drawn as an integer.  Every range is checked when the file is read, by
building the config at both ends (and at every choice), so a typo or an
impossible value fails before the first trial, naming the file and the
option, rather than as a failed trial an hour later.

Nothing here imports Optuna: :func:`suggest` asks any object with Optuna's
``suggest_float/suggest_int/suggest_categorical`` for the values.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from lmkit._config import read_json_object

SCALES = ("linear", "log")

# Options a search may not vary: they fix the run's resources or its data, not the model.
NOT_SEARCHED = {"threads", "workers", "time_limit", "max_tokens", "tokenizer", "architecture", "min_count",
                "max_vocab_size", "max_sentence_length", "epochs", "seed", "validate_last", "validate_every",
                "replicas", "cluster", "sync_words", "max_restarts"}

# The built-in spaces: the options that matter most for each model, over ranges where runs are sane.
DEFAULT_SPACES = {
    "nplm": {
        "lr": {"low": 3e-4, "high": 1e-2, "scale": "log"},           # Adam's useful rates
        "features": {"low": 30, "high": 120},                          # m of the paper's Table 1: 30-100
        "hidden": {"low": 0, "high": 200},                             # h: 0 (direct only) .. the paper's 100
        "dropout_words": {"low": 0.0, "high": 0.3},                    # blank noising, a back-off regularizer
        "batch_size": {"choice": [64, 128, 256, 512]},
    },
    "word2vec": {
        "alpha": {"low": 0.005, "high": 0.1, "scale": "log"},          # around the C tool's 0.025 / 0.05
        "window": {"low": 2, "high": 10},
        "negative": {"low": 2, "high": 20},                            # Mikolov et al.: 5-20 small data
        "sample": {"low": 1e-5, "high": 1e-2, "scale": "log"},
        "vector_size": {"choice": [50, 100, 200, 300]},
    },
}


@dataclass(frozen=True)
class Param:
    """One searched option: a range ``[low, high]`` on ``scale``, or a list of ``choices``."""

    name: str
    kind: str                       # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    choices: tuple = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name} in {list(self.choices)}"
        return f"{self.name} {self.kind} in [{self.low:g}, {self.high:g}] ({self.scale})"


def searchable(config_cls) -> dict[str, object]:
    """``{field: default}`` of the fields of ``config_cls`` a space may name."""
    defaults = config_cls()
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(config_cls) if f.name not in NOT_SEARCHED}


def parse_space(document: dict, config_cls, base: dict, where: str = "space") -> list[Param]:
    """The :class:`Param` list of a space document, each range checked against ``config_cls``.

    ``base``: the fixed config fields the trials start from (their values at
    the other options when a range end is tried).  ``ValueError`` names
    ``where`` (the file) and the option, and lists the valid options for an
    unknown name.
    """
    if not isinstance(document, dict) or not document:
        raise ValueError(f"{where}: must be a JSON object naming at least one option, e.g. "
                         f'{{"lr": {{"low": 1e-4, "high": 1e-2, "scale": "log"}}}}')
    fields = searchable(config_cls)
    params = []
    for name, spec in document.items():
        if name not in fields:
            raise ValueError(f"{where}: unknown option {name!r}; valid options: {', '.join(sorted(fields))}")
        params.append(_param(name, spec, fields[name], where))
    for param in params:
        ends = param.choices if param.kind == "choice" else (param.low, param.high)
        for value in ends:
            try:
                config_cls.from_dict({**base, param.name: value})
            except (TypeError, ValueError) as error:
                raise ValueError(f"{where}: {param.name}: the value {value!r} is not a valid setting ({error})") \
                    from None
    return params


def _param(name: str, spec, default, where: str) -> Param:
    at = f"{where}: {name}"
    if not isinstance(spec, dict):
        raise ValueError(f'{at}: must be {{"low": L, "high": H[, "scale": "log"]}} or {{"choice": [...]}}, '
                         f"got {spec!r}")
    if "choice" in spec:
        extra = sorted(set(spec) - {"choice"})
        choices = spec["choice"]
        if extra:
            raise ValueError(f"{at}: a choice takes no {', '.join(extra)}")
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"{at}: choice must be a non-empty list, got {choices!r}")
        if len(set(map(json.dumps, choices))) != len(choices):
            raise ValueError(f"{at}: choice lists a value twice: {choices}")
        return Param(name, "choice", choices=tuple(choices))
    extra = sorted(set(spec) - {"low", "high", "scale"})
    if extra or "low" not in spec or "high" not in spec:
        raise ValueError(f"{at}: a range needs low and high (and optionally scale), got keys {sorted(spec)}")
    if isinstance(default, bool) or isinstance(default, str):
        raise ValueError(f"{at}: is a {type(default).__name__} option: give a choice list, not a range")
    low, high, scale = spec["low"], spec["high"], spec.get("scale", "linear")
    for label, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{at}: {label} must be a finite number, got {value!r}")
    if scale not in SCALES:
        raise ValueError(f"{at}: scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if not low < high:
        raise ValueError(f"{at}: low must be < high, got low={low}, high={high}")
    if scale == "log" and low <= 0:
        raise ValueError(f"{at}: a log scale needs low > 0, got low={low}")
    kind = "int" if isinstance(default, int) else "float"
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"{at}: is an integer option: low and high must be integers, got {low}, {high}")
    if kind == "int":
        low, high = int(low), int(high)
    return Param(name, kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high, scale)


def load_space(path, config_cls, base: dict) -> list[Param]:
    """The space in JSON file ``path`` (see :func:`parse_space`); errors name the file (and line)."""
    document = read_json_object(path, "--space", "options and their ranges")
    return parse_space(document, config_cls, base, where=f"--space {path}")


def default_space(model: str, config_cls, base: dict) -> list[Param]:
    """The built-in space of ``model`` (``"nplm"`` or ``"word2vec"``)."""
    return parse_space(DEFAULT_SPACES[model], config_cls, base, where=f"the default {model} space")


def suggest(trial, params: list[Param]) -> dict:
    """``{name: value}`` drawn by ``trial`` (Optuna's define-by-run ``suggest_*`` calls)."""
    values = {}
    for p in params:
        if p.kind == "choice":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.scale == "log")
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.scale == "log")
    return values


def grid(params: list[Param], points: int = 3) -> dict[str, list]:
    """A grid for Optuna's ``GridSampler``: every choice, or ``points`` values spread over each range."""
    out = {}
    for p in params:
        if p.kind == "choice":
            out[p.name] = list(p.choices)
            continue
        if p.scale == "log":
            values = [math.exp(math.log(p.low) + (math.log(p.high) - math.log(p.low)) * i / (points - 1))
                      for i in range(points)]
        else:
            values = [p.low + (p.high - p.low) * i / (points - 1) for i in range(points)]
        out[p.name] = sorted({round(v) for v in values}) if p.kind == "int" else values
    return out
