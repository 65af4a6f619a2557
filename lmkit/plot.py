"""Pictures of training runs and of word vectors (matplotlib, the optional extra ``lmkit[plot]``).

:func:`plot_runs` reads run folders written by the monitor (``--log-dir``,
:mod:`lmkit.training.monitor`) and draws one figure of panels -- perplexity
(or loss) per epoch, learning rate, gradient norm and update/weight ratio per
layer, saturated/dead hidden units -- with several runs overlaid, each
labelled by how its configuration differs from the others'.  Panels without
data in any run (a word2vec run has no per-layer gradients) are left out.

:func:`plot_vectors` draws the picture people draw of embeddings: a 2-D PCA
map of some words and their nearest neighbours, labelled.

Both draw on a bare ``matplotlib.figure.Figure`` with the Agg canvas, so they
work without a display and leave pyplot's global state alone.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lmkit.training.diagnosis import UPDATE_RATIO_BAND
from lmkit.training.monitor import EPOCH_NORM
from lmkit.training.runlog import CONFIG_FILE, METRICS_FILE, read_events

MAX_LABEL_KEYS = 3  # config differences shown in a run's legend label


class _RunData:
    """One run folder: its config document and its events, by kind."""

    def __init__(self, folder: Path):
        metrics = folder / METRICS_FILE
        if not metrics.is_file():
            raise FileNotFoundError(f"{folder}: no {METRICS_FILE} (is it a run folder written with --log-dir?)")
        config_path = folder / CONFIG_FILE
        self.folder = folder
        self.document = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        events = read_events(metrics)
        self.steps = [e for e in events if e["event"] == "step"]
        self.epochs = [e for e in events if e["event"] == "epoch"]
        self.warnings = [e for e in events if e["event"] == "warning"]

    def series(self, events: list[dict], key: str, x: str = "step") -> tuple[list, list]:
        pairs = [(e[x], e[key]) for e in events if e.get(key) is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def layers(self, prefix: str) -> list[str]:
        names = {k[len(prefix):] for e in self.steps for k in e if k.startswith(prefix)}
        return sorted(names)


def _labels(runs: list[_RunData]) -> list[str]:
    """Legend labels: the config values that differ between the runs (else the folder names)."""
    if len(runs) == 1:
        return [runs[0].folder.name]
    configs = [{"trainer": r.document.get("trainer"), **r.document.get("config", {})} for r in runs]
    shared = sorted(set.intersection(*(set(c) for c in configs)) - {"trainer"})
    differing = [k for k in ["trainer"] + shared if len({json.dumps(c[k], sort_keys=True) for c in configs}) > 1]
    labels = []
    for run, config in zip(runs, configs):
        parts = [f"{k}={config.get(k)}" for k in differing[:MAX_LABEL_KEYS]]
        labels.append(", ".join(parts) if parts else run.folder.name)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({run.folder.name})" for label, run in zip(labels, runs)]
    return labels


def _new_figure(width: float, height: float):
    from lmkit._extras import require

    figure_module = require("matplotlib.figure", "plot", "lmkit plot")
    backend = require("matplotlib.backends.backend_agg", "plot", "lmkit plot")
    figure = figure_module.Figure(figsize=(width, height), layout="constrained")
    backend.FigureCanvasAgg(figure)
    return figure


def _save(figure, output: str | os.PathLike) -> Path:
    from lmkit.io import atomic_write

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"--output {output}: write a .png file")
    with atomic_write(output, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    return output


def _epoch_panel(ax, runs, labels, colors) -> None:
    key_pairs = (("ppl/train", "ppl/valid"), ("loss/train", "loss/valid"))
    keys = next((pair for pair in key_pairs if any(r.series(r.epochs, pair[0])[0] for r in runs)), key_pairs[1])
    for run, label, color in zip(runs, labels, colors):
        x, y = run.series(run.epochs, keys[0], "epoch")
        ax.plot(x, y, "--", color=color, marker=".", label=f"{label}: train")
        x, y = run.series(run.epochs, keys[1], "epoch")
        if y:
            ax.plot(x, y, "-", color=color, marker="o", label=f"{label}: valid")
    what = "perplexity" if keys[0].startswith("ppl") else "loss"
    has_valid = any(r.series(r.epochs, keys[1])[0] for r in runs)
    ax.set(title=f"{what.capitalize()} per epoch" + (" (dashed: train, solid: valid)" if has_valid else ", train"),
           xlabel="epoch", ylabel=what)
    if what == "perplexity":
        _plain_log_axis(ax)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _step_panel(ax, runs, labels, colors, key: str, title: str, ylabel: str, log: bool = False,
                from_zero: bool = False) -> None:
    for run, label, color in zip(runs, labels, colors):
        x, y = run.series(run.steps, key)
        ax.plot(x, y, color=color, label=label)
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    if from_zero:
        ax.set_ylim(bottom=0)


_LINESTYLES = ("-", "--", ":", "-.")


def _layer_panel(ax, runs, labels, prefix: str, title: str, ylabel: str, band=None) -> None:
    """One line per layer and run: colour = layer, line style = run, each explained once in the legend."""
    from matplotlib.lines import Line2D

    layers = sorted({layer for run in runs for layer in run.layers(prefix)})
    palette = matplotlib_colors(len(layers))
    handles = []
    if band is not None:
        ax.axhspan(band[0], band[1], color="0.92", zorder=0)
        ax.axhline(1e-3, color="0.5", lw=0.8, ls=":")
        handles.append(Line2D([], [], color="0.5", lw=0.8, ls=":",
                              label=f"1e-3 rule of thumb; shaded: no warning [{band[0]:g}, {band[1]:g}]"))
    for r, run in enumerate(runs):
        for i, layer in enumerate(layers):
            x, y = run.series(run.steps, prefix + layer)
            if y:
                ax.plot(x, y, _LINESTYLES[r % len(_LINESTYLES)], color=palette[i], lw=1.2)
    handles += [Line2D([], [], color=palette[i], label=layer) for i, layer in enumerate(layers)]
    if len(runs) > 1:
        handles += [Line2D([], [], color="black", ls=_LINESTYLES[r % len(_LINESTYLES)], label=label)
                    for r, label in enumerate(labels)]
    ax.set(title=title, xlabel="step", ylabel=ylabel, yscale="log")
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="best", framealpha=0.7)


def _hidden_keys(run: _RunData, kind: str) -> list[str]:
    return sorted({k for e in run.steps for k in e if k.endswith(f"/{kind}")})


def _hidden_panel(ax, runs, labels, colors) -> None:
    for run, label, color in zip(runs, labels, colors):
        for kind, style in (("saturated", "-"), ("dead", "--")):
            for key in _hidden_keys(run, kind):
                x, y = run.series(run.steps, key)
                ax.plot(x, y, style, color=color, label=f"{key} ({label})" if len(runs) > 1 else key)
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":", label="warning above 0.5")
    ax.set(title="Hidden units: saturated (solid) / dead (dashed) fraction", xlabel="step", ylabel="fraction",
           ylim=(-0.02, 1.02))


def _epoch_norm_panel(ax, runs, labels, colors) -> None:
    layers = sorted({k[len(EPOCH_NORM):] for run in runs for e in run.epochs for k in e if k.startswith(EPOCH_NORM)})
    palette = matplotlib_colors(len(layers))
    for r, (run, label) in enumerate(zip(runs, labels)):
        for i, layer in enumerate(layers):
            x, y = run.series(run.epochs, EPOCH_NORM + layer, "epoch")
            if y:
                ax.plot(x, y, _LINESTYLES[r % len(_LINESTYLES)], marker="o", color=palette[i],
                        label=layer if len(runs) == 1 else f"{layer} ({label})")
    ax.set(title="Weight L2 norm per layer, per epoch", xlabel="epoch", ylabel="||W||")
    _plain_log_axis(ax)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _plain_log_axis(ax) -> None:
    """A log-scale y axis with ticks at 1, 2, 5 x 10^k labelled as plain numbers (300, not 3 x 10^2)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    ax.yaxis.set_major_formatter(formatter)
    ax.yaxis.set_minor_formatter(NullFormatter())


