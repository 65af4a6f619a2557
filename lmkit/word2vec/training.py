"""The word2vec training driver: epochs, worker threads, the shared schedule, progress.

The per-chunk work is compiled (:func:`lmkit.word2vec.kernels.train_sentences`, one
specialization per architecture and losses: :func:`switches`);
everything around it stays in Python: handing corpus chunks to worker
threads, per-epoch loss, the divergence check and the :mod:`lmkit.training`
callbacks (the progress bar and the monitor among them), which hear of every
finished chunk as a step.

Workers train Hogwild-style (Recht et al. 2011): each thread runs the nogil
kernel on its own chunks and writes the shared weight matrices without locks.
They share one learning-rate schedule: every worker publishes the raw words
it has processed in its row of ``progress`` and each sentence's rate is
``alpha - (alpha - min_alpha) * (sum of progress) / (epochs * n_tokens)``.
With one worker, training runs in the calling thread and is a deterministic
function of the seed.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from lmkit._cached_call import ChildCompile, call_from_cache, start_compile
from lmkit.corpus.chunks import TokenReader, longest_sentence, sentence_ranges
from lmkit.training.callbacks import Callbacks, Run
from lmkit.word2vec import kernels, sampling
from lmkit.word2vec.kernels import ROW_WIDTH, STATS_EFFECTIVE, STATS_EXAMPLES, STATS_LOSS, STATS_RAW
from lmkit.word2vec.prefetch import CACHE_LINE

log = logging.getLogger(__name__)

CHUNK_TOKENS = 65_536  # tokens per kernel call: ~0.1-0.3 s of work, fine-grained enough to balance threads


class TrainingDivergedError(ValueError, FloatingPointError):
    """The weights became NaN or infinite (usually a learning rate that is too large)."""


class Arrays(NamedTuple):
    """Everything the kernel reads or writes besides the corpus: the model's weights, which training
    updates, and the objective's tables, which it only reads (see :func:`kernels.train_sentences`)."""

    weights: kernels.Weights
    tables: kernels.Tables


@dataclass(frozen=True)
class Objective:
    """What is trained: the kernel's static options."""

    cbow: bool
    cbow_mean: bool
    negative: int
    window: int
    batched: bool
    group: int = 1      # CBOW targets trained together, sharing negatives (1: the C tool's update)


