"""Benchmark the corpus pipeline: Brown end to end beside gensim, a 100M-token file, a synthetic corpus.

1. Brown, lowercased, written once as a plain text file (one sentence a
   line).  lmkit reads, tokenizes, counts and encodes it into a fresh cache
   (``encode_corpus(..., min_count=5)``); gensim 4 runs ``build_vocab`` on the
   same file with ``LineSentence`` and ``min_count=5``.  Each runs in its own
   process; wall time and peak RSS are reported with the ratio.
2. The same file repeated until it holds >= 100M tokens, encoded by lmkit in
   a fresh process: tokens/s and peak RSS beside the size of the id array.

3. ``--synthetic N``: an N-token corpus of gzipped files from
   ``scripts/make_corpus.py`` (Zipf-Mandelbrot over 1M types), encoded with
   ``min_count=5`` by 1 and 2 worker processes (the whitespace fast path),
   by the HuggingFace tokenizer path (the pipeline before the fast path), and
   counted by gensim's ``build_vocab`` (``PathLineSentences``); with the phase
   times lmkit records (tokenize = read + decode + split + count + write type
   ids; merge; vocabulary; write ids).

Usage: python scripts/bench_corpus.py [--tokens 100_000_000] [--skip-large] [--skip-brown] [--synthetic N]
       [--workdir DIR]
Needs the Brown corpus (LMKIT_DATA) and gensim (pip install -e '.[bench]').
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    task, path, cache, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    started = time.perf_counter()
    if task.startswith("lmkit"):
        from lmkit.corpus import shards
        from lmkit.corpus.encoded import encode_corpus
        if task == "lmkit-hf":
            shards.is_plain_whitespace = lambda config: False
        corpus = encode_corpus(path, min_count=5, cache_dir=cache, workers=workers, verbose=False)
        result = {"tokens": corpus.n_tokens + corpus.n_dropped, "vocab": len(corpus.vocab),
                  "id_bytes": corpus.ids.nbytes, "phases": corpus.meta["seconds"]}
    else:
        from gensim.models import Word2Vec
        from gensim.models.word2vec import LineSentence, PathLineSentences
        from pathlib import Path
        model = Word2Vec(min_count=5, workers=1)
        model.build_vocab(PathLineSentences(path) if Path(path).is_dir() else LineSentence(path))
        result = {"tokens": int(model.corpus_total_words), "vocab": len(model.wv)}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))
""")



def run_child(task: str, path: Path, cache: Path, workers: int = 1) -> dict:
    """Run one measurement in a fresh interpreter (clean peak RSS) and return its JSON result."""
    output = subprocess.run([sys.executable, "-c", _CHILD, task, str(path), str(cache), str(workers)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_brown_lowercased(path: Path) -> int:
    from lmkit.corpus.datasets import BrownSource

    sentences = BrownSource().sentences()
    with open(path, "w", encoding="utf-8") as handle:
        for words in sentences:
            handle.write(" ".join(words).lower() + "\n")
    return sum(map(len, sentences))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=100_000_000, help="size of the large file in tokens")
    parser.add_argument("--skip-large", action="store_true", help="only the Brown comparison")
    parser.add_argument("--skip-brown", action="store_true", help="skip the Brown comparison")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="also measure an N-token synthetic corpus (scripts/make_corpus.py)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lmkit-bench-corpus-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.synthetic:
        synthetic(workdir, args.synthetic)
    if args.skip_brown:
        return

    brown = workdir / "brown.lower.txt"
    brown_tokens = write_brown_lowercased(brown)
    lmkit = run_child("lmkit", brown, workdir / "cache-brown")
    gensim = run_child("gensim", brown, workdir / "unused")
    print(f"Brown lowercased ({brown_tokens:,} tokens), min_count=5, one process each")
    print(f"{'':10s} {'seconds':>8s} {'vocab':>7s} {'peak RSS MB':>12s}")
    for name, result in (("lmkit", lmkit), ("gensim", gensim)):
        print(f"{name:10s} {result['seconds']:8.2f} {result['vocab']:7d} {result['peak_rss_mb']:12.0f}")
    print(f"speed ratio lmkit/gensim: {gensim['seconds'] / lmkit['seconds']:.2f}x "
          f"(lmkit also writes the id array; gensim only counts)")

    if args.skip_large:
        return
    large = workdir / "brown.lower.x.txt"
    copies = -(-args.tokens // brown_tokens)
    text = brown.read_bytes()
    with open(large, "wb") as handle:
        for _ in range(copies):
            handle.write(text)
    result = run_child("lmkit", large, workdir / "cache-large")
    id_mb = result["id_bytes"] / 2**20
    print(f"\nLarge file: Brown x{copies} = {result['tokens']:,} tokens ({large.stat().st_size / 2**20:.0f} MiB)")
    print(f"lmkit encode: {result['seconds']:.1f} s, {result['tokens'] / result['seconds'] / 1e6:.2f} M tokens/s, "
          f"peak RSS {result['peak_rss_mb']:.0f} MB (id array {id_mb:.0f} MB, "
          f"beyond it {result['peak_rss_mb'] - id_mb:.0f} MB)")
    large.unlink()


def synthetic(workdir: Path, tokens: int) -> None:
    """Part 3: the synthetic corpus, lmkit with 1 and 2 workers, its HF path, and gensim."""
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("make_corpus", Path(__file__).with_name("make_corpus.py"))
    make_corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_corpus)
    folder = workdir / f"synthetic-{tokens}"
    if not folder.is_dir():
        make_corpus.generate(folder, tokens, shards=8)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    print(f"Synthetic corpus: {tokens:,} tokens, 8 gzipped files ({size:.0f} MiB), min_count=5")
    print(f"{'':22s} {'seconds':>8s} {'M tok/s':>8s} {'vocab':>8s} {'peak RSS MB':>12s}  phases (s)")
    rows = [("lmkit, 1 process", "lmkit", 1), ("lmkit, 2 processes", "lmkit", 2),
            ("lmkit HF path, 1 proc", "lmkit-hf", 1), ("gensim build_vocab", "gensim", 1)]
    results = {}
    for label, task, workers in rows:
        cache = workdir / f"cache-{task}-{workers}"
        result = results[label] = run_child(task, folder, cache, workers)
        shutil.rmtree(cache, ignore_errors=True)
        rss = max(result["peak_rss_mb"], result["peak_rss_children_mb"])
        phases = ", ".join(f"{k} {v:.1f}" for k, v in result.get("phases", {}).items())
        print(f"{label:22s} {result['seconds']:8.1f} {result['tokens'] / result['seconds'] / 1e6:8.2f} "
              f"{result['vocab']:8d} {rss:12.0f}  {phases}")
    best = results["lmkit, 2 processes"]["seconds"]
    print(f"speed ratio lmkit (2 processes) / gensim: {results['gensim build_vocab']['seconds'] / best:.2f}x, "
          f"/ lmkit HF path: {results['lmkit HF path, 1 proc']['seconds'] / best:.2f}x")


if __name__ == "__main__":
    main()
