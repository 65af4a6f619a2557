"""Sharded tokenization: text to per-shard type-id files, in parallel local processes.

A corpus of many files, or one large plain file cut at line boundaries into
byte ranges, is split into *tasks*.  Each task reads its text once and writes,
in a scratch folder, its own shard::

    {k}.types.raw   int32[n_tokens_k]  each token's *local* type id (first-seen order in this task)
    {k}.lengths.npy int64[n_lines_k]   tokens per line (0 for blank lines)
    {k}.counts.npy  int64[n_types_k]   occurrences of each local type
    {k}.tokens.txt  the local types, UTF-8, one a line (types never hold a newline)

The caller (:mod:`lmkit.corpus.encoded`) merges the counts by token string,
chooses the vocabulary and maps every shard's local ids to vocabulary ids
while concatenating the shards into one ``ids.npy``: the text is read once,
and the result does not depend on how the corpus was cut or how many
processes ran (shards are concatenated in task order = file and byte order).

Tokens come from the HuggingFace pipeline of :mod:`lmkit.corpus.tokenizer`
(word level: a ``WordLevel`` trainer pass finds the task's types, a second
pass encodes; subword: the trained model), except for the common case of
already tokenized text (``pre_tokenizer="whitespace"``, no normalizer, no
subword model), where ``str.split`` gives the same tokens without the round
trip through Rust objects.  Python's ``str.split`` and the Rust
``WhitespaceSplit`` agree on every code point except U+001C..U+001F (Python
splits there, Rust does not); a block that holds one of those is split with a
regular expression of Rust's whitespace set instead.

The tasks run here (one worker), in local processes, or as Ray tasks
(``cluster``: see :mod:`lmkit.cluster`).  Local processes are started with
``spawn`` (no fork of a process whose Rust and numba thread pools are
running); processes and Ray tasks get only paths, numbers and the
tokenizer's JSON, and return a :class:`Shard` (a path and two counts), so the
three executors produce the same files and the same result.  Each sets
``TOKENIZERS_PARALLELISM=false`` so K processes use K cores, not K times the
Rust thread pool.  A Ray task reads its file and writes its shard by path: on
a cluster of several machines the corpus and the scratch folder (under the
cache folder) must be on a filesystem every node shares.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tokenizers import trainers

from lmkit.corpus.readers import (FileSource, is_zip, iter_line_blocks, line_boundaries)
from lmkit.corpus.tokenizer import OOV_SENTINEL, Tokenizer, word_level_encoder

ENCODE_BATCH_LINES = 10_000      # lines per call into the Rust encoder: amortizes the call, bounds memory
SHARD_MIN_BYTES = 1 << 26        # a plain file is cut into byte ranges of at least 64 MiB: each task stays long
TASKS_PER_WORKER = 4             # more tasks than processes, so one slow task does not idle the others
# Rust's char::is_whitespace (the White_Space property), which WhitespaceSplit splits on.
_RUST_TOKEN = re.compile("[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_PYTHON_ONLY_SPACE = ("\x1c", "\x1d", "\x1e", "\x1f")  # whitespace to str.split, not to Rust


@dataclass(frozen=True)
class Task:
    """A piece of a file corpus: ``path``, and for a plain file the byte range ``[start, end)`` (end None: to EOF)."""

    path: str
    start: int = 0
    end: int | None = None


@dataclass
class Shard:
    """One task's output: its files under ``prefix`` (``{prefix}.types.raw`` etc.), line count and token count."""

    prefix: Path
    n_lines: int
    n_tokens: int

    @property
    def raw_path(self) -> Path:
        return self.prefix.with_name(self.prefix.name + ".types.raw")

    def lengths(self) -> np.ndarray:
        """int64[n_lines]: tokens per line."""
        return np.load(self.prefix.with_name(self.prefix.name + ".lengths.npy"), allow_pickle=False)

    def counts(self) -> np.ndarray:
        """int64[n_types_k]: occurrences of each local type."""
        return np.load(self.prefix.with_name(self.prefix.name + ".counts.npy"), allow_pickle=False)

    def types(self) -> list[str]:
        """The local types, indexed by local type id."""
        text = self.prefix.with_name(self.prefix.name + ".tokens.txt").read_bytes().decode("utf-8")
        return text.split("\n") if text else []

    def raw(self) -> np.ndarray:
        """int32[n_tokens]: the local type id of every token (a read-only memmap)."""
        if self.n_tokens == 0:
            return np.zeros(0, dtype=np.int32)
        return np.memmap(self.raw_path, dtype=np.int32, mode="r")


