"""Why initialization matters, measured and drawn with lmkit's own layers.

The lecture notes' experiment (after Glorot & Bengio 2010, He et al. 2015,
Ioffe & Szegedy 2015): a 10-layer, 500-unit network fed 1000 unit-Gaussian
inputs, one forward and one backward pass at initialization, for several
weight initializations:

- tanh with ``0.01 * N(0, 1)`` weights: each layer multiplies the spread by
  ``0.01 * sqrt(500) = 0.22``, the activations collapse to zero and so does
  the gradient that reaches the first layers (vanishing);
- tanh with ``N(0, 1)``: the pre-activations have a spread of ~22, every unit
  saturates at +-1; the local gradient ``1 - y^2`` is nearly 0, but the
  weights multiply the backward signal by ~22, so here the gradient *grows*
  toward the input (exploding);
- tanh with Xavier (``Var(W) = 2 / (fan_in + fan_out)``; its uniform form
  is ``Dense``'s default before tanh): the activations keep a healthy spread;
- ReLU with ``0.01 * N(0, 1)`` / ``N(0, 1)``: collapse / explode; with Xavier the
  second moment halves at each layer (ReLU discards half of it); with He
  (``2 / fan_in``, ``Dense``'s default before ReLU) it is kept;
- batch norm after each Dense: the same bad inits give healthy activations
  (and nearly the *same* ones: normalization undoes the scale of ``W``, the
  draws are the same up to that scale, and only batch norm's ``eps`` tells
  them apart).

Writes to ``--out`` (default ``runs/init_study``): ``init_study.md`` (per
layer: activation mean and std, gradient norms), and with matplotlib
(``pip install 'lmkit[plot]'``) ``init_histograms_{tanh,relu,batchnorm}.png``
and ``init_layer_stats.png``; ``--docs DIR`` copies the two key figures
there.  ``tests/scripts/test_init_study.py`` checks the facts on 200-unit
networks (``tests/nn/test_nn_init_facts.py``, the variance arithmetic
behind them, on bare arrays)::

    .venv/bin/python scripts/init_study.py --docs docs
"""
from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmkit.nn import ActivationLayer, BatchNorm, Dense, Sequential, get_activation, softmax_cross_entropy

UNIT_NORMAL = ("small", 100.0)  # 0.01 * 100 = 1: W ~ N(0, 1)
INIT_LABELS = {"small": "0.01·N(0,1)", UNIT_NORMAL: "N(0,1)", "xavier_normal": "Xavier", "he_normal": "He"}


@dataclass(frozen=True)
class Case:
    """One network of the study: its hidden activation, the init of every hidden Dense, batch norm or not."""

    group: str  # "tanh", "relu" or "batchnorm": which histogram figure shows it
    activation: str
    init: object  # a Dense init: scheme name or (scheme, gain)
    batch_norm: bool = False

    @property
    def label(self) -> str:
        return f"{self.activation}, {INIT_LABELS[self.init]}" + (" + BN" if self.batch_norm else "")


CASES = [
    Case("tanh", "tanh", "small"),
    Case("tanh", "tanh", UNIT_NORMAL),
    Case("tanh", "tanh", "xavier_normal"),
    Case("relu", "relu", "small"),
    Case("relu", "relu", UNIT_NORMAL),
    Case("relu", "relu", "xavier_normal"),
    Case("relu", "relu", "he_normal"),
    Case("batchnorm", "tanh", "small", True),
    Case("batchnorm", "tanh", UNIT_NORMAL, True),
    Case("batchnorm", "relu", "small", True),
    Case("batchnorm", "relu", UNIT_NORMAL, True),
]


def build_network(case: Case, rng: np.random.Generator, depth: int = 10, width: int = 500,
                  classes: int = 10) -> Sequential:
    """``depth`` x [Dense(width, width, case.init), (BatchNorm), activation], then a linear
    Dense(width, classes) head (Xavier) for a softmax loss."""
    layers = []
    for _ in range(depth):
        layers.append(Dense(width, width, case.init, rng=rng))
        if case.batch_norm:
            layers.append(BatchNorm(width))
        layers.append(get_activation(case.activation))
    layers.append(Dense(width, classes, rng=rng))
    return Sequential(layers)


