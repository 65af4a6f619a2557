"""A billion tokens in constant memory? Speed and memory of each phase, from 10M to 1B tokens.

For each corpus size, a synthetic corpus (:mod:`make_corpus`: Zipf-Mandelbrot
over 1M types, gzipped shards) is generated under ``--workdir`` (or reused when
a complete one of the same parameters is there), then each phase runs in a
fresh Python process, so that its peak memory is its own:

* ``encode``: :func:`lmkit.corpus.encoded.encode_corpus` into a fresh cache
  folder (``min_count=5``), with ``--encode-workers`` local processes;
* ``encode (ray)`` with ``--ray``: the same on a local Ray instance of
  ``--encode-workers`` CPUs (Ray's start-up time is reported apart);
* ``skip-gram``: one epoch of SG-NS (``--threads`` threads, size 100,
  min_count 5, sample 1e-3, negative 5) on the encoded corpus;
* ``skip-gram (ray)`` with ``--ray-train``: the same, data-parallel on Ray
  with 2 workers of 1 thread, syncing 10 times an epoch (1B tokens: every 50M words).

Memory is read from ``/proc`` (Linux): a sampling thread walks the phase
process and all its descendants (spawned encode processes; Ray's raylet,
object store and workers) every ``SAMPLE_SECONDS`` and keeps each one's
VmHWM (the kernel's own peak of resident memory, so no peak between two
samples is missed) and its peak RssAnon (resident memory not backed by a
file: what must fit in RAM; memory-mapped corpus files count in VmHWM but
the kernel can drop them).  The table gives, per phase: seconds, tokens/s,
the phase process's peak (VmHWM, and sampled RssAnon), the largest peak of
one child process, the sampled peak of the whole tree's RSS, and disk: the
corpus, and the cache folder at its largest during the phase and at the end.

Usage: python scripts/bench_scale.py --workdir /tmp/scale [--sizes 10M,100M,1B] [--ray] [--ray-train]
       [--phases encode,train] [--keep-cache]   (phases apart: each run stays short)
The workdir needs ~2.7 bytes a token for the corpus and ~10 bytes a token while encoding; never the repo.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

SAMPLE_SECONDS = 0.2                  # /proc is read this often: cheap (a few processes), fine enough for RSS sums
SUFFIXES = {"K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9}
W2V = dict(architecture="skipgram", loss="ns", vector_size=100, min_count=5, sample=1e-3, negative=5, epochs=1)
SYNCS_PER_EPOCH = 10  # data-parallel training at scale: syncs an epoch (data_parallel_options)
PHASE_CHOICES = ("encode", "train")  # after the corpus is generated (where missing)
COLUMNS = ("size", "phase", "seconds", "M tokens/s", "driver VmHWM MB", "driver anon peak MB",
           "largest child VmHWM MB", "processes", "tree RSS peak MB", "corpus MB", "cache MB (peak / end)", "notes")


def parse_size(text: str) -> int:
    """``"10M"`` -> 10_000_000 (K, M, B/G suffixes, or a plain integer)."""
    plain = text.strip().upper().replace("_", "")
    try:
        if plain and plain[-1] in SUFFIXES:
            return int(float(plain[:-1]) * SUFFIXES[plain[-1]])
        return int(plain)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: not a token count: {text!r} (e.g. 10M, 100M, 1B)") from None


def size_label(tokens: int) -> str:
    for suffix, factor in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if tokens >= factor and tokens % factor == 0:
            return f"{tokens // factor}{suffix}"
    return str(tokens)


# ----------------------------------------------------------------------------- memory and disk sampling

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon of a process in bytes (empty once it has exited)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon"):
                    values[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    return values


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from the parent pids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # the command may hold spaces and parentheses
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def folder_bytes(folder: Path) -> int:
    """Disk blocks used under ``folder`` (0 if absent)."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


class Sampler(threading.Thread):
    """Samples the process tree under ``root`` and the size of ``folder`` until stopped."""

    def __init__(self, root: int, folder: Path | None):
        super().__init__(daemon=True)
        self.root, self.folder = root, folder
        self.hwm: dict[int, int] = {}       # pid -> VmHWM (the kernel's peak), last read
        self.anon: dict[int, int] = {}      # pid -> largest RssAnon seen
        self.tree_peak = 0                  # largest sum of VmRSS over the tree at one sample
        self.disk_peak = 0
        self.halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.root):
            status = proc_status(pid)
            if status:
                self.hwm[pid] = max(self.hwm.get(pid, 0), status.get("VmHWM", 0))
                self.anon[pid] = max(self.anon.get(pid, 0), status.get("RssAnon", 0))
                total += status.get("VmRSS", 0)
        self.tree_peak = max(self.tree_peak, total)
        if self.folder is not None:
            self.disk_peak = max(self.disk_peak, folder_bytes(self.folder))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self.halt.set()
        self.join()


# ----------------------------------------------------------------------------- phases (each in its own process)

def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("corpus-*.txt*"))


