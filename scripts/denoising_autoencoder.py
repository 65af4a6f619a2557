"""A denoising autoencoder built from ``lmkit.nn`` layers, on scikit-learn's 8x8 digits.

As the lecture notes define it (Vincent et al. 2008): corrupt the input,
``x~ = x + N(0, sigma^2)`` per pixel, and train the network to reconstruct
the *clean* ``x`` under the squared loss.  A fresh corruption is drawn for
every minibatch (``fit``'s ``augment``), so the network never sees the same
noisy image twice.

Held-out reconstruction error (mean squared error per pixel, pixels scaled
to [0, 1]) for the noisy input itself, PCA with the autoencoder's code size
(fitted on the clean training images: project, reconstruct), a linear
autoencoder 64-k-64 trained on clean images (the notes: with one linear
hidden layer and the squared loss an autoencoder spans the same subspace as
PCA, Baldi & Hornik 1989), a linear *denoising* one, and the nonlinear DAE
64-h-k-h-64 (ReLU, sigmoid output).  Each is scored on the noisy test images
and, for reference, on the clean ones.

The digits ship inside scikit-learn (``sklearn.datasets.load_digits``,
1797 images, no download): ``pip install 'lmkit[examples,plot]'``::

    .venv/bin/python scripts/denoising_autoencoder.py --docs docs

writes ``runs/dae/dae.md`` (the table) and ``runs/dae/dae_examples.png``
(noisy / PCA / DAE / clean test digits); ``--docs`` copies the picture.
``tests/scripts/test_denoising_autoencoder.py`` runs a shorter version.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from lmkit.nn import Dense, ReLU, Sequential, Sigmoid
from lmkit.training import fit


def load_digits_split(seed: int = 0, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_test)``: the 1797 digits as ``float32[n, 64]`` in [0, 1] (the
    pixels' 0..16 divided by 16), shuffled by ``seed`` and split; ``y_test`` their digit labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    return x[order[n_test:]], x[order[:n_test]], digits.target[order[:n_test]]


def corrupt(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``x + N(0, sigma^2)``, elementwise (values may leave [0, 1])."""
    return (x + sigma * rng.standard_normal(x.shape, dtype=np.float32)).astype(np.float32)


def pca_fit(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean: float[d], components: float[k, d])``: the top ``k`` principal directions of ``x``."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k]


def pca_reconstruct(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Project ``x`` on the principal subspace and map back: ``mean + (x - mean) V^T V``."""
    return mean + (x - mean) @ components.T @ components


def build_dae(code: int = 16, hidden: int = 256, rng=0, n_pixels: int = 64) -> Sequential:
    """64 -> hidden (ReLU) -> code (linear) -> hidden (ReLU) -> 64 (sigmoid: pixels in [0, 1])."""
    rng = np.random.default_rng(rng)
    return Sequential([Dense(n_pixels, hidden, rng=rng), ReLU(), Dense(hidden, code, rng=rng),
                       Dense(code, hidden, rng=rng), ReLU(), Dense(hidden, n_pixels, rng=rng), Sigmoid()])


def build_linear_ae(code: int = 16, rng=0, n_pixels: int = 64) -> Sequential:
    """64 -> code -> 64, no nonlinearity: the autoencoder the notes compare with PCA."""
    rng = np.random.default_rng(rng)
    return Sequential([Dense(n_pixels, code, rng=rng), Dense(code, n_pixels, rng=rng)])


def train(model: Sequential, x_train: np.ndarray, *, sigma: float, epochs: int, lr: float = 2e-3,
          batch_size: int = 64, seed: int = 0, valid=None, callbacks=()) -> list[dict]:
    """Squared loss between the output for ``corrupt(x, sigma)`` (fresh noise each minibatch; none
    with ``sigma = 0``) and the clean ``x``; Adam."""
    def gaussian_noise(xb, rng):
        return corrupt(xb, sigma, rng)

    return fit(model, x_train, x_train, loss="mse", optimizer="adam", lr=lr, epochs=epochs, batch_size=batch_size,
               augment=gaussian_noise if sigma > 0 else None, valid=valid, seed=seed, callbacks=callbacks)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error per pixel (float64 sum)."""
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def run(sigma: float = 0.3, code: int = 16, hidden: int = 256, epochs: int = 200, linear_epochs: int | None = None,
        seed: int = 0) -> dict:
    """Train and score every method; returns ``{"rows": [(method, mse_noisy, mse_clean)], "examples": {...},
    "settings": {...}}``."""
    x_train, x_test, y_test = load_digits_split(seed)
    noisy_test = corrupt(x_test, sigma, np.random.default_rng(seed + 100))
    linear_epochs = epochs if linear_epochs is None else linear_epochs
    rows, outputs = [], {}
    rows.append(("noisy input (no denoising)", mse(noisy_test, x_test), 0.0))
    mean, components = pca_fit(x_train, code)
    outputs["PCA"] = pca_reconstruct(noisy_test, mean, components)
    rows.append((f"PCA, {code} components (fit on clean training images)", mse(outputs["PCA"], x_test),
                 mse(pca_reconstruct(x_test, mean, components), x_test)))
    started = time.perf_counter()
    linear_ae = build_linear_ae(code, seed)
    train(linear_ae, x_train, sigma=0.0, epochs=linear_epochs, seed=seed)
    rows.append((f"linear autoencoder 64-{code}-64, clean training input", mse(linear_ae.predict(noisy_test), x_test),
                 mse(linear_ae.predict(x_test), x_test)))
    linear_dae = build_linear_ae(code, seed)
    train(linear_dae, x_train, sigma=sigma, epochs=linear_epochs, seed=seed)
    rows.append((f"linear denoising autoencoder 64-{code}-64", mse(linear_dae.predict(noisy_test), x_test),
                 mse(linear_dae.predict(x_test), x_test)))
    dae = build_dae(code, hidden, seed)
    history = train(dae, x_train, sigma=sigma, epochs=epochs, seed=seed, valid=(noisy_test, x_test))
    outputs["DAE"] = dae.predict(noisy_test)
    rows.append((f"denoising autoencoder 64-{hidden}-{code}-{hidden}-64 (ReLU, sigmoid output)",
                 mse(outputs["DAE"], x_test), mse(dae.predict(x_test), x_test)))
    seconds = time.perf_counter() - started
    return {"rows": rows, "history": history, "model": dae,
            "examples": {"x_test": x_test, "y_test": y_test, "noisy": noisy_test, **outputs},
            "settings": {"sigma": sigma, "code": code, "hidden": hidden, "epochs": epochs,
                         "linear_epochs": linear_epochs, "seed": seed, "n_train": len(x_train),
                         "n_test": len(x_test), "train_seconds": seconds}}


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"Held-out reconstruction error, {s['n_test']} test digits (trained on {s['n_train']}), "
             f"noise sigma = {s['sigma']} on pixels in [0, 1], code size {s['code']}, {s['epochs']} epochs "
             f"(Adam 2e-3, batches of 64), seed {s['seed']}:", "",
             "| method | MSE per pixel, noisy input | MSE per pixel, clean input |", "|---|---:|---:|"]
    for method, noisy, clean in result["rows"]:
        lines.append(f"| {method} | {noisy:.4f} | {clean:.4f} |")
    return "\n".join(lines) + "\n"