def matplotlib_colors(n: int) -> list:
    """``n`` distinct colours of matplotlib's tab10 cycle (repeating past 10)."""
    import matplotlib

    return [matplotlib.colormaps["tab10"](i % 10) for i in range(n)]


def plot_runs(folders, output: str | os.PathLike) -> Path:
    """Draw the run folders ``folders`` (paths written by the monitor) into the PNG ``output``."""
    _require_matplotlib()
    runs = [_RunData(Path(f)) for f in folders]
    labels = _labels(runs)
    colors = matplotlib_colors(len(runs))

    def has_steps(key: str) -> bool:
        return any(run.series(run.steps, key)[0] for run in runs)

    has_layers = any(run.layers("grad_norm/") for run in runs)
    panels = [  # (has data, draw)
        (any(run.epochs for run in runs), lambda ax: _epoch_panel(ax, runs, labels, colors)),
        (has_steps("loss/step"),
         lambda ax: _step_panel(ax, runs, labels, colors, "loss/step", "Training loss per step", "loss")),
        (has_steps("lr/step"),
         lambda ax: _step_panel(ax, runs, labels, colors, "lr/step", "Learning rate", "learning rate",
                               from_zero=True)),
        (has_layers, lambda ax: _layer_panel(ax, runs, labels, "grad_norm/", "Gradient L2 norm per layer",
                                             "||grad||")),
        (has_layers, lambda ax: _layer_panel(ax, runs, labels, "update_ratio/", "Update / weight ratio per layer",
                                             "||dW|| / ||W||", band=UPDATE_RATIO_BAND)),
        (any(_hidden_keys(run, kind) for run in runs for kind in ("saturated", "dead")),
         lambda ax: _hidden_panel(ax, runs, labels, colors)),
        # without per-step layer panels (word2vec), the weight norms per epoch show how the layers grow
        (not has_layers and any(k.startswith(EPOCH_NORM) for run in runs for e in run.epochs for k in e),
         lambda ax: _epoch_norm_panel(ax, runs, labels, colors)),
    ]
    drawn = [draw for available, draw in panels if available]
    if not drawn:
        raise ValueError(f"{', '.join(map(str, folders))}: no metrics to plot yet")
    cols = 2 if len(drawn) > 1 else 1
    rows = (len(drawn) + cols - 1) // cols
    figure = _new_figure(6.4 * cols, 3.6 * rows)
    step_label = ("step (a corpus chunk of ~65k words)" if all(r.document.get("trainer") == "word2vec" for r in runs)
                  else "step (minibatch)" if all(r.document.get("trainer") != "word2vec" for r in runs) else "step")
    epoch_ends = [e["step"] for e in runs[0].epochs]
    for i, draw in enumerate(drawn):
        ax = figure.add_subplot(rows, cols, i + 1)
        draw(ax)
        if ax.get_xlabel() == "step":
            ax.set_xlabel(f"{step_label}; dotted: end of an epoch")
            for step in epoch_ends:
                ax.axvline(step, color="0.75", lw=0.6, ls=":", zorder=0)
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend() is None:
            ax.legend(fontsize=7, loc="best", framealpha=0.7)
    figure.suptitle(f"lmkit runs: {', '.join(run.folder.name for run in runs)}", fontsize=11)
    return _save(figure, output)


