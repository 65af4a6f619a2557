"""Benchmark: what watching a run costs -- training speed with the monitor on and off, one process.

Two trainers, each run alternately without and with a :class:`lmkit.training.monitor.Monitor`
(``--rounds`` pairs, so drift in the machine's load hits both sides alike):

* the NPLM of the Brown reproduction's shape (n=5, h=200, m=60, no direct connections, exact
  softmax, the Brown vocabulary) on the first ``--nplm-tokens`` training tokens, one epoch, the
  monitor at its default ``every`` (or ``--nplm-every``), TensorBoard files included when
  tensorboardX is installed;
* word2vec skip-gram with negative sampling on Brown train, one epoch, ``--threads`` threads, the
  monitor on every chunk (its default), off / writing metrics.jsonl only / with TensorBoard files too.

Prints tokens (words) per second off and on, their ratio per round and the median, and the
monitor's own time per report (its hooks timed directly), which is the steadier figure on a
shared machine.  Run under the team's lock::

    flock /tmp/lmkit-bench.lock .venv/bin/python scripts/bench_monitor.py --threads 2
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from lmkit.training.monitor import NPLM_EVERY, Monitor


class TimedMonitor(Monitor):
    """A Monitor that adds up the seconds its per-step hooks take."""

    seconds = 0.0
    reports = 0

    def on_gradients(self, run, record):
        started = time.perf_counter()
        super().on_gradients(run, record)
        self.seconds += time.perf_counter() - started

    def on_step(self, run, record):
        started = time.perf_counter()
        super().on_step(run, record)
        self.seconds += time.perf_counter() - started
        self.reports += 1


def nplm_round(corpus, tokens: int, threads: int, every: int | None) -> tuple[float, TimedMonitor | None]:
    from lmkit.lm.nplm import NPLM, NPLMConfig

    config = NPLMConfig(context=4, hidden=200, features=60, direct=False, epochs=1, max_tokens=tokens,
                        threads=threads)
    callbacks, monitor = [], None
    if every is not None:
        monitor = TimedMonitor(tempfile.mkdtemp(prefix="lmkit-bench-monitor-"), every=every)
        callbacks.append(monitor)
    model = NPLM(config).fit(corpus, verbose=False, callbacks=callbacks)
    return model.history[0]["tokens_per_s"], monitor


def word2vec_round(corpus, threads: int, mode: str) -> tuple[float, TimedMonitor | None]:
    """One epoch of SG-NS with the monitor ``mode``: "off", "jsonl" (metrics.jsonl only) or "tb" (and TensorBoard)."""
    from lmkit.word2vec.model import Word2Vec

    monitor = None if mode == "off" else TimedMonitor(tempfile.mkdtemp(prefix="lmkit-bench-monitor-"), every=1,
                                                      tensorboard=mode == "tb")
    model = Word2Vec(architecture="skipgram", loss="ns", epochs=1, workers=threads).fit(
        corpus, verbose=False, callbacks=[monitor] if monitor else [])
    return model.history[0].words_per_second, monitor


def report(name: str, pairs: list[tuple[float, float]], monitors: list[TimedMonitor], unit: str) -> None:
    ratios = [on / off for off, on in pairs]
    for i, (off, on) in enumerate(pairs, 1):
        print(f"{name} round {i}: off {off:,.0f} {unit}/s, on {on:,.0f} {unit}/s, on/off {on / off:.3f}")
    seconds = sum(m.seconds for m in monitors)
    reports = sum(m.reports for m in monitors)
    print(f"{name}: median on/off {statistics.median(ratios):.3f}; the monitor's hooks: {reports} reports, "
          f"{1000 * seconds / max(reports, 1):.1f} ms per report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds per trainer (default 5)")
    parser.add_argument("--nplm-tokens", type=int, default=100_000, help="NPLM training tokens per run")
    parser.add_argument("--nplm-every", type=int, default=NPLM_EVERY, help="NPLM steps between reports")
    parser.add_argument("--only", choices=("nplm", "word2vec"), help="one trainer only")
    args = parser.parse_args()

    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab

    if args.only != "word2vec":
        full = encode_corpus("brown", min_count=4, unk="<unk>", eos="</s>", verbose=False)
        train = encode_with_vocab("brown:train", full.vocab, full.tokenizer, verbose=False)
        nplm_round(train, 2_000, args.threads, args.nplm_every)  # compile the kernels before timing
        pairs, monitors = [], []
        for _ in range(args.rounds):
            off, _ = nplm_round(train, args.nplm_tokens, args.threads, None)
            on, monitor = nplm_round(train, args.nplm_tokens, args.threads, args.nplm_every)
            pairs.append((off, on))
            monitors.append(monitor)
        steps = args.nplm_tokens / 256
        print(f"NPLM h=200, {args.nplm_tokens:,} tokens (~{steps:.0f} steps) per run, every {args.nplm_every} steps, "
              f"{args.threads} threads")
        report("NPLM", pairs, monitors, "tokens")
    if args.only != "nplm":
        corpus = encode_corpus("brown:train", min_count=5, verbose=False)
        word2vec_round(corpus, args.threads, "tb")  # compile
        speeds, monitors = {"off": [], "jsonl": [], "tb": []}, []
        for _ in range(args.rounds):
            for mode in speeds:
                speed, monitor = word2vec_round(corpus, args.threads, mode)
                speeds[mode].append(speed)
                monitors += [monitor] if monitor else []
        print(f"word2vec SG-NS, Brown train, 1 epoch, monitor every chunk, {args.threads} threads; "
              f"off / metrics.jsonl only / with TensorBoard")
        for mode in ("jsonl", "tb"):
            report(f"SG-NS {mode}", list(zip(speeds["off"], speeds[mode])),
                   [m for m in monitors if m.tensorboard == (mode == "tb")], "words")


if __name__ == "__main__":
    main()
