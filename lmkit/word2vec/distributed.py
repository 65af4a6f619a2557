"""Data-parallel word2vec on Ray: K model replicas, each on its own share of the sentences, averaged often.

Model averaging (iterative parameter mixing, McDonald et al. 2010; Spark
MLlib's Word2Vec averages once per iteration): the corpus's sentences are cut
into K contiguous shares of about equal tokens
(:func:`lmkit.corpus.chunks.split_sentences`); replica ``k`` is a Ray actor
(:class:`Replica`) that trains on share ``k`` with the ordinary kernels and
``threads`` Hogwild threads (:func:`lmkit.word2vec.training.train_chunks`).
Every ``sync_words`` raw words per replica (a *round*) the driver
(:class:`ReplicaTrainer`) fetches every replica's ``syn0`` and output weights,
sets them all to their mean and goes on.  The weights travel as numpy arrays
through Ray's object store (returned by the actors, one ``ray.put`` of the
mean, zero-copy reads on the same machine): ``2 x V x d x 4`` bytes each way
per replica and sync for skip-gram/CBOW with one loss (docs/distributed.md).

The learning-rate schedule stays global: a replica's kernel reads the rate
from the words in its ``progress`` rows, and a last *base* row holds, after
each sync, the words every replica had done then minus its own, so the rate
follows the total words of all replicas (exact at each sync, plus its own since).
Each replica trains at K times the schedule's rate (the linear scaling rule of
data-parallel SGD): averaging scales every replica's change by 1/K, so
without it K replicas learn as one process at ``alpha / K`` (measured: 0.04-0.07
less WordSim-353 Spearman on Brown, BENCHMARKS.md "word2vec on Ray").  Summing
the changes instead keeps rare words' updates whole too, but overshoots the
rows that every replica moves most of the way to the same place in a round
(frequent words: their sum goes nearly twice as far), and measured worse.

Rounds end at chunk boundaries fixed by token counts, never by timing, and
each replica's threads start from ``seed`` streams ``k x threads + t``: with
one thread per replica, a fixed seed gives the same model every run, and one
replica gives the single-process model bit for bit.  A replica that dies (or
does not answer in ``timeout_s``) is restarted from the last averaged
weights, its position and random state at that sync, and its calls since then
replayed, so its share since the sync is trained again (the same model, with
one thread per replica); after ``max_restarts`` deaths the run stops with
:class:`WorkerFailedError`.  The driver's weight arrays hold the last average
throughout, so no model is lost.

Ray is an optional extra (``pip install 'lmkit[ray]'``), imported inside functions.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lmkit._extras import require
from lmkit.cluster import WorkerFailedError, connect
from lmkit.corpus.chunks import TokenReader, longest_sentence, sentence_ranges, split_sentences
from lmkit.training.callbacks import Callbacks, Run
from lmkit.word2vec import kernels
from lmkit.word2vec.kernels import ROW_WIDTH, STATS_EFFECTIVE, STATS_EXAMPLES, STATS_LOSS, STATS_RAW
from lmkit.word2vec.training import (CHUNK_TOKENS, Arrays, EpochStats, Objective, Pass, Schedule, Steps,
                                     TrainingDivergedError, Worker, compile_kernel, negative_tables, private_array,
                                     scheduled_rate, train_chunks)

log = logging.getLogger(__name__)

ACTOR_PREFIX = "lmkit-word2vec-"  # the Ray actors' names start so (ray.util.list_named_actors finds them)
ROUND_TIMEOUT_S = 600.0  # a replica silent this long is hung: no round of sync_words words (or compiling) takes it


class CorpusFile(NamedTuple):
    """Where a replica finds the int32 ids: a file every node can open (a shared filesystem on a cluster)."""

    path: str
    offset: int   # bytes before token 0 (the .npy header)
    length: int   # tokens


@dataclass
class SyncCost:
    """What averaging the replicas cost: how many times, the weight bytes moved (fetched from every
    replica plus sent to every replica) and the driver's seconds from the first fetch to the last ack."""

    syncs: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def add(self, other: "SyncCost") -> None:
        self.syncs += other.syncs
        self.bytes += other.bytes
        self.seconds += other.seconds