def phase_generate(spec: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_corpus

    started = time.perf_counter()
    make_corpus.generate(Path(spec["corpus"]), spec["tokens"], shards=spec["shards"], seed=spec["seed"])
    return {"seconds": time.perf_counter() - started, "tokens": spec["tokens"]}


def phase_encode(spec: dict) -> dict:
    from lmkit.corpus.encoded import encode_corpus

    notes = ""
    started = time.perf_counter()
    if spec.get("cluster"):
        from lmkit.cluster import connect

        connect(spec["cluster"], spec["workers"])
        notes = f"ray start {time.perf_counter() - started:.1f} s (not counted)"
        started = time.perf_counter()
    corpus = encode_corpus(spec["corpus"], min_count=W2V["min_count"], cache_dir=spec["cache"],
                           workers=spec["workers"], cluster=spec.get("cluster"), verbose=False)
    seconds = time.perf_counter() - started
    phases = ", ".join(f"{k} {v:.1f}" for k, v in corpus.meta.get("seconds", {}).items())
    return {"seconds": seconds, "tokens": corpus.n_tokens + corpus.n_dropped, "vocab": len(corpus.vocab),
            "notes": "; ".join(filter(None, [notes, f"vocab {len(corpus.vocab):,}", phases]))}


def phase_train(spec: dict) -> dict:
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.config import Word2VecConfig
    from lmkit.word2vec.model import Word2Vec

    corpus = encode_corpus(spec["corpus"], min_count=W2V["min_count"], cache_dir=spec["cache"], verbose=False)
    options = {**W2V, "workers": spec["threads"], **spec.get("extra", {})}
    started = time.perf_counter()
    model = Word2Vec(Word2VecConfig(**options)).fit(corpus, verbose=False)
    seconds = time.perf_counter() - started
    words = sum(epoch.words for epoch in model.history)
    return {"seconds": seconds, "tokens": words, "notes": f"loss {model.losses[-1]:.3f}"}


PHASES = {"generate": phase_generate, "encode": phase_encode, "train": phase_train}


def own_peak() -> dict:
    """This process's VmHWM and RssAnon, in bytes."""
    return proc_status(os.getpid())


def run_phase(kind: str, spec: dict, folder: Path | None, timeout: float | None = None) -> dict:
    """Run phase ``kind`` in a fresh process while sampling it; its result with the memory and disk figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", kind, json.dumps(spec)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    sampler = Sampler(process.pid, folder)
    sampler.start()
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"phase {kind} failed (exit {process.returncode}); its error is above")
    result = json.loads(out.strip().splitlines()[-1])
    children = [pid for pid in sampler.hwm if pid != process.pid]
    result.update(
        driver_hwm=result.pop("own_hwm"),
        driver_anon=max(sampler.anon.get(process.pid, 0), result.pop("own_anon")),
        child_hwm=max((sampler.hwm[pid] for pid in children), default=0),
        processes=1 + len(children), tree_peak=sampler.tree_peak, disk_peak=sampler.disk_peak,
        disk_end=folder_bytes(folder) if folder is not None else 0)
    return result


# ----------------------------------------------------------------------------- the benchmark

@dataclasses.dataclass
class Row:
    size: int
    phase: str
    result: dict
    corpus_bytes: int

    def cells(self) -> list[str]:
        r, mb = self.result, lambda b: f"{b / 2**20:,.0f}"
        disk = f"{mb(r['disk_peak'])} / {mb(r['disk_end'])}" if r["disk_peak"] else ""
        return [size_label(self.size), self.phase, f"{r['seconds']:.1f}", f"{r['tokens'] / r['seconds'] / 1e6:.3g}",
                mb(r["driver_hwm"]), mb(r["driver_anon"]), mb(r["child_hwm"]) if r["child_hwm"] else "",
                str(r["processes"]), mb(r["tree_peak"]), mb(self.corpus_bytes), disk, r.get("notes", "")]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i < 2 or i == len(COLUMNS) - 1 else "---:"
                                                        for i in range(len(COLUMNS))) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def data_parallel_options(tokens: int) -> dict:
    """The Word2VecConfig options of 2 data-parallel Ray workers of 1 thread each, as many cores as the
    local run's threads, syncing ``SYNCS_PER_EPOCH`` times an epoch (at least every 1M words: the
    default).  A sync moves the whole model (2 x V x d x 4 bytes per worker and direction, 0.8 GB at
    V = 1M): at the default 1M words a 1B-token epoch would sync 500 times (docs/distributed.md)."""
    return {"cluster": "local", "replicas": 2, "workers": 1,
            "sync_words": max(1_000_000, tokens // (2 * SYNCS_PER_EPOCH))}


def ensure_corpus(workdir: Path, tokens: int, shards: int, seed: int, log) -> tuple[Path, dict | None]:
    """The corpus folder for ``tokens``; generated (the phase's result returned) unless a complete one is there."""
    folder = workdir / f"corpus-{size_label(tokens)}"
    marker = folder / "done.json"
    wanted = {"tokens": tokens, "shards": shards, "seed": seed}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        log(f"reusing {folder}")
        return folder, None
    shutil.rmtree(folder, ignore_errors=True)
    log(f"generating {tokens:,} tokens in {folder}")
    result = run_phase("generate", {"corpus": str(folder), **wanted}, None)
    marker.write_text(json.dumps(wanted))
    return folder, result


def bench(workdir: Path, sizes: list[int], *, ray: bool = False, ray_train: bool = False, threads: int = 2,
          encode_workers: int = 2, shards: int | None = None, seed: int = 0, keep_cache: bool = False,
          phases: tuple[str, ...] = PHASE_CHOICES, log=print) -> list[Row]:
    """Run the ``phases`` for every size (the corpus is generated first where missing); the table's rows.

    Without ``"encode"``, training reads the cache a run with ``keep_cache`` left (or encodes, untimed).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for tokens in sizes:
        n_shards = shards or max(2, min(64, tokens // 10_000_000 * 2 or 2))
        folder, generated = ensure_corpus(workdir, tokens, n_shards, seed, log)
        corpus_bytes = folder_bytes(folder)
        if generated is not None:
            rows.append(Row(tokens, f"generate ({n_shards} gz files)", generated, corpus_bytes))
        runs = [("local", None)] + ([("ray", "local")] if ray else [])
        for name, cluster in runs:
            cache = workdir / f"cache-{size_label(tokens)}-{name}"
            if "encode" in phases:
                shutil.rmtree(cache, ignore_errors=True)
                label = (f"encode ({encode_workers} processes)" if cluster is None
                         else f"encode (ray, {encode_workers} CPUs)")
                log(f"{size_label(tokens)}: {label}")
                spec = {"corpus": str(folder), "cache": str(cache), "workers": encode_workers, "cluster": cluster}
                rows.append(Row(tokens, label, run_phase("encode", spec, cache), corpus_bytes))
            if cluster is None and "train" in phases:
                log(f"{size_label(tokens)}: skip-gram")
                spec = {"corpus": str(folder), "cache": str(cache), "threads": threads}
                rows.append(Row(tokens, f"SG-NS 1 epoch ({threads} threads)", run_phase("train", spec, None),
                                corpus_bytes))
                if ray_train:
                    extra = data_parallel_options(tokens)
                    label = f"SG-NS 1 epoch (ray, 2 workers x 1 thread, --sync-words {extra['sync_words']:,})"
                    log(f"{size_label(tokens)}: {label}")
                    rows.append(Row(tokens, label, run_phase("train", {**spec, "extra": extra}, None), corpus_bytes))
            if not keep_cache:
                shutil.rmtree(cache, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="corpora and caches go here (never the repository)")
    parser.add_argument("--sizes", default="10M,100M,1B", help="token counts, comma-separated (default 10M,100M,1B)")
    parser.add_argument("--ray", action="store_true", help="also encode on a local Ray instance (lmkit[ray])")
    parser.add_argument("--ray-train", action="store_true",
                        help="also train data-parallel on Ray: 2 workers x 1 thread (lmkit[ray])")
    parser.add_argument("--threads", type=int, default=2, help="word2vec threads (default 2)")
    parser.add_argument("--encode-workers", type=int, default=2, help="encoding processes / Ray CPUs (default 2)")
    parser.add_argument("--shards", type=int, help="corpus files (default: 2 per 10M tokens, 2 to 64)")
    parser.add_argument("--keep-cache", action="store_true", help="keep the encoded corpora (default: remove)")
    parser.add_argument("--phases", default=",".join(PHASE_CHOICES),
                        help="which of encode,train to run after generating any missing corpus (default both; "
                             "'' only generates); train alone reads a --keep-cache run's cache")
    parser.add_argument("--phase", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        kind, spec = args.phase
        result = PHASES[kind](json.loads(spec))
        peak = own_peak()
        print(json.dumps({**result, "own_hwm": peak.get("VmHWM", 0), "own_anon": peak.get("RssAnon", 0)}))
        return 0
    if args.workdir is None:
        parser.error("--workdir is required (a folder outside the repository, e.g. /tmp/scale)")
    if Path(__file__).resolve().parents[1] in [args.workdir.resolve(), *args.workdir.resolve().parents]:
        parser.error(f"--workdir {args.workdir}: inside the repository; choose a folder outside it")
    try:
        sizes = [parse_size(part) for part in args.sizes.split(",") if part.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if not sizes or min(sizes) < 1000:
        parser.error(f"--sizes {args.sizes}: give token counts of at least 1000 (e.g. 10M,100M)")
    phases = tuple(part.strip() for part in args.phases.split(",") if part.strip())
    if not set(phases) <= set(PHASE_CHOICES):
        parser.error(f"--phases {args.phases}: choose among {','.join(PHASE_CHOICES)}")
    if args.threads < 1 or args.encode_workers < 1:
        parser.error("--threads and --encode-workers must be >= 1")
    log = lambda message: print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)  # noqa: E731
    rows = bench(args.workdir, sizes, ray=args.ray, ray_train=args.ray_train, threads=args.threads,
                 encode_workers=args.encode_workers, shards=args.shards, keep_cache=args.keep_cache,
                 phases=phases, log=log)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