def plot_examples(result: dict, path: Path, per_digit: int = 1) -> None:
    """A grid of test digits, one column per digit 0-9: noisy input, PCA, DAE output, clean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex, s = result["examples"], result["settings"]
    columns = [int(np.flatnonzero(ex["y_test"] == d)[0]) for d in range(10)]
    rows = [(f"noisy input\n(σ = {s['sigma']}, shown\nclipped to [0, 1])", ex["noisy"]),
            (f"PCA\n({s['code']} components)", ex["PCA"]),
            (f"denoising AE\n(code {s['code']})", ex["DAE"]), ("clean", ex["x_test"])]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.0 * len(columns) + 1.4, 1.05 * len(rows) + 0.7))
    for r, (label, images) in enumerate(rows):
        for c, i in enumerate(columns):
            ax = axes[r, c]
            ax.imshow(np.clip(images[i], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
            if r < len(rows) - 1:
                ax.set_title(f"MSE {mse(images[i], ex['x_test'][i]):.3f}", fontsize=7)
    fig.suptitle("Held-out digits: noisy input, PCA and denoising-autoencoder reconstructions, clean original\n"
                 "(above each image: its MSE per pixel against the clean original in the bottom row)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sigma", type=float, default=0.3, help="std of the Gaussian corruption (pixels in [0, 1])")
    parser.add_argument("--code", type=int, default=16, help="code size (bottleneck units; PCA components)")
    parser.add_argument("--hidden", type=int, default=256, help="units of the DAE's two hidden layers")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/dae")
    parser.add_argument("--docs", default=None, help="also copy the picture into this folder (e.g. docs)")
    args = parser.parse_args()
    result = run(args.sigma, args.code, args.hidden, args.epochs, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(result)
    print(table)
    print(f"training: {result['settings']['train_seconds']:.1f} s")
    (out / "dae.md").write_text(table, encoding="utf-8")
    result["model"].save(out / "dae.npz")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed (pip install 'lmkit[plot]'): no picture")
        return
    plot_examples(result, out / "dae_examples.png")
    print(f"wrote {out}/dae.md, dae.npz and dae_examples.png")
    if args.docs:
        Path(args.docs).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "dae_examples.png", Path(args.docs) / "dae_examples.png")
        print(f"copied dae_examples.png to {args.docs}/")


if __name__ == "__main__":
    main()