def plan(text, workers: int, shard_bytes: int | None = None) -> list[Task] | None:
    """The tasks of a file source, or None for a source that is not files (it is read in this process).

    With one worker every file is one task; with more, a plain (uncompressed,
    unzipped) file larger than ``shard_bytes`` (default: the total size over
    ``workers * TASKS_PER_WORKER``, at least SHARD_MIN_BYTES) is cut at line
    boundaries into byte ranges.
    """
    if not isinstance(text, FileSource):
        return None
    if workers <= 1:
        return [Task(str(path)) for path in text.paths]
    if shard_bytes is None:
        total = sum(path.stat().st_size for path in text.paths)
        shard_bytes = max(SHARD_MIN_BYTES, -(-total // (workers * TASKS_PER_WORKER)))
    tasks = []
    for path in text.paths:
        size = path.stat().st_size
        if size <= shard_bytes or path.suffix.lower() in (".gz", ".bz2", ".xz") or is_zip(path):
            tasks.append(Task(str(path)))
            continue
        bounds = line_boundaries(path, -(-size // shard_bytes))
        tasks.extend(Task(str(path), start, end) for start, end in zip(bounds[:-1], bounds[1:]))
    return tasks


def tokenize(text, tokenizer: Tokenizer, folder: Path, workers: int = 1, verbose: bool = True,
             fast: bool = True, cluster: str | None = None) -> list[Shard]:
    """Write the shards of ``text`` into ``folder``; return them in corpus order.

    ``workers`` > 1 runs the tasks in that many spawned processes; 1 runs
    them here.  ``cluster`` ("local", "auto" or a Ray address) runs them as
    Ray tasks of one CPU each instead, planned for the cluster's CPUs; a
    local Ray started here gets ``workers`` CPUs (1: all cores).  A source
    that is not files is read here in every case.  ``fast=False`` forces the
    HuggingFace pipeline even where the whitespace fast path applies (the
    tests compare the two).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    folder.mkdir(parents=True, exist_ok=True)
    document = tokenizer.to_json()
    if cluster is not None and isinstance(text, FileSource):
        cpus = _ray_cpus(cluster, workers)
        tasks = plan(text, cpus)
        return _run_ray(tasks, document, (text.errors, text.encoding, text.max_invalid), folder, fast, verbose)
    tasks = plan(text, workers)
    if tasks is None:
        return [tokenize_blocks(lambda: text.line_blocks(), tokenizer, folder / "0", fast, verbose, text.name)]
    options = (text.errors, text.encoding, text.max_invalid)
    if workers == 1 or len(tasks) == 1:
        return [run_task(task, document, options, str(folder / str(k)), fast, verbose)
                for k, task in enumerate(tasks)]
    return _run_pool(tasks, document, options, folder, fast, workers, verbose)


def _run_pool(tasks: list[Task], document: str, options: tuple, folder: Path, fast: bool, workers: int,
              verbose: bool) -> list[Shard]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                             initializer=_init_worker) as pool:
        futures = [pool.submit(run_task, task, document, options, str(folder / str(k)), fast, False)
                   for k, task in enumerate(tasks)]
        with tqdm(total=len(tasks), desc="encode shards", unit=" shards", disable=not verbose, leave=False) as bar:
            shards = []
            for future in futures:
                shards.append(future.result())
                bar.update(1)
    return shards


def _ray_cpus(cluster: str, workers: int) -> int:
    """Join ``cluster`` (a local one gets ``workers`` CPUs, or all cores for 1); return the CPUs it has."""
    from lmkit.cluster import connect

    connect(cluster, workers if workers > 1 else None)
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _run_ray(tasks: list[Task], document: str, options: tuple, folder: Path, fast: bool,
             verbose: bool) -> list[Shard]:
    """Run the tasks as Ray tasks of one CPU each (Ray already joined); the shards in task order.

    A task's exception is raised here as itself (the ``RayTaskError`` wrapper
    and its remote traceback dropped), so callers see the same errors as
    with local processes.
    """
    import ray
    from tqdm.auto import tqdm

    remote = ray.remote(num_cpus=1)(_ray_task)
    pending = {remote.remote(task, document, options, str(folder / str(k)), fast): k
               for k, task in enumerate(tasks)}
    shards: list[Shard | None] = [None] * len(tasks)
    try:
        with tqdm(total=len(tasks), desc="encode shards (ray)", unit=" shards", disable=not verbose,
                  leave=False) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                shards[pending.pop(done[0])] = ray.get(done[0])
                bar.update(1)
    except ray.exceptions.RayTaskError as error:
        for ref in pending:
            ray.cancel(ref)
        cause = error.cause
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    return shards


def _ray_task(task: Task, document: str, options: tuple, prefix: str, fast: bool) -> Shard:
    """:func:`run_task` on a Ray worker, which may be another machine: a missing file or scratch folder
    there is an error that says the cluster needs a shared filesystem."""
    import socket

    _init_worker()
    for needed in (Path(task.path), Path(prefix).parent):
        if not needed.exists():
            raise FileNotFoundError(
                f"{needed}: not found on the Ray node {socket.gethostname()}: on a cluster of several machines "
                f"the corpus and the cache folder must be on a filesystem every node mounts at the same path "
                f"(or use cluster='local')")
    return run_task(task, document, options, prefix, fast, False)


def _init_worker() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per process: the pool is the parallelism


def run_task(task: Task, document: str, options: tuple, prefix: str, fast: bool, verbose: bool) -> Shard:
    """Tokenize one task (in a worker process or here) into the shard files at ``prefix``."""
    errors, encoding, max_invalid = options
    path = Path(task.path)
    if is_zip(path):
        source = FileSource([path], errors=errors, encoding=encoding, max_invalid=max_invalid)
        blocks, name = source.line_blocks, str(path)
    else:
        def blocks() -> Iterator[list[str]]:
            return iter_line_blocks(path, errors, encoding=encoding, max_invalid=max_invalid, start=task.start,
                                    end=task.end)
        name = str(path) if task.start == 0 and task.end is None else f"{path} (bytes {task.start}:{task.end})"
    return tokenize_blocks(blocks, Tokenizer.from_json(document), Path(prefix), fast, verbose, name)


def tokenize_blocks(blocks: Callable[[], Iterator[list[str]]], tokenizer: Tokenizer, prefix: Path, fast: bool,
                    verbose: bool, name: str) -> Shard:
    """Tokenize the lines ``blocks()`` yields into a shard at ``prefix``; ``blocks`` may be called twice."""
    config = tokenizer.config
    raw_path = prefix.with_name(prefix.name + ".types.raw")
    if tokenizer.needs_training:
        raise ValueError("train the subword tokenizer before tokenizing shards")
    if config.subword is not None:
        encoder = tokenizer.subword_model
        types = types_by_id(encoder)
        lengths, counts = _write_type_ids(blocks(), encoder, len(types), raw_path, verbose, name)
    elif fast and is_plain_whitespace(config):
        types, lengths, counts = _write_split_ids(blocks(), raw_path, verbose, name)
    else:
        encoder = _word_types(blocks(), tokenizer, verbose, name)
        types = types_by_id(encoder)
        lengths, counts = _write_type_ids(blocks(), encoder, len(types), raw_path, verbose, name)
    for token in types:
        if "\n" in token:
            raise RuntimeError(f"internal error: token {token!r} holds a newline")
    prefix.with_name(prefix.name + ".tokens.txt").write_bytes("\n".join(types).encode("utf-8"))
    np.save(prefix.with_name(prefix.name + ".lengths.npy"), lengths, allow_pickle=False)
    np.save(prefix.with_name(prefix.name + ".counts.npy"), counts, allow_pickle=False)
    return Shard(prefix, int(lengths.shape[0]), int(lengths.sum()))


def is_plain_whitespace(config) -> bool:
    """True when tokens are exactly the whitespace-separated pieces of each line (the fast path applies)."""
    return (config.subword is None and config.pre_tokenizer == "whitespace" and not config.lowercase
            and not config.nfkc and not config.strip_accents)


def progress(blocks: Iterator[list[str]], verbose: bool, description: str) -> Iterator[list[str]]:
    """Wrap line blocks with a tqdm bar counting lines."""
    if not verbose:
        yield from blocks
        return
    from tqdm.auto import tqdm

    with tqdm(desc=description, unit=" lines", unit_scale=True, leave=False) as bar:
        for block in blocks:
            yield block
            bar.update(len(block))


def batches(blocks: Iterator[list[str]], verbose: bool, description: str) -> Iterator[list[str]]:
    """Line blocks re-cut into lists of at most ENCODE_BATCH_LINES lines."""
    for block in progress(blocks, verbose, description):
        for start in range(0, len(block), ENCODE_BATCH_LINES):
            yield block[start:start + ENCODE_BATCH_LINES]


def types_by_id(encoder) -> list[str]:
    """The encoder's model vocabulary as a list indexed by type id."""
    vocabulary = encoder.get_vocab(with_added_tokens=False)
    tokens = [""] * len(vocabulary)
    for token, index in vocabulary.items():
        tokens[index] = token
    return tokens


def _word_types(blocks: Iterator[list[str]], tokenizer: Tokenizer, verbose: bool, name: str):
    """Pass 1 (word level): a pipeline whose WordLevel model knows every word type of the lines."""
    pipeline = word_level_encoder(tokenizer.config, {OOV_SENTINEL: 0})
    trainer = trainers.WordLevelTrainer(vocab_size=2**31 - 1, min_frequency=0, special_tokens=[OOV_SENTINEL],
                                        show_progress=False)
    pipeline.train_from_iterator(batches(blocks, verbose, f"scan types {name}"), trainer=trainer)
    return pipeline


def _write_type_ids(blocks: Iterator[list[str]], encoder, n_types: int, raw_path: Path, verbose: bool,
                    name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: encode every line to type ids, appended as int32 to ``raw_path``.

    Returns ``(lengths, counts)``: int64[n_lines] tokens per line (0 for blank
    lines) and int64[n_types] occurrences of each type.
    """
    counts = np.zeros(n_types, dtype=np.int64)
    lengths: list[np.ndarray] = []
    with open(raw_path, "wb") as raw:
        for lines in batches(blocks, verbose, f"encode {name}"):
            encoded = [encoding.ids for encoding in encoder.encode_batch_fast(lines, add_special_tokens=False)]
            line_lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            ids = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32, count=int(line_lengths.sum()))
            counts += np.bincount(ids, minlength=n_types)
            lengths.append(line_lengths)
            raw.write(ids.tobytes())
    return (np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)), counts


class LocalTypes(dict):
    """token -> local type id, a new id (the next integer) for each token not seen before."""

    def __missing__(self, token: str) -> int:
        index = self[token] = len(self)
        return index


def _write_split_ids(blocks: Iterator[list[str]], raw_path: Path, verbose: bool,
                     name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The whitespace fast path: split each line, give each token its local type id, append them to ``raw_path``.

    Returns ``(types, lengths, counts)``: list[str] local types by id,
    int64[n_lines] tokens per line, int64[n_types] occurrences.
    """
    local = LocalTypes()
    lookup = local.__getitem__
    lengths: list[np.ndarray] = []
    counts = np.zeros(0, dtype=np.int64)
    with open(raw_path, "wb") as raw:
        for lines in progress(blocks, verbose, f"encode {name}"):
            joined = "\n".join(lines)
            if any(separator in joined for separator in _PYTHON_ONLY_SPACE):
                pieces = [_RUST_TOKEN.findall(line) for line in lines]
            else:
                pieces = list(map(str.split, lines))
            line_lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
            ids = np.fromiter(map(lookup, itertools.chain.from_iterable(pieces)), dtype=np.int32,
                              count=int(line_lengths.sum()))
            block_counts = np.bincount(ids, minlength=len(local))
            block_counts[:counts.shape[0]] += counts
            counts = block_counts
            lengths.append(line_lengths)
            raw.write(ids.tobytes())
    return list(local), (np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)), counts