class Replica:
    """One model replica and its share of the corpus: run as a Ray actor, or called directly.

    ``corpus``: the ids as a :class:`CorpusFile` (memory-mapped here) or an
    int32 array; ``offsets: int64[n + 1]`` the share's sentence offsets (token
    positions in the whole corpus); ``shapes``: the weight matrices' shapes
    (filled by :meth:`set_weights`); ``states: uint64[threads]`` the threads'
    RNG states.  The share is cut into rounds of at most ``sync_words`` tokens
    (whole sentences), each into chunks of at most CHUNK_TOKENS for the threads.
    """

    def __init__(self, corpus, offsets: np.ndarray, shapes: list[tuple[int, int]], tables: kernels.Tables,
                 objective: Objective, schedule: Schedule, states: np.ndarray, sync_words: int):
        if isinstance(corpus, CorpusFile):
            if not os.path.isfile(corpus.path):
                raise FileNotFoundError(f"{corpus.path}: the encoded corpus is not on this node "
                                        f"({os.uname().nodename}); on a cluster its cache folder must be on a "
                                        f"shared filesystem")
            corpus = np.memmap(corpus.path, dtype=np.int32, mode="r", offset=corpus.offset, shape=(corpus.length,))
        else:  # read-only from the object store: a copy, as the kernel is compiled for writable arrays
            corpus = np.array(corpus, dtype=np.int32)
        tables = kernels.Tables(*(np.array(table) for table in tables))  # (the same; the tables are O(V))
        tables = negative_tables(tables, objective, len(states))
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        self.objective, self.schedule, self.sync_words = objective, schedule, int(sync_words)
        weights = kernels.Weights(*(np.zeros(shape, np.float32) for shape in shapes))
        self.arrays = Arrays(weights, tables)
        max_sentence = max(longest_sentence(self.offsets), 1)
        self.threads = len(states)
        self.workers = [Worker(t, np.uint64(s), self.arrays, objective, max_sentence, self.threads)
                        for t, s in enumerate(states)]
        self.rounds = [[(first + a, first + b) for a, b in sentence_ranges(self.offsets[first:end + 1], CHUNK_TOKENS)]
                       for first, end in sentence_ranges(self.offsets, self.sync_words)]
        capacity = max((int(self.offsets[e] - self.offsets[f]) for chunks in self.rounds for f, e in chunks),
                       default=1)
        self.readers = [TokenReader(corpus, capacity) for _ in self.workers]
        self.progress = private_array((self.threads + 1, ROW_WIDTH), np.int64)  # + the base row (module docstring)
        self.position = 0  # the next round of this epoch
        compile_kernel(self.workers[0], self.arrays, self.offsets, objective, schedule, self.progress)

    def pid(self) -> int:
        """This process's id (a test kills it to check the restarts)."""
        return os.getpid()

    def own_words(self) -> int:
        return int(self.progress[:self.threads, kernels.PROGRESS_WORDS].sum())

    def set_weights(self, weights: tuple[np.ndarray, ...], words_done: int) -> None:
        """Adopt the averaged ``weights`` (float32 matrices, read-only from the object store) and the
        ``words_done`` by every replica so far, so the schedule continues from the global total."""
        for mine, average in zip(self.arrays.weights, weights):
            np.copyto(mine, average)
        self.progress[self.threads, kernels.PROGRESS_WORDS] = int(words_done) - self.own_words()

    def restore(self, position: int, states: np.ndarray) -> None:
        """Go back to round ``position`` of the epoch with the threads' RNG ``states`` (a restart)."""
        self.position = int(position)
        for worker, state in zip(self.workers, states):
            worker.rng[0] = state

    def begin_epoch(self) -> None:
        self.position = 0

    def train(self, epoch: int) -> dict:
        """One round: the share's next ``sync_words`` tokens (fewer at its end).

        Returns the round's summed ``loss``, ``examples``, raw ``words``,
        ``effective_words``, ``seconds``, ``lr_start`` (the rate the kernel
        computed for the round's first sentence) and ``finished`` (the share is done).
        """
        started = time.perf_counter()
        chunks = self.rounds[self.position] if self.position < len(self.rounds) else []
        self.position += 1
        lr_start = scheduled_rate(self.schedule, float(self.progress[:, kernels.PROGRESS_WORDS].sum()))
        stats = private_array((self.threads, ROW_WIDTH), np.float64)
        job = Pass(self.arrays, self.readers, self.offsets, self.objective, self.schedule, self.progress, stats, epoch)
        train_chunks(self.workers, chunks, job, lambda loss, examples, words: None)
        return {"loss": float(stats[:, STATS_LOSS].sum()), "examples": float(stats[:, STATS_EXAMPLES].sum()),
                "words": int(stats[:, STATS_RAW].sum()), "effective_words": int(stats[:, STATS_EFFECTIVE].sum()),
                "seconds": time.perf_counter() - started, "lr_start": lr_start,
                "finished": self.position >= len(self.rounds)}

    def replica(self) -> tuple[tuple[np.ndarray, ...], np.ndarray, int]:
        """``(weights, states, position)``: the weight matrices (into the object store as arrays), the
        threads' RNG states (uint64[threads]) and the next round: all a restart needs."""
        return (tuple(self.arrays.weights), np.array([w.rng[0] for w in self.workers], dtype=np.uint64),
                self.position)


