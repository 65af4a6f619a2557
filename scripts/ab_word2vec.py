"""A/B of two lmkit checkouts' word2vec speed: paired runs at the same time, one core each.

On a shared machine the words/s of one run moves by 10-15% from one minute to
the next, more than most kernel changes.  Runs taken one after the other
compare two moments as much as two kernels.  Here each round starts checkout
A and checkout B *at the same time*, each pinned to its own core
(``taskset``), so both see the same moment; the cores are swapped every round
so a faster core favours neither.  Each round gives one ratio B/A; the
script prints every ratio and their geometric mean.

Each side trains in its own process with its checkout first on
``PYTHONPATH`` (1 thread, the benchmark settings of ``bench_word2vec.py``,
lmkit's default update) on a text file encoded once beforehand; words/s is
the training's own count (``EpochStats``) over ``fit()``'s seconds.

Usage:
    flock /tmp/lmkit-bench.lock python scripts/ab_word2vec.py --a /path/old-checkout --b /path/new-checkout \\
        [--combos sg-ns cbow-ns sg-hs cbow-hs] [--rounds 6] [--epochs 2] [--repeat 3]
Needs 2 cores and LMKIT_DATA (Brown, for the corpus file).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_word2vec import ALPHA, COMBOS, SETTINGS, brown_text  # noqa: E402  (the benchmark's settings and corpus)


def train(combo: str, path: str, epochs: int) -> dict:
    """In this process (the checkout on PYTHONPATH): fit and return words per second."""
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.model import Word2Vec

    arch, loss = combo.split("-")
    corpus = encode_corpus(path, min_count=SETTINGS["min_count"], verbose=False)
    model = Word2Vec(architecture="skipgram" if arch == "sg" else "cbow", loss=loss, workers=1, epochs=epochs,
                     seed=1, alpha=ALPHA[arch], **SETTINGS)
    started = time.perf_counter()
    model.fit(corpus, verbose=False)
    seconds = time.perf_counter() - started
    return {"words_per_second": sum(h.words for h in model.history) / seconds}


def start(checkout: Path, core: int, combo: str, path: Path, epochs: int) -> subprocess.Popen:
    """Run :func:`train` for ``checkout`` pinned to ``core``; its JSON comes on stdout."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = ["taskset", "-c", str(core), sys.executable, __file__, "--run", json.dumps([combo, str(path), epochs])]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> float:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{process.args} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])["words_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--a", type=Path, help="checkout A (the reference), e.g. a git worktree of the old commit")
    parser.add_argument("--b", type=Path, help="checkout B (the change)")
    parser.add_argument("--combos", nargs="+", choices=COMBOS, default=list(COMBOS))
    parser.add_argument("--rounds", type=int, default=6, help="paired rounds per combo (default 6)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="copies of Brown in the corpus (default 3)")
    args = parser.parse_args()
    if args.run:
        combo, path, epochs = json.loads(args.run)
        print(json.dumps(train(combo, path, epochs)))
        return
    if args.a is None or args.b is None:
        parser.error("--a and --b (two checkouts) are required")
    args.a, args.b = args.a.resolve(), args.b.resolve()
    for flag, checkout in (("--a", args.a), ("--b", args.b)):
        if not (checkout / "lmkit" / "__init__.py").is_file():
            parser.error(f"{flag} {checkout}: not an lmkit checkout (no lmkit/__init__.py)")
    if len(os.sched_getaffinity(0)) < 2:
        parser.error("needs 2 cores: the two sides run at the same time, one core each")
    path = brown_text(None, args.repeat)
    for checkout in (args.a, args.b):          # encode and compile once per side, outside the rounds
        result(start(checkout, 0, args.combos[0], path, 1))
    print(f"A = {args.a}\nB = {args.b}\ncorpus {path.name}, {args.epochs} epochs, 1 thread each, paired rounds\n")
    print("| combo | B/A each round | geometric mean | range |")
    print("|---|---|---:|---|")
    for combo in args.combos:
        ratios = []
        for round_ in range(args.rounds):
            core_a = round_ % 2                 # swap the cores every round
            a = start(args.a, core_a, combo, path, args.epochs)
            b = start(args.b, 1 - core_a, combo, path, args.epochs)
            ratios.append(result(b) / result(a))
        mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"| {combo} | {' '.join(f'{r:.3f}' for r in ratios)} | **{mean:.3f}** | "
              f"{min(ratios):.3f}-{max(ratios):.3f} |", flush=True)


if __name__ == "__main__":
    main()