def _require_matplotlib() -> None:
    from lmkit._extras import require

    require("matplotlib", "plot", "lmkit plot")


def plot_vectors(vectors, words, output: str | os.PathLike, *, neighbours: int = 5) -> Path:
    """A 2-D PCA map of ``words`` and each one's ``neighbours`` nearest words (cosine) from
    ``vectors`` (:class:`lmkit.vectors.KeyedVectors`), written to the PNG ``output``."""
    _require_matplotlib()
    missing = [w for w in words if w not in vectors.key_to_index]
    if missing:
        raise ValueError(f"--words: not in the vectors' vocabulary: {', '.join(missing)}")
    groups = []
    for word in words:
        near = [w for w, _ in vectors.most_similar(word, topn=neighbours)] if neighbours else []
        groups.append((word, near))
    points = list(dict.fromkeys(w for word, near in groups for w in (word, *near)))
    matrix = np.stack([vectors[w] for w in points]).astype(np.float64)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)  # cosine geometry
    centered = matrix - matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    xy = centered @ vt[:2].T if vt.shape[0] >= 2 else np.column_stack([centered @ vt[0], np.zeros(len(points))])
    explained = singular[:2] ** 2 / max(float((singular ** 2).sum()), 1e-12)
    where = {w: xy[i] for i, w in enumerate(points)}
    figure = _new_figure(9, 7.5)
    ax = figure.add_subplot()
    for (word, near), color in zip(groups, matplotlib_colors(len(groups))):
        for n in near:
            ax.plot(*zip(where[word], where[n]), color=color, alpha=0.3, lw=0.8)
            ax.scatter(*where[n], color=color, s=18, alpha=0.7)
            ax.annotate(n, where[n], fontsize=8, color=color, xytext=(3, 2), textcoords="offset points")
        ax.scatter(*where[word], color=color, s=70, edgecolor="black", zorder=3)
        ax.annotate(word, where[word], fontsize=11, fontweight="bold", color=color, xytext=(4, 4),
                    textcoords="offset points")
    ax.set(title=f"{len(words)} words and their {neighbours} nearest neighbours (cosine), PCA of the "
                 f"normalized vectors", xlabel=f"PC 1 ({explained[0]:.0%} of the variance)",
           ylabel=f"PC 2 ({explained[1]:.0%} of the variance)" if len(explained) > 1 else "PC 2")
    ax.grid(True, alpha=0.3)
    return _save(figure, output)


