"""Benchmark data-parallel word2vec on Ray beside one process: speed, sync cost and quality.

Speed: Brown lowercased x3 (the file scripts/bench_word2vec.py writes into the
cache), SG-NS with bench_word2vec's settings (vector_size 100, window 5,
negative 5, sample 1e-3, min_count 5, alpha 0.025, update batched), 1 epoch:
``--workers 2 --threads 1`` on a local Ray cluster of 2 CPUs beside one
process with ``--threads 2``, the same CPUs.  words/s = the epoch's raw words
(every word surviving min_count, bench_word2vec's definition) / the epoch's
seconds (``EpochStats``: Ray's rounds and syncs inside it; the start-up of Ray
and the actors, and the kernel's loading, outside it, as the compile is for
one process).  The whole ``fit`` call's seconds are printed too.  Runs are
interleaved, each in a fresh interpreter, the fastest of ``--repeats`` kept.

Quality: brown:train lowercased, 5 epochs, seeds 1-3: one process with one
thread beside 2 replicas x 1 thread for each ``--sync-words``; analogy
accuracy (questions-words.txt, restrict 30000, case-insensitive) and
WordSim-353 Spearman (bench_word2vec.quality_scores).

Usage:
    flock -x /tmp/lmkit-bench.lock python scripts/bench_distributed.py --only speed
    flock -s /tmp/lmkit-bench.lock python scripts/bench_distributed.py --only quality [--sync-words 100000 ...]
Needs the ray extra (pip install -e '.[ray]') and LMKIT_DATA pointing at brown.zip and the benchmarks.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench_word2vec import SETTINGS, brown_text, interleaved_runs, quality_scores, words_per_second

OBJECT_STORE_BYTES = 500 * 1024 ** 2  # a few syncs' weights (2 x V x d x 4 ~ 10 MB for Brown) fit many times


def run(spec: dict) -> dict:
    """Train one model as ``spec`` says (in this interpreter) and return its numbers."""
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.model import Word2Vec

    corpus = encode_corpus(spec["file"], min_count=SETTINGS["min_count"], verbose=False)
    options = dict(SETTINGS, architecture="skipgram", loss="ns", alpha=spec.get("alpha", 0.025), epochs=spec["epochs"],
                   seed=spec["seed"], workers=spec["threads"])
    if spec.get("replicas"):
        import ray

        ray.init(address="local", num_cpus=spec["replicas"] * spec["threads"], include_dashboard=False,
                 object_store_memory=OBJECT_STORE_BYTES, log_to_driver=False)
        options.update(replicas=spec["replicas"], cluster="local", sync_words=spec["sync_words"])
    started = time.perf_counter()
    model = Word2Vec(**options).fit(corpus, verbose=False)
    out = {**spec, "fit_seconds": time.perf_counter() - started, "vocab": len(model.vocab)}
    for field in ("words", "seconds", "syncs", "sync_bytes", "sync_seconds"):
        out[field] = sum(getattr(epoch, field) for epoch in model.history)
    if spec.get("evaluate"):
        out.update(quality_scores(model.wv))
    return out


def spawn(spec: dict) -> dict:
    """:func:`run` in a fresh interpreter (its own Ray cluster); its JSON line."""
    process = subprocess.run([sys.executable, __file__, "--run", json.dumps(spec)], capture_output=True, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"run {spec} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def speed_section(args) -> list[dict]:
    from lmkit.corpus.encoded import encode_corpus

    path = brown_text(None, args.repeat)
    encode_corpus(path, min_count=SETTINGS["min_count"], verbose=False)  # once, outside every timing
    base = dict(file=str(path), epochs=1, seed=1, sync_words=args.sync_words[0])
    specs = {"1 process x 2 threads": {**base, "replicas": 0, "threads": 2},
             "2 Ray workers x 1 thread": {**base, "replicas": 2, "threads": 1}}
    runs = interleaved_runs(specs, args.repeats, spawn)
    rate = words_per_second
    best = {name: max(found, key=rate) for name, found in runs.items()}
    single = rate(best["1 process x 2 threads"])
    print(f"\n## Speed: {path.name}, SG-NS, 1 epoch, {SETTINGS}, --sync-words {base['sync_words']}, "
          f"best of {args.repeats}\n")
    print("| run | words/s (epoch) | ratio | all runs (words/s) | fit s (with start-up) | syncs | MB moved | sync s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in best.items():
        print(f"| {name} | {rate(r):,.0f} | {rate(r) / single:.3f} | "
              f"{', '.join(f'{rate(x):,.0f}' for x in runs[name])} | {r['fit_seconds']:.2f} | {r['syncs']} | "
              f"{r['sync_bytes'] / 1e6:.1f} | {r['sync_seconds']:.3f} |", flush=True)
    return [r for found in runs.values() for r in found]


def quality_section(args) -> list[dict]:
    import numpy as np

    path = brown_text("train", 1)
    print(f"\n## Quality: {path.name}, SG-NS, 5 epochs, seeds {args.seeds}\n")
    print("| run | analogy accuracy | WordSim-353 Spearman | syncs/epoch | words/s |")
    print("|---|---|---|---|---|")
    cases = [("1 process x 1 thread", dict(replicas=0, sync_words=0))]
    cases += [(f"2 Ray workers x 1 thread, --sync-words {n:,}", dict(replicas=2, sync_words=n))
              for n in args.sync_words]
    cases += [(f"2 Ray workers x 1 thread, --sync-words {args.sync_words[0]:,}, --alpha {alpha}",
               dict(replicas=2, sync_words=args.sync_words[0], alpha=alpha)) for alpha in args.ray_alpha]
    results = []
    for label, case in cases:
        runs = [spawn(dict(file=str(path), epochs=5, seed=seed, threads=1, evaluate=True, **case))
                for seed in args.seeds]
        results += runs
        analogy, wordsim = [r["analogy"] for r in runs], [r["wordsim"] for r in runs]
        print(f"| {label} | {np.mean(analogy):.4f} ± {np.std(analogy):.4f} | {np.mean(wordsim):.4f} ± "
              f"{np.std(wordsim):.4f} | {runs[0]['syncs'] / 5:g} | "
              f"{np.mean([r['words'] / r['seconds'] for r in runs]):,.0f} |", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("speed", "quality"), default=None)
    parser.add_argument("--repeat", type=int, default=3, help="copies of Brown in the speed corpus (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per speed case; the fastest is kept")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--sync-words", nargs="+", type=int, default=[1_000_000, 100_000, 10_000_000],
                        help="--sync-words values (speed: the first; quality: each)")
    parser.add_argument("--ray-alpha", nargs="*", type=float, default=[],
                        help="quality: also the Ray runs at these learning rates (--alpha: the single-process "
                             "rate; each replica trains at K times it)")
    parser.add_argument("--json", help="also write every run's numbers to this JSON file")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(json.loads(args.run))))
        return
    results = []
    if args.only in (None, "speed"):
        results += speed_section(args)
    if args.only in (None, "quality"):
        results += quality_section(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