class ReplicaTrainer:
    """The driver: K :class:`Replica` actors, their rounds and syncs, restarts of dead ones.

    ``arrays``: the model's weights (float32 matrices, which always hold the
    last average) and tables; ``ids``: int32[n_tokens] (an ``np.memmap`` is
    opened by path in the actors, anything else shipped through the object
    store); ``offsets``: int64[n_sentences + 1]; ``states``: ``replicas x
    threads`` RNG states.  Step by step: :meth:`begin_epoch`, then
    :meth:`train_round` and :meth:`sync` until :attr:`epoch_done`;
    :meth:`replica_weights` fetches the replicas (e.g. before a sync), :meth:`close` ends the actors.
    """

    def __init__(self, arrays: Arrays, ids: np.ndarray, offsets: np.ndarray, objective: Objective,
                 schedule: Schedule, states: list[np.uint64], *, replicas: int, threads: int, sync_words: int,
                 cluster: str = "local", max_restarts: int = 3, timeout_s: float = ROUND_TIMEOUT_S):
        if len(states) != replicas * threads:
            raise ValueError(f"states: need {replicas * threads} RNG states (replicas x threads), got {len(states)}")
        connect(cluster, replicas * threads)
        self.ray = ray = require("ray", "ray", "training word2vec on Ray")
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < replicas * threads:
            raise ValueError(f"replicas={replicas} x workers={threads} (threads each) needs {replicas * threads} "
                             f"CPUs; the Ray cluster has {cpus:g}")
        self.arrays = arrays
        replica_schedule = dataclasses.replace(schedule, alpha=schedule.alpha * replicas,
                                               min_alpha=schedule.min_alpha * replicas)  # K x the rate
        self.replicas, self.threads, self.sync_words = replicas, threads, sync_words
        self.max_restarts, self.timeout_s = max_restarts, timeout_s
        offsets = np.asarray(offsets, dtype=np.int64)
        if isinstance(ids, np.memmap) and ids.filename is not None and ids.dtype == np.int32:
            corpus = CorpusFile(str(ids.filename), int(ids.offset), int(ids.shape[0]))
        else:
            corpus = ray.put(np.ascontiguousarray(ids, dtype=np.int32))
        tables = ray.put(arrays.tables)
        shapes = [w.shape for w in arrays.weights]
        self._remote = ray.remote(Replica)
        self.name = f"{ACTOR_PREFIX}{uuid.uuid4().hex[:8]}"  # its actors' names: NAME-k (NAME-k-rN when restarted)
        self._actor_args = [(corpus, offsets[first:end + 1], shapes, tables, objective, replica_schedule,
                             np.array(states[k * threads:(k + 1) * threads], dtype=np.uint64), sync_words)
                            for k, (first, end) in enumerate(split_sentences(offsets, replicas))]
        self.restarts = 0
        self.actors = [self._new_actor(k) for k in range(replicas)]
        self.pids: dict[int, int] = {}
        self.words_done = 0                 # raw words of every finished round, all replicas
        self.cost = SyncCost()              # of the current epoch (begin_epoch resets it)
        self.epoch = 0
        self.finished = [False] * replicas
        self.trained: list[int] = []        # replicas that trained since the last sync
        self.round_words = 0                # their raw words since then
        self.saved = [(np.array([np.uint64(s) for s in states[k * threads:(k + 1) * threads]], np.uint64), 0)
                      for k in range(replicas)]  # (RNG states, position) at the last sync
        self.calls: list[list[tuple[str, tuple]]] = [[] for _ in range(replicas)]  # since the last sync
        self.average = ray.put(tuple(arrays.weights))
        self._gather({k: ("set_weights", (self.average, 0)) for k in range(replicas)}, log_calls=False)
        self.pids = self._gather({k: ("pid", ()) for k in range(replicas)}, log_calls=False)

    @property
    def epoch_done(self) -> bool:
        return all(self.finished)

    def begin_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (counted from 0 in this run): every replica back at its share's start."""
        self.epoch, self.cost = epoch, SyncCost()
        self.finished = [False] * self.replicas
        self._gather({k: ("begin_epoch", ()) for k in range(self.replicas)})

    def train_round(self) -> dict[int, dict]:
        """One round of every replica whose share is not done: ``{k: Replica.train's dict}``."""
        todo = [k for k in range(self.replicas) if not self.finished[k]]
        results = self._gather({k: ("train", (self.epoch,)) for k in todo})
        for k, result in results.items():
            self.finished[k] = result["finished"]
        self.trained = todo
        self.round_words = sum(result["words"] for result in results.values())
        return results

    def replica_weights(self, which: list[int] | None = None) -> dict[int, tuple[np.ndarray, ...]]:
        """The current weight matrices of replicas ``which`` (default all): ``{k: (syn0, syn1, syn1neg)}``,
        read-only arrays from the object store."""
        which = range(self.replicas) if which is None else which
        return {k: replica[0] for k, replica in self._gather({k: ("replica", ()) for k in which}).items()}

    def sync(self) -> SyncCost:
        """Average the replicas that trained this round into the model's arrays and hand the mean to every
        replica, with the global word count after this round."""
        if not self.trained:  # nothing trained since the last sync: every replica holds the mean already
            return SyncCost()
        started = time.perf_counter()
        fetched = self._gather({k: ("replica", ()) for k in self.trained})
        moved = 0
        for m, average in enumerate(self.arrays.weights):
            if average.size == 0:
                continue
            parts = [fetched[k][0][m] for k in self.trained]
            np.copyto(average, parts[0])
            for part in parts[1:]:
                average += part
            if len(parts) > 1:
                average /= np.float32(len(parts))
            moved += sum(part.nbytes for part in parts) + self.replicas * average.nbytes
        for k in self.trained:  # copies: a view would pin the replica's whole object (its weights) in the store
            self.saved[k] = (np.array(fetched[k][1]), int(fetched[k][2]))
        self.words_done += self.round_words
        # Free the replicas' weights and the last average in the object store before the new average goes
        # in: at V = 1M, d = 100 each copy is 0.8 GB of shared memory (BENCHMARKS.md, "A billion tokens").
        fetched = parts = self.average = None
        self.average = self.ray.put(tuple(self.arrays.weights))
        self.calls = [[] for _ in range(self.replicas)]
        self._gather({k: ("set_weights", (self.average, self.words_done)) for k in range(self.replicas)},
                     log_calls=False)
        self.trained, self.round_words = [], 0
        cost = SyncCost(1, moved, time.perf_counter() - started)
        self.cost.add(cost)
        return cost

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)

    # ------------------------------------------------------------------ calls, deaths and restarts

    def _gather(self, calls: dict[int, tuple[str, tuple]], log_calls: bool = True) -> dict:
        """Call ``method(*args)`` on each replica ``k`` of ``calls`` and wait for every result, restarting
        (and replaying to) a replica that dies or stays silent ``timeout_s``; ``log_calls``: remember the
        call for such a replay (the calls that change a replica's state since the last sync)."""
        ray = self.ray
        pending = {}
        for k, (method, args) in calls.items():
            if log_calls:
                self.calls[k].append((method, args))
            pending[getattr(self.actors[k], method).remote(*args)] = k
        results = {}
        deadline = time.monotonic() + self.timeout_s
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=max(deadline - time.monotonic(), 0.0))
            if not ready:  # every replica still pending is hung
                for ref, k in list(pending.items()):
                    ray.kill(self.actors[k])
                    del pending[ref]
                    pending[self._restart(k, f"did not answer in {self.timeout_s:g} s", calls[k])] = k
                deadline = time.monotonic() + self.timeout_s
                continue
            k = pending.pop(ready[0])
            try:
                results[k] = ray.get(ready[0])
            except ray.exceptions.RayActorError as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                pending[self._restart(k, f"died ({type(error).__name__}: {reason})", calls[k])] = k
                deadline = max(deadline, time.monotonic() + self.timeout_s)
            except ray.exceptions.RayTaskError as error:  # the replica's own error (e.g. divergence): re-raise it
                self._drain(list(pending))
                cause = getattr(error, "cause", None)
                raise cause if isinstance(cause, Exception) else error from None
        return results

    def _drain(self, refs: list) -> None:
        """Wait (up to ``timeout_s``) for the other replicas' calls and read their results or errors, so
        that Ray does not print an "Unhandled error" for each of them later (they diverge together)."""
        if not refs:
            return
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=self.timeout_s)
        for ref in ready:
            try:
                self.ray.get(ref)
            except Exception:  # noqa: BLE001 -- the first replica's error is the one raised
                pass

    def _new_actor(self, k: int):
        name = f"{self.name}-{k}" + (f"-r{self.restarts}" if self.restarts else "")
        return self._remote.options(num_cpus=self.threads, max_restarts=0, name=name).remote(*self._actor_args[k])

    def _restart(self, k: int, reason: str, call: tuple[str, tuple]):
        """A new actor for replica ``k`` at the last sync's state, the calls since replayed; returns the
        reference of ``call``'s result (the one that failed).  Raises :class:`WorkerFailedError` once
        ``max_restarts`` are spent."""
        pid = self.pids.get(k, "?")
        if self.restarts >= self.max_restarts:
            raise WorkerFailedError(f"word2vec Ray worker {k} (pid {pid}) {reason}, and the restarts allowed "
                                    f"(max_restarts={self.max_restarts}) are spent")
        self.restarts += 1
        log.warning("word2vec Ray worker %d (pid %s) %s: restarting it from the last averaged weights "
                    "(restart %d of %d)", k, pid, reason, self.restarts, self.max_restarts)
        ray = self.ray
        self.actors[k] = actor = self._new_actor(k)
        states, position = self.saved[k]
        try:
            ray.get(actor.set_weights.remote(self.average, self.words_done), timeout=self.timeout_s)
            actor.restore.remote(position, states)
            self.pids[k] = ray.get(actor.pid.remote(), timeout=self.timeout_s)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            ray.kill(actor)
            return self._restart(k, f"could not be restarted ({type(error).__name__})", call)
        replay = self.calls[k][:-1] if self.calls[k] and self.calls[k][-1] == call else self.calls[k]
        for method, args in replay:
            getattr(actor, method).remote(*args)  # an actor runs its calls in order
        return getattr(actor, call[0]).remote(*call[1])


