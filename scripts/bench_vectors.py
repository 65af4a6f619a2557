"""Benchmark the word2vec file formats and queries: lmkit beside gensim on the same files.

Random float32 vectors (default 100,000 x 300) are saved and loaded in the text
and binary formats by both libraries, each reading the other's files too
(values are checked equal to the bit), then ``most_similar`` is timed.

Usage: python scripts/bench_vectors.py [--words 100000] [--dim 300] [--queries 200]
Needs gensim (pip install -e '.[bench]').
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors as GensimKeyedVectors

from lmkit.vectors import KeyedVectors


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    vectors = (np.random.default_rng(0).standard_normal((args.words, args.dim)) * 0.1).astype(np.float32)
    keys = [f"word{i}" for i in range(args.words)]
    ours = KeyedVectors(keys, vectors)
    theirs = GensimKeyedVectors(args.dim)
    theirs.add_vectors(keys, vectors)
    folder = Path(tempfile.mkdtemp(prefix="lmkit-bench-vectors-"))
    rows = []
    for binary in (False, True):
        kind = "binary" if binary else "text"
        mine, other = folder / f"lmkit.{kind}", folder / f"gensim.{kind}"
        rows.append((f"save {kind}", timed(lambda: ours.save_word2vec_format(mine, binary=binary))[0],
                     timed(lambda: theirs.save_word2vec_format(str(other), binary=binary))[0]))
        for label, path in (("gensim-written", other), ("lmkit-written", mine)):
            t_ours, a = timed(lambda: KeyedVectors.load_word2vec_format(path, binary=binary))
            t_theirs, b = timed(lambda: GensimKeyedVectors.load_word2vec_format(str(path), binary=binary))
            assert np.array_equal(a.vectors.view(np.uint32), b.vectors.view(np.uint32))
            assert np.array_equal(a.vectors.view(np.uint32), vectors.view(np.uint32))
            rows.append((f"load {kind} ({label} file)", t_ours, t_theirs))
    ours.get_normed_vectors()
    theirs.fill_norms()
    n = args.queries
    rows.append((f"{n} x most_similar ({args.words} words)",
                 timed(lambda: [ours.most_similar(keys[i], topn=10) for i in range(n)])[0],
                 timed(lambda: [theirs.most_similar(keys[i], topn=10) for i in range(n)])[0]))
    print(f"{args.words} x {args.dim} float32 vectors\n{'task':40s} {'lmkit s':>9s} {'gensim s':>9s} "
          f"{'gensim/lmkit':>13s}")
    for name, a, b in rows:
        print(f"{name:40s} {a:9.2f} {b:9.2f} {b / a:12.1f}x")


if __name__ == "__main__":
    main()