def plot_study(rows: list[dict], importances: dict[str, float], output: str | os.PathLike, *,
               value_label: str, minimize: bool = True) -> Path:
    """A hyperparameter study in two panels, written to the PNG ``output``.

    Left: the optimization history -- each finished trial's value by trial
    number (pruned trials at the last value they reported, as crosses; one far
    off the complete trials' range on the axis's edge, its value written) and
    the best value so far as a step line.  Right: the parameter importances
    (Optuna's estimate of how much each option moves the objective,
    normalized to sum to 1), largest on top.  ``rows``:
    :func:`lmkit.tune.study.trial_rows`' dicts (``trial``, ``state``,
    ``value``, ``last_value``); ``importances``: ``{option: share}``, may be empty.
    """
    _require_matplotlib()
    figure = _new_figure(11, 4.2)
    history, bars = figure.subplots(1, 2, width_ratios=(1.6, 1))
    done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    history.scatter([r["trial"] for r in done], [r["value"] for r in done], s=22, color="C0",
                    label=f"complete ({len(done)})", zorder=3)
    pruned = [r for r in rows if r["state"] == "pruned" and r.get("last_value") is not None]
    best, xs, ys = None, [], []
    for r in sorted(done, key=lambda r: r["trial"]):
        if best is None or (r["value"] < best if minimize else r["value"] > best):
            best = r["value"]
        xs.append(r["trial"])
        ys.append(best)
    if xs:
        xs.append(max(r["trial"] for r in rows))
        ys.append(ys[-1])
    history.step(xs, ys, where="post", color="C1", label="best so far")
    # the axis fits the complete trials; a pruned trial far off (a diverging run) sits on the edge, its value written
    values = [r["value"] for r in done]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = max(high - low, 0.05 * abs(high) or 1.0)
    bottom, top = low - 0.15 * span, high + 0.6 * span
    history.set_ylim(bottom, top)
    inside = [r for r in pruned if bottom <= r["last_value"] <= top]
    outside = [r for r in pruned if not bottom <= r["last_value"] <= top]
    if inside:
        history.scatter([r["trial"] for r in inside], [r["last_value"] for r in inside], marker="x", s=26,
                        color="C3", label="pruned, at its last report", zorder=3)
    if outside:
        edge = [top - 0.04 * (top - bottom) if r["last_value"] > top else bottom + 0.04 * (top - bottom)
                for r in outside]
        history.scatter([r["trial"] for r in outside], edge, marker="^", s=30, color="C3",
                        label="pruned, last report off the scale", zorder=3)
        for r, y in zip(outside, edge):
            history.annotate(f"{r['last_value']:.4g}", (r["trial"], y), textcoords="offset points", xytext=(0, -12),
                             ha="center", fontsize=7, color="C3")
    from matplotlib.ticker import MaxNLocator

    history.xaxis.set_major_locator(MaxNLocator(integer=True))
    history.set_xlabel("trial number")
    history.set_ylabel(value_label + (" (lower is better)" if minimize else " (higher is better)"))
    history.set_title("Optimization history")
    history.grid(alpha=0.3)
    history.legend(fontsize=8, loc="best")
    if importances:
        names = sorted(importances, key=importances.get)
        bars.barh(names, [importances[n] for n in names], color="C2")
        bars.set_xlabel(f"relative importance, sums to 1\n(Optuna's estimate from {len(done)} complete trials)")
        bars.set_xlim(0, 1)
        for i, name in enumerate(names):
            bars.text(importances[name] + 0.01, i, f"{importances[name]:.2f}", va="center", fontsize=8)
    else:
        bars.text(0.5, 0.5, "too few complete trials\nto estimate importances", ha="center", va="center",
                  transform=bars.transAxes)
        bars.set_axis_off()
    bars.set_title("Parameter importances")
    figure.suptitle(f"lmkit tune: {len(rows)} trials, {value_label}", fontsize=11)
    return _save(figure, output)
