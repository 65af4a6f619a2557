"""Benchmark the corpus pipeline: Brown end to end beside gensim, and a 100M-token file.

1. Brown, lowercased, written once as a plain text file (one sentence a
   line).  lmkit reads, tokenizes, counts and encodes it into a fresh cache
   (``encode_corpus(..., min_count=5)``); gensim 4 runs ``build_vocab`` on the
   same file with ``LineSentence`` and ``min_count=5``.  Each runs in its own
   process; wall time and peak RSS are reported with the ratio.
2. The same file repeated until it holds >= 100M tokens, encoded by lmkit in
   a fresh process: tokens/s and peak RSS beside the size of the id array.

Usage: python scripts/bench_corpus.py [--tokens 100_000_000] [--skip-large] [--workdir DIR]
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
    task, path, cache = sys.argv[1], sys.argv[2], sys.argv[3]
    started = time.perf_counter()
    if task == "lmkit":
        from lmkit.corpus.encoded import encode_corpus
        corpus = encode_corpus(path, min_count=5, cache_dir=cache, verbose=False)
        result = {"tokens": corpus.n_tokens, "vocab": len(corpus.vocab), "id_bytes": corpus.ids.nbytes}
    else:
        from gensim.models import Word2Vec
        from gensim.models.word2vec import LineSentence
        model = Word2Vec(min_count=5, workers=1)
        model.build_vocab(LineSentence(path))
        result = {"tokens": int(model.corpus_total_words), "vocab": len(model.wv)}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
""")


def run_child(task: str, path: Path, cache: Path) -> dict:
    """Run one measurement in a fresh interpreter (clean peak RSS) and return its JSON result."""
    output = subprocess.run([sys.executable, "-c", _CHILD, task, str(path), str(cache)],
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
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lmkit-bench-corpus-"))
    workdir.mkdir(parents=True, exist_ok=True)

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


if __name__ == "__main__":
    main()