@dataclass(frozen=True)
class Schedule:
    """The linear learning-rate decay over ``total_words`` raw words."""

    alpha: float
    min_alpha: float
    total_words: float


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did: mean loss per example, raw and effective (kept after subsampling) words, time;
    and, on Ray (:mod:`lmkit.word2vec.distributed`), what averaging the replicas cost: how many times,
    the bytes of weights moved (to and from every worker) and the seconds spent (0 in one process)."""

    loss: float
    words: int
    effective_words: int
    seconds: float
    syncs: int = 0
    sync_bytes: int = 0
    sync_seconds: float = 0.0

    @property
    def words_per_second(self) -> float:
        return self.words / max(self.seconds, 1e-9)


class Worker:
    """One worker's RNG state and scratch buffers (allocated once, reused by every chunk).

    Every buffer sits on cache lines of its own (:func:`private_array`): two
    workers' small buffers allocated side by side would otherwise share a
    64-byte line, and each write by one thread would evict it from the other
    core's cache (false sharing) on every update.  With ``n_workers > 1`` and
    hierarchical softmax it also keeps a copy of syn1's top rows
    (:data:`~lmkit.word2vec.kernels.SHARED_TOP_ROWS`, :func:`private_top_rows`).
    """

    def __init__(self, index: int, state: np.uint64, arrays: Arrays, objective: Objective, max_sentence: int,
                 n_workers: int = 1):
        d = arrays.weights.syn0.shape[1]
        top = private_top_rows(arrays, n_workers)
        width = max(arrays.tables.codes.shape[1], objective.negative + 1)
        group, rows = objective.group, max(2 * objective.window, objective.group)
        self.index = index
        self.scratch = kernels.Scratch(
            rng=private_array(1, np.uint64), sentence=private_array(max(max_sentence, 1), np.int32),
            contexts=private_array(2 * objective.window, np.int32), out_rows=private_array(width, np.int32),
            labels=private_array(width, np.float32), grad=private_array((rows, d), np.float32),
            gains=private_array(2 * rows, np.float32),
            group_contexts=private_array((group, 2 * objective.window), np.int32),
            group_sizes=private_array(group, np.int32), group_targets=private_array(group, np.int32),
            hidden_rows=private_array(group, np.int32), neu1=private_array((group, d), np.float32),
            top_rows=private_array((top, d), np.float32), top_base=private_array((top, d), np.float32))
        self.scratch.rng[0] = state
        self.scratch.hidden_rows[:] = np.arange(group)

    @property
    def rng(self) -> np.ndarray:
        """``uint64[1]``: this worker's RNG state."""
        return self.scratch.rng

    def run(self, arrays: Arrays, ids: np.ndarray, offsets: np.ndarray, first: int, end: int,
            objective: Objective, schedule: Schedule, progress: np.ndarray, stats: np.ndarray,
            id_base: int = 0) -> None:
        """Train on sentences ``[first, end)``; ``ids[t - id_base]`` is token t.  Releases the GIL."""
        kernels.train_sentences(*self.kernel_arguments(arrays, ids, offsets, first, end, objective, schedule,
                                                       progress, stats, id_base))

    def kernel_arguments(self, arrays: Arrays, ids: np.ndarray, offsets: np.ndarray, first: int, end: int,
                         objective: Objective, schedule: Schedule, progress: np.ndarray, stats: np.ndarray,
                         id_base: int = 0) -> tuple:
        """The arguments of :func:`kernels.train_sentences` for :meth:`run`'s."""
        settings = kernels.Settings(
            cbow_mean=bool(objective.cbow_mean), negative=int(objective.negative),
            window=int(objective.window), batched=bool(objective.batched), group=int(objective.group),
            alpha0=np.float32(schedule.alpha), min_alpha=np.float32(schedule.min_alpha),
            total_words=float(schedule.total_words))
        return (ids, id_base, offsets, first, end, arrays.weights, arrays.tables, settings, progress, stats,
                self.index, self.scratch, (0,) * arrays.weights.syn0.shape[1],
                *switches(objective.cbow, arrays.weights.syn1.shape[0] > 0, objective.negative > 0))


def switches(cbow: bool, hs: bool, ns: bool) -> tuple:
    """The last three arguments of :func:`kernels.train_sentences`: CBOW (else skip-gram), hierarchical
    softmax, negative sampling, each 0 if on and None if off.  Their numba types make each combination a
    compiled specialization of its own, from which numba drops the others' code before compiling."""
    return tuple(0 if on else None for on in (cbow, hs, ns))


def negative_tables(tables: kernels.Tables, objective: Objective, n_workers: int) -> kernels.Tables:
    """``tables`` with one negative-sampling alias table per worker, each over its own part of the vocabulary.

    For skip-gram with several workers and the batched update, the one
    table's words are split into ``n_workers`` parts of equal unigram^0.75
    mass (:func:`~lmkit.word2vec.sampling.partition_table`; each part's table
    is that distribution restricted to it), and at any moment the workers draw
    from different parts, each part in turn (kernels.NEGATIVE_PART_WORDS).
    Why: a frequent word is a negative in a large share of all windows, so
    with one table both threads wrote its output row all the time and its
    cache lines went back and forth between the cores.  Measured
    (BENCHMARKS.md, 2026-12-04 late): SG-NS 2 threads over 1, in the epoch,
    1.65x -> 1.79x, quality within the protocol's noise; CBOW-NS gained 1-6%
    but lost quality (2 threads, 6 seeds: WordSim 0.244 -> 0.211, turns of
    1,024 words 0.231: a group of 4 targets shares 5 negatives, so each target
    meets few), so CBOW keeps the one table.  So do one worker, the exact
    update (the C tool's) and a vocabulary too small to give every part two
    words (a worker redraws a negative equal to its target).
    """
    if n_workers < 2 or objective.cbow or not objective.batched or objective.negative == 0:
        return tables
    probabilities = sampling.table_probabilities(tables.threshold[0], tables.alias[0])
    parts = sampling.partition_table(probabilities, n_workers, min_words=2)
    if parts is None:
        return tables
    return tables._replace(threshold=np.stack([part.threshold for part in parts]),
                           alias=np.stack([part.alias for part in parts]))


