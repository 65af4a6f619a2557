"""Benchmark lmkit's word2vec beside gensim: speed, peak memory and quality, same data and settings.

Speed: Brown lowercased and repeated 10 times (about 11.6M words; generated
once into the cache folder, never into the repository), vector_size 100,
window 5, negative 5, sample 1e-3, min_count 5, alpha 0.025 for skip-gram
and 0.05 for CBOW (the C tool's defaults, given to both), one epoch, for SG-NS,
SG-HS, CBOW-NS and CBOW-HS with 1 and 2 threads.  Each trainer runs in its
own subprocess; its peak RSS is the process's ``VmHWM`` (``ru_maxrss`` would
include the parent's, as Linux keeps it across exec).  Each run is repeated
(``--repeats``, interleaved) and the fastest kept: the machine is shared.

* words/s = corpus words processed / training seconds, counting every word
  of the corpus that survives min_count, also those then dropped by
  subsampling (the C tool's ``word_count``; for gensim the sum of its
  vocabulary counts per epoch, since its ``raw_word_count`` also counts the
  words below min_count).
  The effective rate (words kept after subsampling, which gensim logs) is
  printed too; both trainers use the same subsampling formula.
* Training seconds: gensim, the ``train()`` call after ``build_vocab``;
  lmkit, ``fit()`` on the already encoded corpus (weight initialization
  included).  Corpus reading/encoding is outside both.
* lmkit runs with ``update="exact"`` (the C tool's update) and, where it
  differs, ``update="batched"`` (the default: skip-gram shares negatives per
  window, CBOW-NS per group of consecutive targets); for CBOW-HS there is
  nothing to share and the two are the same code.
* Whole command (``--only command``): wall-clock seconds of ``lmkit train
  ...`` as a user runs it (fresh ``LMKIT_CACHE``, so the corpus is read and
  encoded; numba's cache warm, by an untimed command on a small file per
  combination first; ``--threads`` threads and as many encoding
  processes, ``--encode-workers``) against a Python process running gensim's
  ``Word2Vec(corpus_file=...)`` and ``save_word2vec_format``, both from
  start to the saved binary vectors, 1 and 5 epochs (``--command-epochs``).
* Thread scaling (``--only scaling``): lmkit's words/s with 2 threads over 1
  thread (its default update, the speed corpus), measured as ``--rounds``
  adjacent pairs of fresh processes (the pair's order alternating) and
  summarized by the median of the pairs' ratios: one run's words/s moves by
  20-40% from minute to minute on this shared machine, so a ratio of two runs
  minutes apart measures the moments as much as the threads.  The ratio is
  given twice: of ``fit()``'s words/s, and of the words/s inside the epoch
  (without the ~0.4 s a fresh process spends setting numba up and loading
  the kernel from its cache, which no thread count changes).  Beside each
  pair run two controls: two 1-thread runs of the same training in two
  processes at once (their summed epoch words/s over the pair's 1-thread
  run: what the machine gives this very work when nothing is shared), and a
  loop with nothing to share (:func:`control_ratio`).
* Start-up: in a fresh lmkit process (numba cache warm), the seconds from
  ``import lmkit`` to the end of a fit on a 2,000-word corpus.

Quality: brown:train lowercased, 5 epochs, same settings, the ``--combos``
(default all four), seeds 1-3 with one thread (``--quality-threads``); analogy
accuracy (questions-words.txt, restrict 30000, case-insensitive) and
WordSim-353 Spearman, both computed with ``lmkit.evaluate`` on each model's vectors.

Usage:
    flock /tmp/lmkit-bench.lock python scripts/bench_word2vec.py [--quick] [--only speed|command|quality|scaling]
        [--threads 1 2] [--combos sg-ns cbow-ns ...] [--command-epochs 1 5] [--repeat 10] [--rounds 5]
        [--quality-threads 1]
        [--json results.json]
Needs gensim (pip install -e '.[bench]') and LMKIT_DATA pointing at brown.zip etc.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

COMBOS = ("sg-ns", "sg-hs", "cbow-ns", "cbow-hs")
SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5)
ALPHA = {"sg": 0.025, "cbow": 0.05}  # the C tool's defaults, given to both (gensim's default is 0.025 for both)


# ----------------------------------------------------------------------------- data


def cache_folder() -> Path:
    from lmkit.corpus.encoded import default_cache_dir

    folder = default_cache_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def brown_text(split: str | None, repeat: int) -> Path:
    """Brown (or one split) lowercased, one sentence a line, repeated; written once into the cache."""
    from lmkit.corpus.datasets import resolve
    from lmkit.io import atomic_write

    name = f"brown{'-' + split if split else ''}-lower-x{repeat}.txt"
    path = cache_folder() / name
    if not path.is_file():
        source = resolve(f"brown:{split}" if split else "brown")
        lines = [line.lower() for block in source.line_blocks() for line in block]
        with atomic_write(path, "w", encoding="utf-8") as handle:
            for _ in range(repeat):
                handle.write("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------- one run (subprocess)


def run_one(spec: dict) -> dict:
    """Train as ``spec`` says in this process; return words, seconds, quality, peak RSS."""
    arch, loss = spec["combo"].split("-")
    result = dict(spec)
    if spec["trainer"] == "gensim":
        result.update(_run_gensim(spec, arch, loss))
    else:
        result.update(_run_lmkit(spec, arch, loss))
    result["max_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set size (``VmHWM``), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _run_gensim(spec: dict, arch: str, loss: str) -> dict:
    import numpy as np
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence

    from lmkit.vectors import KeyedVectors

    options = dict(vector_size=SETTINGS["vector_size"], window=SETTINGS["window"], min_count=SETTINGS["min_count"],
                   sample=SETTINGS["sample"], sg=int(arch == "sg"), hs=int(loss == "hs"),
                   negative=0 if loss == "hs" else SETTINGS["negative"], alpha=ALPHA[arch], workers=spec["threads"],
                   epochs=spec["epochs"], seed=spec["seed"])
    model = GensimWord2Vec(**options)
    if spec["gensim_input"] == "corpus_file":
        model.build_vocab(corpus_file=spec["file"])
        started = time.perf_counter()
        effective, raw = model.train(corpus_file=spec["file"], total_examples=model.corpus_count,
                                     total_words=model.corpus_total_words, epochs=spec["epochs"])
    else:
        sentences = LineSentence(spec["file"])
        model.build_vocab(sentences)
        started = time.perf_counter()
        effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=spec["epochs"])
    seconds = time.perf_counter() - started
    in_vocabulary = sum(int(model.wv.get_vecattr(word, "count")) for word in model.wv.index_to_key)
    out = {"seconds": seconds, "words": in_vocabulary * spec["epochs"], "effective_words": int(effective),
           "gensim_raw_words": int(raw)}
    if spec.get("evaluate"):
        out.update(quality_scores(KeyedVectors(list(model.wv.index_to_key), np.asarray(model.wv.vectors))))
    return out


def _run_lmkit(spec: dict, arch: str, loss: str) -> dict:
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.model import Word2Vec

    corpus = encode_corpus(spec["file"], min_count=SETTINGS["min_count"], verbose=False)
    model = Word2Vec(architecture="skipgram" if arch == "sg" else "cbow", loss=loss, update=spec["update"],
                     workers=spec["threads"], epochs=spec["epochs"], seed=spec["seed"], alpha=ALPHA[arch], **SETTINGS)
    started = time.perf_counter()
    model.fit(corpus, verbose=False)
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "words": sum(h.words for h in model.history),
           "effective_words": sum(h.effective_words for h in model.history),
           "epoch_seconds": sum(h.seconds for h in model.history)}
    if spec.get("evaluate"):
        out.update(quality_scores(model.wv))
    return out


def quality_scores(kv) -> dict:
    from lmkit.corpus.datasets import find_dataset_file
    from lmkit.evaluate import evaluate_word_analogies, evaluate_word_pairs

    analogies = evaluate_word_analogies(kv, find_dataset_file("questions-words"), restrict_vocab=30000,
                                        case_insensitive=True)
    pairs = evaluate_word_pairs(kv, find_dataset_file("wordsim353"))
    return {"analogy": analogies.accuracy, "analogy_coverage": analogies.coverage, "wordsim": pairs.spearman}


def startup_seconds() -> float:
    """Seconds from a fresh interpreter's ``import lmkit`` to the end of a tiny fit (numba cache warm)."""
    code = ("import time; t = time.perf_counter()\n"
            "import tempfile, pathlib, lmkit\n"
            "p = pathlib.Path(tempfile.mkdtemp()) / 'c.txt'\n"
            "p.write_text('\\n'.join(' '.join(f'w{(i * 7 + j) % 50}' for j in range(20)) for i in range(100)))\n"
            "lmkit.Word2Vec(min_count=1, epochs=1).fit(p, verbose=False)\n"
            "print(time.perf_counter() - t)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm the cache
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def spawn(spec: dict) -> dict:
    """Run ``spec`` in a fresh interpreter (its own peak RSS) and parse its JSON line."""
    return spawn_together([spec])[0]


def spawn_together(specs: list[dict]) -> list[dict]:
    """Run each of ``specs`` in a fresh interpreter, all at the same time; their results in order."""
    processes = [subprocess.Popen([sys.executable, __file__, "--run", json.dumps(spec)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for spec in specs]
    results = []
    try:
        for spec, process in zip(specs, processes):
            stdout, stderr = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"run {spec} failed:\n{stderr[-3000:]}")
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:   # a failed run stops the others
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def interleaved_runs(specs: dict[str, dict], repeats: int, run=spawn) -> dict[str, list[dict]]:
    """``{name: [result of run(spec) for each repeat]}``: every spec run ``repeats`` times, taking turns, so
    that the machine's load spikes hit all alike (``run``: a fresh interpreter per call)."""
    runs = {name: [] for name in specs}
    for _ in range(repeats):
        for name, spec in specs.items():
            runs[name].append(run(spec))
    return runs


def words_per_second(result: dict) -> float:
    return result["words"] / result["seconds"]


def epoch_words_per_second(result: dict) -> float:
    """lmkit's words/s inside its epochs: without what ``fit()`` does once in a fresh process (numba's own
    set-up and loading the kernel from its cache, ~0.4 s; building the tables), which no thread count
    changes."""
    return result["words"] / result["epoch_seconds"]


# ----------------------------------------------------------------------------- tables


def timed_command(command: list[str], env: dict | None = None) -> float:
    """Wall-clock seconds of ``command`` run to completion (raises on failure, with its stderr)."""
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{process.stderr[-3000:]}")
    return seconds


def gensim_command(combo: str, path: Path, output: Path, threads: int, epochs: int) -> list[str]:
    """A Python process training gensim from the text file to saved binary vectors."""
    arch, loss = combo.split("-")
    options = dict(vector_size=SETTINGS["vector_size"], window=SETTINGS["window"], min_count=SETTINGS["min_count"],
                   sample=SETTINGS["sample"], sg=int(arch == "sg"), hs=int(loss == "hs"),
                   negative=0 if loss == "hs" else SETTINGS["negative"], alpha=ALPHA[arch], workers=threads,
                   epochs=epochs, seed=1)
    code = ("from gensim.models import Word2Vec\n"
            f"model = Word2Vec(corpus_file={str(path)!r}, **{options!r})\n"
            f"model.wv.save_word2vec_format({str(output)!r}, binary=True)\n")
    return [sys.executable, "-c", code]


def lmkit_command(combo: str, path: Path, output: Path, threads: int, epochs: int) -> list[str]:
    """``lmkit train`` from the text file to saved binary vectors, the benchmark's settings as flags."""
    arch, loss = combo.split("-")
    return [sys.executable, "-m", "lmkit", "train", "skipgram" if arch == "sg" else "cbow", "--input", str(path),
            "--output", str(output), "--binary", "--quiet", "--loss", loss, "--size", str(SETTINGS["vector_size"]),
            "--window", str(SETTINGS["window"]), "--min-count", str(SETTINGS["min_count"]),
            "--sample", str(SETTINGS["sample"]), "--negative", str(SETTINGS["negative"]), "--alpha", str(ALPHA[arch]),
            "--epochs", str(epochs), "--threads", str(threads), "--encode-workers", str(threads)]


def command_section(args) -> list[dict]:
    """Whole commands, text file to saved vectors, each side in its own process; the fastest of the repeats."""
    import shutil
    import tempfile

    path = brown_text(None, args.repeat)
    threads = max(args.threads)
    print(f"\n## Whole command: {path.name} to binary vectors, {threads} threads, fresh lmkit cache each run\n")
    print("| combo | epochs | gensim s | lmkit s | ratio (gensim s / lmkit s) |")
    print("|---|---|---:|---:|---:|")
    results = []
    scratch = Path(tempfile.mkdtemp(prefix="lmkit-command-"))
    try:
        warmup_text = scratch / "warmup.txt"   # Brown's first lines: enough words for every combination
        with open(path, encoding="utf-8") as source:
            warmup_text.write_text("".join(line for _, line in zip(range(5000), source)), encoding="utf-8")
        for combo in args.combos:
            # untimed: fills numba's cache with this combination's kernel if it lacks it (a kernel file edited
            # since the last run), so the timed commands find it warm, as the protocol says
            timed_command(lmkit_command(combo, warmup_text, scratch / "warmup.bin", threads, 1),
                          env={**os.environ, "LMKIT_CACHE": str(scratch / "warmup-cache")})
            for epochs in args.command_epochs:
                seconds = {"gensim": [], "lmkit": []}
                for _ in range(args.repeats):                  # interleaved, so load spikes hit both
                    seconds["gensim"].append(timed_command(
                        gensim_command(combo, path, scratch / "gensim.bin", threads, epochs)))
                    cache = scratch / "cache"
                    shutil.rmtree(cache, ignore_errors=True)
                    env = {**os.environ, "LMKIT_CACHE": str(cache)}
                    seconds["lmkit"].append(timed_command(
                        lmkit_command(combo, path, scratch / "lmkit.bin", threads, epochs), env=env))
                best = {name: min(found) for name, found in seconds.items()}
                results.append(dict(combo=combo, epochs=epochs, threads=threads, seconds=seconds))
                print(f"| {combo} | {epochs} | {best['gensim']:.1f} | {best['lmkit']:.1f} | "
                      f"**{best['gensim'] / best['lmkit']:.2f}x** |", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def speed_section(args) -> list[dict]:
    path = brown_text(None, args.repeat)
    from lmkit.corpus.encoded import encode_corpus

    encode_corpus(path, min_count=SETTINGS["min_count"], verbose=False)     # encode once, outside the timing
    results = []
    print(f"\n## Speed: {path.name}, 1 epoch, {SETTINGS}\n")
    print("| combo | threads | gensim words/s | lmkit exact | ratio | lmkit batched | ratio | "
          "gensim RSS MB | lmkit RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for combo in args.combos:
        for threads in args.threads:
            base = dict(combo=combo, threads=threads, file=str(path), epochs=1, seed=1,
                        gensim_input=args.gensim_input)
            specs = {"gensim": {**base, "trainer": "gensim"}, "exact": {**base, "trainer": "lmkit", "update": "exact"}}
            if combo != "cbow-hs":
                specs["batched"] = {**base, "trainer": "lmkit", "update": "batched"}
            runs = interleaved_runs(specs, args.repeats)
            rate = words_per_second
            best = {name: max(found, key=rate) for name, found in runs.items()}
            for name, found in runs.items():
                best[name]["all_words_per_second"] = [rate(r) for r in found]
            gensim, exact, batched = best["gensim"], best["exact"], best.get("batched")
            results += list(best.values())
            cells = [combo, str(threads), f"{rate(gensim):,.0f}", f"{rate(exact):,.0f}",
                     f"{rate(exact) / rate(gensim):.2f}x"]
            cells += ([f"{rate(batched):,.0f}", f"{rate(batched) / rate(gensim):.2f}x"] if batched else ["(= exact)", ""])
            rss = max(r["max_rss_mb"] for r in (exact, batched) if r is not None)
            cells += [f"{gensim['max_rss_mb']:.0f}", f"{rss:.0f}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    print("\nEffective words/s (after subsampling):")
    for r in results:
        print(f"  {r['trainer']:6s} {r.get('update', ''):7s} {r['combo']:8s} threads={r['threads']}: "
              f"{r['effective_words'] / r['seconds']:,.0f} ({r['effective_words'] / r['words']:.3f} of words kept)")
    return results


@functools.cache
def control_kernel():
    """The control's loop (:func:`control_ratio`), compiled once per process: the SGNS row update (dot
    product, two axpys over float32[100] rows) for each pair ``(input_rows[s], output_rows[s])``."""
    import numba
    import numpy as np

    @numba.njit(nogil=True, fastmath=True)
    def update_rows(syn0, syn1, input_rows, output_rows):
        for s in range(input_rows.shape[0]):
            a, b = syn0[input_rows[s]], syn1[output_rows[s]]
            f = np.float32(0.0)
            for k in range(100):
                f += a[k] * b[k]
            g = np.float32(0.001) * (np.float32(1.0) - np.float32(1.0) / (np.float32(1.0) + np.exp(-f)))
            for k in range(100):
                old = a[k]
                a[k] += g * b[k]
                b[k] += g * old

    return update_rows


def control_ratio(pairs: int = 4_000_000) -> float:
    """2 threads over 1 thread of a loop with nothing to share: :func:`control_kernel` on matrices private
    to each thread and small enough for its own L2 cache (2 x 500 rows, 0.4 MB), random rows.  No memory,
    lock or cache line is shared, so any ratio below 2 is the machine's (other tenants of the host's
    cores), not the code's."""
    import threading

    import numpy as np

    update_rows = control_kernel()

    def rate(threads: int) -> float:
        rng = np.random.default_rng(threads)
        work = [(rng.random((500, 100), dtype=np.float32) / 100, np.zeros((500, 100), np.float32),
                 rng.integers(0, 500, pairs).astype(np.int32), rng.integers(0, 500, pairs).astype(np.int32))
                for _ in range(threads)]
        update_rows(*(array[:1] for array in work[0]))  # compiled before the clock starts
        runners = [threading.Thread(target=update_rows, args=arrays) for arrays in work]
        started = time.perf_counter()
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
        return threads * pairs / (time.perf_counter() - started)

    one = rate(1)
    return rate(2) / one


def scaling_section(args) -> list[dict]:
    """2 threads over 1 for each combo: ``args.rounds`` adjacent pairs of runs, their ratios and the median,
    in ``fit()`` words/s and in epoch words/s; and two controls (module docstring)."""
    import statistics

    path = brown_text(None, args.repeat)
    from lmkit.corpus.encoded import encode_corpus

    encode_corpus(path, min_count=SETTINGS["min_count"], verbose=False)     # encode once, outside the timing
    print(f"\n## Thread scaling: lmkit 2 threads / 1 thread, {path.name}, 1 epoch, default update, "
          f"{args.rounds} adjacent pairs\n")
    print("| combo | 1 thread words/s (median) | 2 threads (median) | ratio of each pair | median ratio | "
          "in epochs: each pair's | median | two 1-thread processes at once: median | loop control: median |")
    print("|---|---:|---:|---|---:|---|---:|---:|---:|")
    results = []
    for combo in args.combos:
        runs, together, controls = {1: [], 2: []}, [], []
        spec = dict(combo=combo, file=str(path), epochs=1, seed=1, trainer="lmkit", update="batched")
        spawn(dict(spec, threads=2))   # untimed: compiles the kernel if numba's cache lacks it (a changed kernel)
        for round_ in range(args.rounds):
            for threads in ((1, 2) if round_ % 2 == 0 else (2, 1)):   # neither side always runs first
                runs[threads].append(spawn(dict(spec, threads=threads)))
            pair = spawn_together([dict(spec, threads=1), dict(spec, threads=1)])
            together.append(sum(map(epoch_words_per_second, pair)) / epoch_words_per_second(runs[1][-1]))
            controls.append(control_ratio())
        ratios = [words_per_second(two) / words_per_second(one) for one, two in zip(runs[1], runs[2])]
        epoch_ratios = [epoch_words_per_second(two) / epoch_words_per_second(one) for one, two in zip(runs[1], runs[2])]
        results.append(dict(combo=combo, runs=runs, ratios=ratios, epoch_ratios=epoch_ratios,
                            together_ratios=together, control_ratios=controls))
        print(f"| {combo} | {statistics.median(map(words_per_second, runs[1])):,.0f} | "
              f"{statistics.median(map(words_per_second, runs[2])):,.0f} | "
              f"{' '.join(f'{r:.2f}' for r in ratios)} | **{statistics.median(ratios):.2f}x** | "
              f"{' '.join(f'{r:.2f}' for r in epoch_ratios)} | **{statistics.median(epoch_ratios):.2f}x** | "
              f"{statistics.median(together):.2f}x | {statistics.median(controls):.2f}x |", flush=True)
    return results


def quality_section(args) -> list[dict]:
    import numpy as np

    path = brown_text("train", 1)
    threads = args.quality_threads
    print(f"\n## Quality: {path.name}, 5 epochs, seeds {args.seeds}, {threads} thread{'s' * (threads > 1)}\n")
    print("| combo | trainer | analogy accuracy | WordSim-353 Spearman | analogy coverage |")
    print("|---|---|---|---|---|")
    results = []
    for combo in args.combos:
        trainers = [("gensim", None), ("lmkit", "exact")]
        if combo != "cbow-hs":                             # CBOW-HS: nothing to share, batched is exact
            trainers.append(("lmkit", "batched"))
        for trainer, update in trainers:
            runs = [spawn(dict(combo=combo, threads=threads, file=str(path), epochs=5, seed=seed, trainer=trainer,
                               update=update, evaluate=True, gensim_input=args.gensim_input))
                    for seed in args.seeds]
            results += runs
            label = trainer if update is None else f"{trainer} {update}"
            analogy = [r["analogy"] for r in runs]
            wordsim = [r["wordsim"] for r in runs]
            print(f"| {combo} | {label} | {np.mean(analogy):.4f} ± {np.std(analogy):.4f} | "
                  f"{np.mean(wordsim):.4f} ± {np.std(wordsim):.4f} | {runs[0]['analogy_coverage']:.3f} |", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="Brown x2, SG-NS and CBOW-NS only, one seed: a few minutes")
    parser.add_argument("--only", choices=("speed", "command", "quality", "scaling"), default=None,
                        help="one section (default: speed, command and quality)")
    parser.add_argument("--combos", nargs="+", choices=COMBOS, default=list(COMBOS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=10, help="copies of Brown in the speed corpus (default 10)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--repeats", type=int, default=2, help="runs per speed cell; the fastest is kept (default 2)")
    parser.add_argument("--gensim-input", choices=("corpus_file", "linesentence"), default="corpus_file",
                        help="gensim's input mode (default corpus_file, its fastest, multi-threaded reader)")
    parser.add_argument("--command-epochs", nargs="+", type=int, default=[1, 5],
                        help="epochs of the whole-command runs (default 1 5)")
    parser.add_argument("--quality-threads", type=int, default=1,
                        help="threads of every quality run (default 1; 2 shows what Hogwild and private rows cost)")
    parser.add_argument("--rounds", type=int, default=5, help="pairs of runs per combo in --only scaling (default 5)")
    parser.add_argument("--json", help="also write every run's numbers to this JSON file")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(json.loads(args.run))))
        return
    if args.quick:
        args.repeat, args.seeds, args.repeats = 2, [1], 1
        args.combos = [c for c in args.combos if c.endswith("ns")]
    import gensim
    import numba

    import lmkit

    print(f"lmkit {lmkit.__version__} (numba {numba.__version__}), gensim {gensim.__version__}, "
          f"{os.cpu_count()} CPUs; gensim input: {args.gensim_input}")
    results = {}
    if args.only in (None, "speed"):
        results["startup_seconds"] = startup_seconds()
        print(f"\nStart-up (fresh process, numba cache warm, import + tiny fit): {results['startup_seconds']:.2f} s")
        results["speed"] = speed_section(args)
    if args.only in (None, "command"):
        results["command"] = command_section(args)
    if args.only in (None, "quality"):
        results["quality"] = quality_section(args)
    if args.only == "scaling":
        results["scaling"] = scaling_section(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
