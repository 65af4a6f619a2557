"""A new user's first word2vec command beside the same command run again: what compiling costs.

Each run is the whole command a user types, `lmkit train ARCH --loss LOSS --input brown:train
--epochs 1 --threads 1`, in a fresh process.  The first ("cold") run of each combination gets an
empty numba cache and an empty corpus cache, as on a new machine: it encodes Brown's training
split and compiles every kernel it uses.  The second ("warm") run repeats it with both caches
filled.  Printed per combination: the command's wall seconds cold and warm, the seconds training
waited for the word2vec kernel ("kernel compiled in ..." in the log; 0 when it was cached), and the
difference cold - warm, which is what the first run costs on top of every later one.

With several ``--checkouts`` each combination runs on each checkout in turn (its folder first on
PYTHONPATH), so two versions of the compile path compare in one sitting.

Usage:
    flock /tmp/lmkit-bench.lock python scripts/bench_first_run.py [--combos sg-ns sg-hs cbow-ns cbow-hs] \\
        [--checkouts DIR ...]
Needs LMKIT_DATA (Brown).  One core's work at a time, except while a child process compiles the
kernel beside the corpus encoding (that overlap is part of what is measured).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMBOS = {"sg-ns": ("skipgram", "ns"), "sg-hs": ("skipgram", "hs"), "cbow-ns": ("cbow", "ns"),
          "cbow-hs": ("cbow", "hs")}
KERNEL_WAIT = re.compile(r"kernel compiled in ([0-9.]+) s")


def run_command(checkout: Path, combo: str, numba_cache: Path, corpus_cache: Path, output: Path) -> tuple[float, float]:
    """One whole command in a fresh process; (wall seconds, seconds waited for the kernel)."""
    arch, loss = COMBOS[combo]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache), "LMKIT_CACHE": str(corpus_cache),
           "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lmkit", "train", arch, "--loss", loss, "--input", "brown:train",
                           "--epochs", "1", "--threads", "1", "--seed", "1", "--output", str(output)],
                          cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{combo} on {checkout} failed:\n{done.stderr[-2000:]}")
    wait = KERNEL_WAIT.search(done.stderr + done.stdout)
    return seconds, float(wait.group(1)) if wait else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--combos", nargs="+", choices=sorted(COMBOS), default=list(COMBOS))
    parser.add_argument("--checkouts", nargs="+", type=Path, default=[Path(__file__).resolve().parents[1]],
                        help="lmkit checkouts to run (default: this one)")
    args = parser.parse_args()
    print(f"{'combo':8} {'checkout':24} {'cold s':>8} {'waited for kernel s':>20} {'warm s':>8} {'cold - warm s':>14}")
    for combo in args.combos:
        for checkout in args.checkouts:
            with tempfile.TemporaryDirectory(prefix="lmkit-first-run-") as scratch:
                scratch = Path(scratch)
                output = scratch / "vectors.txt"
                cold, waited = run_command(checkout, combo, scratch / "numba", scratch / "corpora", output)
                warm, _ = run_command(checkout, combo, scratch / "numba", scratch / "corpora", output)
            print(f"{combo:8} {str(checkout)[-24:]:24} {cold:8.1f} {waited:20.1f} {warm:8.1f} {cold - warm:14.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