@dataclass
class Measurement:
    """Per hidden layer ``l = 1..depth``: its activations ``outputs[l-1]`` (float32[B, width]),
    their mean and std, the norm of the loss gradient with respect to them (``grad_out``,
    the backpropagated signal) and with respect to the layer's weights (``grad_w``)."""

    outputs: list[np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    grad_out: np.ndarray
    grad_w: np.ndarray
    loss: float


def measure(model: Sequential, x: np.ndarray, y: np.ndarray) -> Measurement:
    """One training-mode forward pass through ``model``'s layers, keeping every activation
    layer's output, the softmax cross-entropy against ``y``, and one backward pass."""
    h, outputs = x, []
    for layer in model.layers:
        h = layer.forward(h, train=True)
        if isinstance(layer, ActivationLayer):
            outputs.append(h)
    loss, grad = softmax_cross_entropy(h, y)
    grad_out = []
    for layer in reversed(model.layers):
        if isinstance(layer, ActivationLayer):
            grad_out.append(float(np.linalg.norm(grad)))
        grad = layer.backward(grad)
    grads = model.grads()
    hidden = [name for name, layer in model.named_layers() if isinstance(layer, Dense)][:len(outputs)]
    wide = [o.astype(np.float64) for o in outputs]
    return Measurement(outputs=outputs, mean=np.array([o.mean() for o in wide]), std=np.array([o.std() for o in wide]),
                       grad_out=np.array(grad_out[::-1]),
                       grad_w=np.array([float(np.linalg.norm(grads[f"{name}/W"])) for name in hidden]), loss=loss)


def run_study(cases=CASES, depth=10, width=500, batch=1000, seed=0) -> dict[Case, Measurement]:
    """Each case on the same input and labels; each network's weights from ``seed`` (so the inits
    of one activation are the same draws, scaled)."""
    data = np.random.default_rng(seed + 1)
    x = data.standard_normal((batch, width)).astype(np.float32)
    y = data.integers(0, 10, batch)
    return {case: measure(build_network(case, np.random.default_rng(seed), depth, width), x, y) for case in cases}


def _fmt(v: float) -> str:
    return f"{v:.2f}" if 0.01 <= abs(v) < 100 else ("0" if v == 0 else f"{v:.1e}")


def markdown(results: dict[Case, Measurement], depth: int, width: int, batch: int) -> str:
    """The tables: activation std and mean, ||dL/dh||, ||dL/dW||, per layer and case."""
    layers = range(1, depth + 1)
    header = "| network | " + " | ".join(f"layer {i}" for i in layers) + " |\n|---|" + "---:|" * depth + "\n"
    parts = [f"# Initialization study: {depth} layers of {width} units, a batch of {batch} N(0,1) inputs\n",
             "Written by `scripts/init_study.py`.  Per hidden layer (after its activation), at initialization, "
             "one training-mode pass; the loss is the softmax cross-entropy of a linear 10-class head "
             "against random labels.\n"]
    tables = [("Standard deviation of the activations", "std"), ("Mean of the activations", "mean"),
              ("Gradient reaching each layer's activations, ||dL/dh|| (backpropagated signal)", "grad_out"),
              ("Gradient of each layer's weights, ||dL/dW|| (Frobenius)", "grad_w")]
    notes = {
        "grad_out": "Vanishing (0.01·N(0,1)) and exploding (N(0,1)) toward the input; flat under Xavier (tanh), "
                    "He (ReLU) and batch norm.\n",
        "grad_w": "dL/dW of a layer is its input's activations times the gradient at its output, so under "
                  "0.01·N(0,1) it is about equal at every layer: the activations shrink forward as fast as the "
                  "gradient shrinks backward -- tiny everywhere, not only near the input.  With batch norm it "
                  "scales as 1/scale of W (the output does not depend on that scale).\n",
    }
    for title, field in tables:
        rows = "".join(f"| {case.label} | " + " | ".join(_fmt(v) for v in getattr(m, field)) + " |\n"
                       for case, m in results.items())
        note = f"\n{notes[field]}" if field in notes else ""
        parts.append(f"## {title}\n\n{header}{rows}{note}")
    return "\n".join(parts)


# -- figures -------------------------------------------------------------------------------------

HIST_TITLES = {
    "tanh": "tanh: 0.01·N(0,1) collapses to 0, N(0,1) saturates at ±1, Xavier stays spread",
    "relu": "ReLU: 0.01·N(0,1) collapses, N(0,1) explodes, Xavier shrinks by √2 per layer, He keeps the spread",
    "batchnorm": "Batch norm after each Dense: the same bad inits stay healthy (and alike: BN undoes W's scale)",
}


def plot_histograms(results: dict[Case, Measurement], group: str, path: Path, width: int) -> None:
    """Rows: cases of ``group``; columns: layers; each panel the histogram of that layer's activations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in results if c.group == group]
    depth = len(results[cases[0]].outputs)
    fig, axes = plt.subplots(len(cases), depth, figsize=(1.45 * depth + 1.6, 1.55 * len(cases) + 1.0),
                             sharey=True, squeeze=False)
    for r, case in enumerate(cases):
        m = results[case]
        lo, hi = (-1.0, 1.0) if case.activation == "tanh" else (0.0, 4.0)
        bins = np.linspace(lo, hi, 41)
        for c, out in enumerate(m.outputs):
            ax = axes[r, c]
            values = out.ravel()
            beyond = float(np.mean(values > hi))
            counts, _ = np.histogram(np.clip(values, lo, hi), bins=bins)
            ax.bar(bins[:-1], counts / values.size, width=bins[1] - bins[0], align="edge",
                   color="tab:red" if case.activation == "relu" else "tab:blue")
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 1.5)
            ax.set_xlim(lo, hi)
            ax.set_xticks([-1, 0, 1] if lo < 0 else [0, 1, 2, 3, 4])
            ax.tick_params(labelsize=7)
            note = f"std {_fmt(m.std[c])}"
            if beyond > 0.01:
                note += f"\n{beyond:.0%} > {hi:g}"
            ax.text(0.97, 0.96, note, transform=ax.transAxes, ha="right", va="top", fontsize=7,
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
            if r == 0:
                ax.set_title(f"layer {c + 1}", fontsize=9)
            if r == len(cases) - 1:
                ax.set_xlabel("activation", fontsize=8)
            if c == 0:
                ax.set_ylabel(case.label, fontsize=9, fontweight="bold")
    zeros = "; ReLU's first bar holds its zeros, about half the units" if any(
        c.activation == "relu" for c in cases) else ""
    fig.suptitle(f"{HIST_TITLES[group]}\nActivations of each layer of a {depth}-layer, {width}-unit net at "
                 f"initialization; y: share of units per bin (log scale){zeros}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def plot_layer_stats(results: dict[Case, Measurement], path: Path, width: int) -> None:
    """Three panels against the layer: activation std, ||dL/dh||, ||dL/dW||; one line per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"small": "tab:blue", UNIT_NORMAL: "tab:red", "xavier_normal": "tab:green", "he_normal": "tab:purple"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    panels = [("std", "spread of the activations", "std of the layer's outputs (log)"),
              ("grad_out", "backpropagated gradient", "‖dL/dh‖ at the layer's outputs (log)"),
              ("grad_w", "weight gradient", "‖dL/dW‖ of the layer (log)")]
    depth = len(next(iter(results.values())).std)
    layers = np.arange(1, depth + 1)
    for ax, (field, title, ylabel) in zip(axes, panels):
        for case, m in results.items():
            ax.plot(layers, getattr(m, field), color=colors[case.init],
                    linestyle="-" if case.activation == "tanh" else "--",
                    marker="o" if case.batch_norm else None, markersize=4, label=case.label, alpha=0.9)
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(layers)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, title="hidden activation, init of W",
               title_fontsize=9, frameon=False)
    fig.suptitle(f"{depth}-layer, {width}-unit networks at initialization, one batch of N(0,1) inputs: solid tanh, "
                 "dashed ReLU, dots = batch norm after each Dense\n(with batch norm both inits of an activation "
                 "give nearly the same activations, so their std lines coincide)", fontsize=11)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/init_study", help="folder for the table and figures")
    parser.add_argument("--docs", default=None, help="also copy the key figures into this folder (e.g. docs)")
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = run_study(depth=args.depth, width=args.width, batch=args.batch, seed=args.seed)
    table = markdown(results, args.depth, args.width, args.batch)
    (out / "init_study.md").write_text(table, encoding="utf-8")
    print(table)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed (pip install 'lmkit[plot]'): wrote the table only")
        return
    figures = {group: out / f"init_histograms_{group}.png" for group in ("tanh", "relu", "batchnorm")}
    for group, path in figures.items():
        plot_histograms(results, group, path, args.width)
    plot_layer_stats(results, out / "init_layer_stats.png", args.width)
    print(f"wrote {out}/init_study.md and 4 figures in {time.perf_counter() - started:.1f} s")
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("init_histograms_tanh.png", "init_layer_stats.png"):
            shutil.copyfile(out / name, docs / name)
            print(f"copied {name} to {docs}/")


if __name__ == "__main__":
    main()