def train_distributed(arrays: Arrays, ids: np.ndarray, offsets: np.ndarray, objective: Objective,
                      schedule: Schedule, epochs: int, states: list[np.uint64], *, run: Run, callbacks: Callbacks,
                      history: list[EpochStats], replicas: int, threads: int, sync_words: int, cluster: str,
                      max_restarts: int, timeout_s: float = ROUND_TIMEOUT_S) -> None:
    """:func:`lmkit.word2vec.training.train_epochs` on Ray: ``epochs`` passes with ``replicas`` actors of
    ``threads`` threads, averaged every ``sync_words`` words per replica, into ``arrays``' weights.

    Each epoch's :class:`EpochStats` (with its sync cost) is appended to
    ``history`` as it ends, so a :class:`WorkerFailedError` leaves the epochs
    done there and the last average in ``arrays``.  Callbacks hear of each
    replica's round as a step and of each epoch's end (its record adds
    ``syncs``, ``sync_bytes``, ``sync_seconds``).
    """
    trainer = ReplicaTrainer(arrays, ids, offsets, objective, schedule, states, replicas=replicas, threads=threads,
                             sync_words=sync_words, cluster=cluster, max_restarts=max_restarts, timeout_s=timeout_s)
    steps = Steps(run, callbacks, schedule, lambda: float(trainer.words_done))
    callbacks.train_begin(run)
    try:
        for epoch in range(epochs):
            callbacks.epoch_begin(run, run.epoch + 1)
            trainer.begin_epoch(epoch)
            started = time.perf_counter()
            totals = np.zeros(4)  # loss, examples, raw words, effective words
            while not trainer.epoch_done:
                results = trainer.train_round()
                for k in sorted(results):
                    r = results[k]
                    totals += (r["loss"], r["examples"], r["words"], r["effective_words"])
                    steps.chunk_done(r["loss"], r["examples"], r["words"])
                trainer.sync()
            if not all(np.isfinite(w).all() for w in arrays.weights):
                raise TrainingDivergedError(f"training diverged: NaN or infinite weights in epoch {epoch + 1}; "
                                            f"lower alpha (the learning rate)")
            cost = trainer.cost
            result = EpochStats(loss=float(totals[0] / max(totals[1], 1.0)), words=int(totals[2]),
                                effective_words=int(totals[3]), seconds=time.perf_counter() - started,
                                syncs=cost.syncs, sync_bytes=cost.bytes, sync_seconds=cost.seconds)
            log.info("epoch %d/%d: loss %.4f, %d words in %.2f s, %.0f words/s; %d syncs of %d replicas moved "
                     "%.1f MB in %.2f s", epoch + 1, epochs, result.loss, result.words, result.seconds,
                     result.words_per_second, cost.syncs, replicas, cost.bytes / 1e6, cost.seconds)
            history.append(result)
            run.epoch += 1
            callbacks.epoch_end(run, {"epoch": run.epoch, "train_loss": result.loss, "words": result.words,
                                      "effective_words": result.effective_words, "seconds": result.seconds,
                                      "words_per_s": result.words_per_second, "lr": steps.lr(),
                                      "syncs": cost.syncs, "sync_bytes": cost.bytes, "sync_seconds": cost.seconds})
            if run.stop_reason:
                log.info("%s", run.stop_reason)
                break
    finally:
        trainer.close()
        callbacks.train_end(run)