def private_top_rows(arrays: Arrays, n_workers: int) -> int:
    """How many of syn1's top rows each worker keeps a private copy of (kernels.SHARED_TOP_ROWS): none
    with one worker, where the copy would only cost merges, or without hierarchical softmax."""
    return min(kernels.SHARED_TOP_ROWS, arrays.weights.syn1.shape[0]) if n_workers > 1 else 0


class Pass(NamedTuple):
    """What every chunk of a pass over the corpus shares: the weights and tables, one token reader per
    worker, the sentence offsets (int64[n_sentences + 1]), the objective and schedule, the shared
    ``progress`` (int64[rows, ROW_WIDTH]: the schedule reads the sum of every row) and ``stats``
    (float64[workers, ROW_WIDTH]) arrays, and the epoch's index (for error messages)."""

    arrays: Arrays
    readers: list[TokenReader]
    offsets: np.ndarray
    objective: Objective
    schedule: Schedule
    progress: np.ndarray
    stats: np.ndarray
    epoch: int


def private_array(shape, dtype) -> np.ndarray:
    """A zeroed array whose bytes share no 64-byte cache line with any other allocation."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(nbytes + 3 * CACHE_LINE, dtype=np.uint8)
    start = 2 * CACHE_LINE - raw.ctypes.data % CACHE_LINE  # the 2nd line boundary inside raw; >= 1 line after
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _finite(*matrices: np.ndarray) -> bool:
    return all(bool(np.isfinite(m).all()) for m in matrices)


def train_epochs(arrays: Arrays, ids: np.ndarray, offsets: np.ndarray, objective: Objective,
                 schedule: Schedule, epochs: int, states: list[np.uint64], *, run: Run,
                 callbacks: Callbacks, chunk_tokens: int = CHUNK_TOKENS) -> list[EpochStats]:
    """Run ``epochs`` passes over ``(ids, offsets)`` with ``len(states)`` workers.

    ``states``: one RNG state per worker.  Returns the :class:`EpochStats` of
    each epoch (its loss is the mean negative log-likelihood per training
    example: per (context, target) pair for skip-gram, per target for CBOW).
    ``callbacks`` (:mod:`lmkit.training`) hear of each chunk as a step
    (``on_step`` with the chunk's mean loss, learning rate and words, in the
    calling thread) and of each epoch's end (its :class:`EpochStats` as a
    record, plus ``lr``); ``run.step`` and ``run.epoch`` advance with them.
    Raises :class:`TrainingDivergedError` as soon as a chunk's loss or, at an
    epoch's end, any weight is NaN or infinite.  The kernel is compiled (first
    run) or loaded from numba's cache before ``on_train_begin``, outside every
    epoch's time.
    """
    n_workers = len(states)
    arrays = arrays._replace(tables=negative_tables(arrays.tables, objective, n_workers))
    max_sentence = max(longest_sentence(offsets), 1)
    workers = [Worker(k, state, arrays, objective, max_sentence, n_workers) for k, state in enumerate(states)]
    chunks = sentence_ranges(offsets, chunk_tokens)
    capacity = max((int(offsets[end] - offsets[first]) for first, end in chunks), default=1)
    readers = [TokenReader(ids, capacity) for _ in workers]
    progress = private_array((n_workers, ROW_WIDTH), np.int64)  # one cache line per worker
    history: list[EpochStats] = []
    compile_kernel(workers[0], arrays, offsets, objective, schedule, progress)
    callbacks.train_begin(run)
    try:
        for epoch in range(epochs):
            callbacks.epoch_begin(run, run.epoch + 1)
            stats = private_array((n_workers, ROW_WIDTH), np.float64)
            started = time.perf_counter()
            job = Pass(arrays, readers, offsets, objective, schedule, progress, stats, epoch)
            steps = Steps(run, callbacks, schedule, lambda: float(progress[:, kernels.PROGRESS_WORDS].sum()))
            train_chunks(workers, chunks, job, steps.chunk_done)
            loss = float(stats[:, STATS_LOSS].sum() / max(stats[:, STATS_EXAMPLES].sum(), 1.0))
            if not _finite(*arrays.weights):
                raise _diverged(epoch, progress)
            result = EpochStats(loss=loss, words=int(stats[:, STATS_RAW].sum()),
                                effective_words=int(stats[:, STATS_EFFECTIVE].sum()),
                                seconds=time.perf_counter() - started)
            log.info("epoch %d/%d: loss %.4f, %d words (%d after subsampling) in %.2f s, %.0f words/s",
                     epoch + 1, epochs, loss, result.words, result.effective_words, result.seconds,
                     result.words_per_second)
            history.append(result)
            run.epoch += 1
            callbacks.epoch_end(run, {"epoch": run.epoch, "train_loss": result.loss, "words": result.words,
                                      "effective_words": result.effective_words, "seconds": result.seconds,
                                      "words_per_s": result.words_per_second, "lr": steps.lr()})
            if run.stop_reason:
                log.info("%s", run.stop_reason)
                break
    finally:
        for reader in readers:
            reader.close()
        callbacks.train_end(run)
    return history


# Children compiling the kernel for a vector size and switches (start_kernel_compile), until training waits.
_compiling: dict[tuple, ChildCompile] = {}


def start_kernel_compile(vector_size: int, cbow: bool, hs: bool, ns: bool) -> None:
    """Load the kernel for ``vector_size`` and these :func:`switches` from numba's cache, or start compiling
    it in a child process (:mod:`lmkit._cached_call`) while this one reads the corpus; :func:`compile_kernel`
    waits for it."""
    key = (vector_size, *switches(cbow, hs, ns))
    if key not in _compiling:
        started = start_compile(kernels.train_sentences, kernel_arguments_for(vector_size, cbow, hs, ns))
        if started is not None:
            _compiling[key] = started


def kernel_arguments_for(vector_size: int, cbow: bool, hs: bool, ns: bool) -> tuple:
    """Arguments of :func:`kernels.train_sentences` with the types of a training call for ``vector_size`` and
    these :func:`switches` (the types depend on nothing else), and a range of no sentences: the call does
    nothing."""
    d = vector_size
    rows = np.zeros((1, d), np.float32)
    syn1 = rows.copy() if hs else np.zeros((0, d), np.float32)
    arrays = Arrays(kernels.Weights(rows, syn1, rows.copy()),
                    kernels.Tables(*kernels.no_tree(1), *kernels.no_sampler(), keep=np.ones(1, np.float32),
                                   sigmoid=np.zeros(1, np.float32), nll=np.zeros(1, np.float32)))
    objective = Objective(cbow=cbow, cbow_mean=True, negative=int(ns), window=1, batched=True)
    progress = np.zeros((1, ROW_WIDTH), np.int64)
    return Worker(0, np.uint64(1), arrays, objective, 1).kernel_arguments(
        arrays, np.zeros(1, np.int32), np.zeros(1, np.int64), 0, 0, objective, Schedule(0.025, 1e-4, 1.0), progress,
        np.zeros_like(progress, dtype=np.float64))


def compile_kernel(worker: Worker, arrays: Arrays, offsets: np.ndarray, objective: Objective, schedule: Schedule,
                   progress: np.ndarray) -> None:
    """Load the kernel for these argument types from numba's cache before training starts, so that no
    epoch's time or words/s includes it: one call on an empty range of sentences.  If it is not cached,
    a child process compiles it first, or one started by :func:`start_kernel_compile` is waited for
    (:mod:`lmkit._cached_call`: then the first run executes the same machine code as every later one).
    Waiting over a second: one line says so while it does, one when it is done."""
    notice = threading.Timer(1.0, log.info, ("compiling the word2vec kernel (first run with these settings only; "
                                             "cached for the next) ...",))
    notice.start()
    started = time.perf_counter()
    stats = np.zeros_like(progress, dtype=np.float64)
    ids = np.zeros(1, np.int32)
    arguments = worker.kernel_arguments(arrays, ids, offsets, 0, 0, objective, schedule, progress, stats)
    try:
        where = call_from_cache(kernels.train_sentences, arguments,
                                _compiling.pop((arrays.weights.syn0.shape[1], *arguments[-3:]), None))
    finally:
        notice.cancel()
    if where == "here":
        log.info("numba's cache could not be used: the kernel was compiled in this process")
    if time.perf_counter() - started > 1.0:
        log.info("kernel compiled in %.1f s", time.perf_counter() - started)


class Steps:
    """Turns finished chunks into step records for the callbacks (always in the calling thread).

    ``words_done()``: the raw words every worker has trained so far in this run, which sets the
    learning rate of the shared schedule (the module docstring)."""

    def __init__(self, run: Run, callbacks: Callbacks, schedule: Schedule, words_done: Callable[[], float]):
        self.run, self.callbacks, self.schedule, self.words_done = run, callbacks, schedule, words_done

    def lr(self) -> float:
        """The learning rate the kernels use now (the shared linear schedule, see the module docstring)."""
        return scheduled_rate(self.schedule, self.words_done())

    def chunk_done(self, loss: float, examples: float, words: int) -> None:
        run = self.run
        run.step += 1
        due = self.callbacks.due(run.step)
        if due:
            record = {"step": run.step, "epoch": run.epoch + 1, "loss": loss / max(examples, 1.0),
                      "lr": self.lr(), "words": words, "count": words}
            for callback in due:
                callback.on_step(run, record)


def scheduled_rate(schedule: Schedule, words_done: float) -> float:
    """The rate after ``words_done`` raw words: linear from ``alpha`` to ``min_alpha`` (as the kernel's)."""
    s = schedule
    return max(s.alpha - (s.alpha - s.min_alpha) * words_done / s.total_words, s.min_alpha)


def _diverged(epoch: int, progress: np.ndarray) -> TrainingDivergedError:
    words = int(progress[:, kernels.PROGRESS_WORDS].sum())
    return TrainingDivergedError(f"training diverged: NaN or infinite weights in epoch {epoch + 1} after "
                                 f"{words} words (the end of the sentence where the loss became NaN or infinite, "
                                 f"counted over this run); lower alpha (the learning rate)")


def _check_chunk(stats: np.ndarray, worker: int, epoch: int, progress: np.ndarray) -> None:
    if not np.isfinite(stats[worker, STATS_LOSS]):
        raise _diverged(epoch, progress)


def train_chunks(workers: list[Worker], chunks: list[tuple[int, int]], job: Pass,
                 chunk_done: Callable[[float, float, int], None]) -> None:
    """Train the sentence ranges ``chunks`` with ``workers``: one in the calling thread, more as Hogwild
    threads pulling chunks in turn.  ``chunk_done(loss, examples, words)`` hears of every finished
    chunk, in the calling thread.  Raises :class:`TrainingDivergedError` on a NaN or infinite loss."""
    if len(workers) == 1:
        _run_serial(workers[0], chunks, job, chunk_done)
    else:
        _run_threads(workers, chunks, job, chunk_done)


def _run_chunk(worker: Worker, reader: TokenReader, first: int, end: int, job: Pass) -> tuple[float, float, int]:
    """Train one chunk; returns its summed loss, its examples and its raw words (this worker's stats row
    before and after: no other thread writes it)."""
    row = job.stats[worker.index]
    loss0, examples0, words0 = row[STATS_LOSS], row[STATS_EXAMPLES], row[STATS_RAW]
    ids, base = reader.read(int(job.offsets[first]), int(job.offsets[end]))
    worker.run(job.arrays, ids, job.offsets, first, end, job.objective, job.schedule, job.progress, job.stats,
               id_base=base)
    return float(row[STATS_LOSS] - loss0), float(row[STATS_EXAMPLES] - examples0), int(row[STATS_RAW] - words0)


def _run_serial(worker: Worker, chunks, job: Pass, chunk_done) -> None:
    for first, end in chunks:
        done = _run_chunk(worker, job.readers[worker.index], first, end, job)
        _check_chunk(job.stats, worker.index, job.epoch, job.progress)
        chunk_done(*done)


def _run_threads(workers: list[Worker], chunks, job: Pass, chunk_done) -> None:
    """Workers pull chunks from a shared iterator and queue what each chunk did; the calling thread
    hands those to the callbacks while it waits."""
    readers, progress, stats, epoch = job.readers, job.progress, job.stats, job.epoch
    pending = iter(chunks)
    lock = threading.Lock()
    failures: list[BaseException] = []
    finished: queue.SimpleQueue = queue.SimpleQueue()

    def loop(worker: Worker) -> None:
        try:
            while not failures:
                with lock:
                    chunk = next(pending, None)
                if chunk is None:
                    return
                done = _run_chunk(worker, readers[worker.index], chunk[0], chunk[1], job)
                _check_chunk(stats, worker.index, epoch, progress)
                finished.put(done)
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(error)

    def drain() -> None:
        while not finished.empty():
            chunk_done(*finished.get())

    threads = [threading.Thread(target=loop, args=(w,), name=f"word2vec-{w.index}", daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)
            drain()
    drain()
    if failures:
        raise failures[0]
