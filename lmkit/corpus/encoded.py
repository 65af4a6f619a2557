"""Encoded corpora: int32 id arrays on disk, memory-mapped, built once and reused.

An encoded corpus is a folder::

    ids.npy        int32[n_tokens]       every kept token, sentences back to back
    offsets.npy    int64[n_sentences+1]  sentence s is ids[offsets[s]:offsets[s+1]]
    vocab.tsv      the vocabulary (lmkit.corpus.vocab)
    tokenizer.json the tokenizer that produced it (lmkit.corpus.tokenizer)
    meta.json      sizes, sha256 of every file, provenance; written last

It is built in a temporary folder and renamed into place when complete, so
a run interrupted midway leaves no folder under the final name.  Opening a
folder checks every file against the size and sha256 in ``meta.json`` and
every id against the vocabulary size (one pass, ~1 GB/s): a file edited,
truncated or overwritten in place is an error naming the folder, never ids
that index past the weights of a trainer; :func:`encode_corpus` then
rebuilds it.  The cache key is a digest of the source files (path, size, mtime),
the tokenizer and the vocabulary options.

Encoding never holds the corpus in memory.  The text is cut into tasks (its
files, and byte ranges of large plain files) that :mod:`lmkit.corpus.shards`
tokenizes, in ``workers`` processes or as Ray tasks, into scratch shards of *local* type ids
with their counts.  The counts are merged by token string, the vocabulary is
chosen from them, and two numpy passes, one shard at a time, write
``offsets.npy`` (sentence ends, from the tokens each line keeps) and then map
each shard's type ids to vocabulary ids while concatenating the shards, in
corpus order, into the one ``ids.npy``.  So trainers, the cache and memory-mapped reading see the same
single array whatever the number of workers or where they ran, and the
vocabulary and ids are the same bit for bit (concatenation costs one sequential write, which the
id mapping needs anyway).

Memory is set by the vocabulary, not by the corpus: the driver holds the
merged types and counts (per type) and one shard's line lengths and
local-to-global mapping at a time (the mappings wait on disk beside the
shards), and reads type ids and ids through one bounded buffer
(:class:`lmkit.corpus.chunks.TokenReader`), never through a whole memory map,
whose pages would stay resident, 4 bytes a token.  ``offsets.npy`` is written
as it is computed; only an opened corpus holds it whole
(``EncodedCorpus.offsets``, 8 bytes a sentence, which trainers index at random).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
from lmkit.corpus import shards
from lmkit.corpus.byte_types import TypeTable
from lmkit.corpus.chunks import TokenReader
from lmkit.corpus.datasets import resolve
from lmkit.corpus.shards import batches
from lmkit.corpus.tokenizer import OOV_SENTINEL, Tokenizer, TokenizerConfig
from lmkit.corpus.vocab import Vocab
from lmkit.io import atomic_write

log = logging.getLogger(__name__)

CACHE_FORMAT = "lmkit-encoded"
CACHE_VERSION = 2                # 2: meta.json records n_dropped and each file's sha256
REMAP_CHUNK_TOKENS = 1 << 22     # tokens per numpy chunk of an encoding pass: a 16 MiB buffer, ~70 MiB of temporaries
VERIFY_CHUNK_BYTES = 1 << 26     # 64 MiB read at a time when checking a cache file: bounded memory
CACHE_FILES = ("ids.npy", "offsets.npy", "vocab.tsv", "tokenizer.json")
SCRATCH = "shards"               # the per-task type-id files, under the build folder, removed when done


def default_cache_dir() -> Path:
    """``$LMKIT_CACHE`` if set, else ``~/.cache/lmkit``."""
    env = os.environ.get("LMKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lmkit"


class EncodedCorpus:
    """A corpus as memory-mapped ids plus sentence offsets, with its vocabulary and tokenizer.

    Attributes: ``ids`` (int32[n_tokens], read-only memmap), ``offsets``
    (int64[n_sentences + 1]), ``vocab``, ``tokenizer``, ``directory``, ``name``.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        meta_path = self.directory / "meta.json"
        if not meta_path.is_file():
            raise ValueError(f"{self.directory}: not a complete encoded corpus (no meta.json)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != CACHE_FORMAT or meta.get("format_version") != CACHE_VERSION:
                raise ValueError(f"format {meta.get('format')!r} version {meta.get('format_version')!r}")
            for name, size in meta["file_bytes"].items():
                actual = (self.directory / name).stat().st_size
                if actual != size:
                    raise ValueError(f"{name} has {actual} bytes, meta.json records {size}")
            if sorted(meta["sha256"]) != sorted(CACHE_FILES):
                raise ValueError(f"meta.json records checksums of {sorted(meta['sha256'])}, expected {CACHE_FILES}")
            for name in CACHE_FILES:
                actual = file_sha256(self.directory / name)
                if actual != meta["sha256"][name]:
                    raise ValueError(f"{name} was changed after it was written (sha256 {actual[:12]}..., "
                                     f"meta.json records {meta['sha256'][name][:12]}...)")
            self.ids = np.load(self.directory / "ids.npy", mmap_mode="r", allow_pickle=False)
            self.offsets = np.load(self.directory / "offsets.npy", allow_pickle=False)
            if self.ids.dtype != np.int32 or self.ids.shape != (meta["n_tokens"],):
                raise ValueError(f"ids.npy holds {self.ids.dtype}{self.ids.shape}, expected int32[{meta['n_tokens']}]")
            if (self.offsets.dtype != np.int64 or self.offsets.shape != (meta["n_sentences"] + 1,)
                    or self.offsets[0] != 0 or self.offsets[-1] != meta["n_tokens"]):
                raise ValueError("offsets.npy does not match the token and sentence counts")
            if not np.all(self.offsets[1:] >= self.offsets[:-1]):  # a bool per sentence, no int64 copy
                raise ValueError("offsets.npy is not non-decreasing")
            self.vocab = Vocab.load(self.directory / "vocab.tsv")
            _check_id_range(self.ids, len(self.vocab))
            self.tokenizer = Tokenizer.load(self.directory / "tokenizer.json")
        except (OSError, KeyError, TypeError, json.JSONDecodeError, ValueError) as error:
            raise ValueError(f"{self.directory}: corrupt encoded corpus ({error})") from error
        self.name = meta["source"]
        self.meta = meta

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])

    @property
    def fingerprint(self) -> str:
        """The cache key: a digest of the input files (paths, sizes, times), tokenizer and vocabulary options."""
        return self.directory.name.rsplit("-", 1)[-1]

    @property
    def n_dropped(self) -> int:
        """Tokens of the text left out of ``ids``: outside a vocabulary without ``unk`` (or ``min_count``)."""
        return int(self.meta["n_dropped"])

    @property
    def n_sentences(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __len__(self) -> int:
        return self.n_tokens

    def __repr__(self) -> str:
        return (f"EncodedCorpus({self.name!r}, tokens={self.n_tokens}, sentences={self.n_sentences}, "
                f"vocab={len(self.vocab)})")

    def sentence(self, index: int) -> np.ndarray:
        """The ids of sentence ``index``: int32[length]."""
        return self.ids[self.offsets[index]:self.offsets[index + 1]]

    def sentences(self) -> Iterator[np.ndarray]:
        for index in range(self.n_sentences):
            yield self.sentence(index)

    def counts(self) -> np.ndarray:
        """How often each vocabulary id occurs in ``ids``: int64[V] (special symbols count 0 unless present).

        Reads ``ids`` through one buffer of VERIFY_CHUNK_BYTES, not the memory map (see :func:`_id_chunks`).
        """
        counts = np.zeros(len(self.vocab), dtype=np.int64)
        for _, chunk in _id_chunks(self.ids):
            counts += np.bincount(chunk, minlength=len(self.vocab))
        return counts


def encode_corpus(source, tokenizer: Tokenizer | TokenizerConfig | None = None, *, min_count: int = 1,
                  max_size: int | None = None, unk: str | None = None, eos: str | None = None,
                  max_sentence_length: int = 10_000, errors: str = "strict", encoding: str = "utf-8",
                  cache_dir: str | os.PathLike | None = None, workers: int = 1, cluster: str | None = None,
                  verbose: bool = True) -> EncodedCorpus:
    """Tokenize ``source``, choose a vocabulary, and encode it (or reuse the cached result).

    ``source``: a path, glob, directory, list of paths, or dataset name
    (``"brown:train"``).  ``min_count``, ``max_size``, ``unk`` and ``eos`` are
    :meth:`Vocab.build`'s options; lines longer than ``max_sentence_length``
    tokens are cut into pieces of at most that many.  ``errors`` and
    ``encoding``: how bytes become text (:class:`lmkit.corpus.readers.FileSource`).
    ``workers``: processes that tokenize files (and byte ranges of large plain
    files) in parallel (:mod:`lmkit.corpus.shards`); the result, and so the
    cache entry, is the same for every value.  ``cluster``: run those tasks
    on Ray instead (``"local"``, ``"auto"`` or a cluster address, as
    :func:`lmkit.cluster.connect` reads it; a local Ray gets ``workers`` CPUs,
    all cores for 1); same result again.  On a cluster of several machines
    the files of ``source`` and ``cache_dir`` must be on a filesystem that
    every node shares.  Ray is joined only when the corpus is not cached.
    """
    text = resolve(source, errors=errors, encoding=encoding, verbose=verbose)
    tokenizer = _as_tokenizer(tokenizer)
    _check_common(max_sentence_length, workers, cluster)
    options = {"min_count": min_count, "max_size": max_size, "unk": unk, "eos": eos}
    Vocab.build({"x": max(min_count, 1)}, **options)  # validate the options before any work
    key = _cache_key(text.fingerprint(), tokenizer.to_json(), options, max_sentence_length)

    def build(folder: Path) -> None:
        if tokenizer.needs_training:
            log.info("training the %s subword model on %s", tokenizer.config.subword, text.name)
            tokenizer.train(batches(text.line_blocks(), verbose, f"train {tokenizer.config.subword}"))
        clock = _Clock()
        pieces = shards.tokenize(text, tokenizer, folder / SCRATCH, workers, verbose, cluster=cluster)
        clock.lap("tokenize")
        merged = _Merged(pieces)
        clock.lap("merge")
        if merged.counts.sum() == 0:
            raise ValueError(f"{text.name}: the corpus is empty (no tokens in {merged.n_lines} lines)")
        counts, candidates = _vocabulary_counts(merged.types, merged.counts, min_count, unk, eos)
        vocab = Vocab.build(counts, **options)
        lookup = _type_lookup(merged.types, vocab, candidates)
        clock.lap("vocabulary")
        n_sentences, n_tokens = _write_offsets(folder / "offsets.npy", merged, lookup >= 0, max_sentence_length)
        clock.lap("offsets")
        if eos is not None:  # eos is ranked by its count, the number of sentences, known only now
            vocab = Vocab.build(counts, **options, n_sentences=n_sentences)
            lookup = _type_lookup(merged.types, vocab, candidates)
            clock.lap("vocabulary")
        _finish(folder, text.name, merged, lookup, n_sentences, n_tokens, vocab, tokenizer, clock)

    return _cached(Path(cache_dir) if cache_dir is not None else default_cache_dir(), text.name, key, build)


def encode_with_vocab(source, vocab: Vocab, tokenizer: Tokenizer | TokenizerConfig | None = None, *,
                      max_sentence_length: int = 10_000, errors: str = "strict", encoding: str = "utf-8",
                      cache_dir: str | os.PathLike | None = None, workers: int = 1,
                      cluster: str | None = None, verbose: bool = True) -> EncodedCorpus:
    """Encode ``source`` with a fixed vocabulary (e.g. a test split with the training one).

    Tokens outside ``vocab`` become ``vocab.unk``, or are dropped when it has
    none.  ``workers`` and ``cluster``: as in :func:`encode_corpus`.
    """
    text = resolve(source, errors=errors, encoding=encoding, verbose=verbose)
    tokenizer = _as_tokenizer(tokenizer)
    if tokenizer.needs_training:
        raise ValueError("encode_with_vocab needs a trained subword tokenizer (the one the vocabulary came from)")
    _check_common(max_sentence_length, workers, cluster)
    vocab_digest = hashlib.sha256(json.dumps(vocab.to_dict(), ensure_ascii=False).encode()).hexdigest()
    key = _cache_key(text.fingerprint(), tokenizer.to_json(), {"vocab": vocab_digest}, max_sentence_length)

    def build(folder: Path) -> None:
        clock = _Clock()
        merged = _Merged(shards.tokenize(text, tokenizer, folder / SCRATCH, workers, verbose, cluster=cluster))
        clock.lap("tokenize")
        total = int(merged.counts.sum())
        if total == 0:
            raise ValueError(f"{text.name}: the corpus is empty (no tokens in {merged.n_lines} lines)")
        lookup = _type_lookup(merged.types, vocab)
        n_sentences, n_tokens = _write_offsets(folder / "offsets.npy", merged, lookup >= 0, max_sentence_length)
        if n_sentences == 0:
            raise ValueError(f"{text.name}: all {total} tokens are outside the vocabulary, which has no unk symbol")
        _finish(folder, text.name, merged, lookup, n_sentences, n_tokens, vocab, tokenizer, clock)

    return _cached(Path(cache_dir) if cache_dir is not None else default_cache_dir(), text.name, key, build)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in VERIFY_CHUNK_BYTES pieces into one buffer (``read()`` would
    allocate each piece while the last one is still alive: two pieces at the peak)."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(VERIFY_CHUNK_BYTES))
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
    return digest.hexdigest()


def _id_chunks(ids: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, ids[start:start + n])`` pieces of VERIFY_CHUNK_BYTES, read from the file through one buffer
    (:class:`TokenReader`) when ``ids`` is a memmap: slicing the map would leave every page read resident
    in this process (VmRSS / VmHWM grow by 4 bytes a token), while a file read only passes through the page
    cache.  Each piece is valid until the next one."""
    n_tokens, step = int(ids.shape[0]), VERIFY_CHUNK_BYTES // 4
    reader = TokenReader(ids, min(step, n_tokens))
    try:
        for start in range(0, n_tokens, step):
            stop = min(start + step, n_tokens)
            held, base = reader.read(start, stop)
            yield start, held[start - base:stop - base]
    finally:
        reader.close()


def _check_id_range(ids: np.ndarray, vocab_size: int) -> None:
    """ValueError unless every id is in [0, vocab_size): trainers index weight rows with them unchecked."""
    for start, chunk in _id_chunks(ids):
        low, high = int(chunk.min()), int(chunk.max())
        if low < 0 or high >= vocab_size:
            bad = int(np.flatnonzero((chunk < 0) | (chunk >= vocab_size))[0])
            raise ValueError(f"ids.npy holds id {int(chunk[bad])} at token {start + bad}, outside the "
                             f"vocabulary of {vocab_size} words")


# ----------------------------------------------------------------------------- internals

def _check_common(max_sentence_length: int, workers: int, cluster: str | None) -> None:
    if max_sentence_length < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if cluster is not None and (not isinstance(cluster, str) or not cluster.strip()):
        raise ValueError(f"cluster must be 'local', 'auto' or a Ray address, got {cluster!r}")


def _as_tokenizer(tokenizer) -> Tokenizer:
    if tokenizer is None:
        return Tokenizer()
    if isinstance(tokenizer, TokenizerConfig):
        return Tokenizer(tokenizer)
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    raise ValueError(f"tokenizer must be a Tokenizer, TokenizerConfig or None, got {type(tokenizer).__name__}")


def _cache_key(fingerprint: str, tokenizer_json: str, options: dict, max_sentence_length: int) -> str:
    document = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "source": fingerprint,
                "tokenizer": tokenizer_json, "options": options, "max_sentence_length": max_sentence_length}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:24]


def _cached(cache_dir: Path, name: str, key: str, build) -> EncodedCorpus:
    """Open the cached corpus for ``key``, building it with ``build(folder)`` if absent or corrupt."""
    folder = cache_dir / "corpora" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[-60:]}-{key}"
    if folder.exists():
        try:
            corpus = EncodedCorpus(folder)
            log.info("reusing encoded corpus %s", folder)
            return corpus
        except ValueError as error:
            log.warning("rebuilding the encoded corpus: %s", error)
            shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".building-{key}-", dir=folder.parent))
    try:
        build(scratch)
        os.replace(scratch, folder)
    except OSError:
        if not (folder / "meta.json").is_file():  # not a concurrent build that finished first
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return EncodedCorpus(folder)


class _Clock:
    """Wall seconds per phase of a build (``seconds``: phase -> s), recorded in meta.json: where the time goes."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self.last, 3)
        self.last = now


class _Merged:
    """The shards of one corpus with their local types merged by token string.

    ``types`` (list[str], first-seen order over the shards) and ``counts``
    (int64[n_types]) are corpus-wide.  Shard k's local-to-global mapping
    (int32[n_types_k]: its local type ids to indices of ``types``) is saved
    beside the shard and read back by :meth:`mapping` when that shard's turn
    comes: kept for all shards at once they would grow with the corpus
    (shards x local types).
    """

    def __init__(self, pieces: list[shards.Shard]):
        self.shards = pieces
        table = TypeTable()
        for shard in pieces:
            mapping = table.add_lines(shard.types_utf8(), shard.counts()).astype(np.int32)
            np.save(_mapping_path(shard), mapping, allow_pickle=False)
        self.types = table.types()
        self.counts = table.counts()
        self.n_lines = sum(shard.n_lines for shard in pieces)
        self.n_raw_tokens = sum(shard.n_tokens for shard in pieces)

    def mapping(self, shard: shards.Shard) -> np.ndarray:
        """int32[n_types_k]: ``shard``'s local type ids to indices of ``types``."""
        return np.load(_mapping_path(shard), allow_pickle=False)


def _mapping_path(shard: shards.Shard) -> Path:
    return shard.prefix.with_name(shard.prefix.name + ".global.npy")


def _line_chunks(lengths: np.ndarray) -> Iterator[tuple[int, int, int, int]]:
    """``(first_line, end_line, first_token, end_token)`` groups of whole lines of about REMAP_CHUNK_TOKENS."""
    ends = np.cumsum(lengths)
    line = 0
    while line < lengths.shape[0]:
        start = int(ends[line - 1]) if line else 0
        stop = max(int(np.searchsorted(ends, start + REMAP_CHUNK_TOKENS, side="right")), line + 1)
        yield line, stop, start, int(ends[stop - 1])
        line = stop


def _raw_chunks(shard: shards.Shard, lengths: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(first_line, end_line, raw)``: the type ids (int32) of whole lines of a shard, about
    REMAP_CHUNK_TOKENS at a time (:func:`_line_chunks` of ``lengths``: int64[n_lines_k]), read from its
    file into one buffer (see :func:`_id_chunks`).  Each is valid until the next."""
    chunks = list(_line_chunks(lengths))
    reader = TokenReader(shard.raw(), max((stop - start for _, _, start, stop in chunks), default=1))
    try:
        for first, end, start, stop in chunks:
            held, base = reader.read(start, stop)
            yield first, end, held[start - base:stop - base]
    finally:
        reader.close()


def _kept_lengths(shard: shards.Shard, kept: np.ndarray, max_sentence_length: int) -> np.ndarray:
    """A shard's sentence lengths after dropping unkept types, empty lines and cutting long lines:
    int64[n_sentences_k].  ``kept``: bool[n_types_k], by local type id."""
    lengths = shard.lengths()
    per_line = np.empty_like(lengths)
    for first, end, raw in _raw_chunks(shard, lengths):
        running = np.concatenate(([0], np.cumsum(kept[raw], dtype=np.int64)))
        line_ends = np.cumsum(lengths[first:end])
        line_starts = line_ends - lengths[first:end]
        per_line[first:end] = running[line_ends] - running[line_starts]
    per_line = per_line[per_line > 0]
    pieces = -(-per_line // max_sentence_length)
    result = np.repeat(np.int64(max_sentence_length), int(pieces.sum()))
    last_piece = np.cumsum(pieces) - 1
    result[last_piece] = per_line - (pieces - 1) * max_sentence_length
    return result


def _vocabulary_counts(types: list[str], counts: np.ndarray, min_count: int, unk: str | None,
                       eos: str | None) -> tuple[dict[str, int], np.ndarray]:
    """The ``counts`` to give :meth:`Vocab.build`, and int64[k]: the type ids they name.

    A corpus has millions of types, most below ``min_count``; they can only
    add to the unk symbol's count, so instead of a dict of every type this
    keeps the types with count >= ``min_count`` and the special symbols, and
    adds the others' total to the unk entry: ``Vocab.build`` gives the same
    vocabulary (it counts the literal unk symbol, and the dropped types, as
    unk).  When no type reaches ``min_count``, every type is kept, so that
    ``Vocab.build`` reports the empty vocabulary as it would.
    """
    special = np.zeros(len(types), dtype=bool)
    for symbol in (unk, eos, OOV_SENTINEL):
        if symbol is not None and symbol in types:
            special[types.index(symbol)] = True
    frequent = counts >= min_count
    if (frequent & ~special).any():
        chosen = np.flatnonzero((frequent | special) & (counts > 0))
        dropped = int(counts[~frequent & ~special].sum())
    else:
        chosen, dropped = np.flatnonzero(counts > 0), 0
    result = {types[index]: count for index, count in zip(chosen.tolist(), counts[chosen].tolist())
              if types[index] != OOV_SENTINEL}
    if unk is not None and dropped:
        result[unk] = result.get(unk, 0) + dropped
    return result, chosen


def _write_offsets(path: Path, merged: _Merged, kept: np.ndarray, max_sentence_length: int) -> tuple[int, int]:
    """Write ``offsets.npy`` (int64[n_sentences + 1], see the module docstring) one shard at a time;
    return ``(n_sentences, n_tokens)``.  ``kept``: bool[n_types], the corpus-wide types that stay.

    The header is written first for 0 sentences and rewritten at the end: numpy pads a 1-D header
    to the same length whatever the count, so the file is the one ``np.save`` writes.
    """
    with open(path, "wb") as handle:
        _write_npy_header(handle, np.int64, 0)
        header_bytes = handle.tell()
        handle.write(np.zeros(1, dtype=np.int64).tobytes())
        n_sentences = n_tokens = 0
        for shard in merged.shards:
            lengths = _kept_lengths(shard, kept[merged.mapping(shard)], max_sentence_length)
            ends = np.cumsum(lengths) + n_tokens
            handle.write(ends.tobytes())
            n_sentences += int(lengths.shape[0])
            n_tokens = int(ends[-1]) if ends.shape[0] else n_tokens
        handle.seek(0)
        _write_npy_header(handle, np.int64, n_sentences + 1)
        if handle.tell() != header_bytes:
            raise RuntimeError(f"internal error: the .npy header of {n_sentences + 1} items has {handle.tell()} bytes, "
                               f"not {header_bytes}")
        handle.flush()
        os.fsync(handle.fileno())
    return n_sentences, n_tokens


def _type_lookup(type_tokens: list[str], vocab: Vocab, candidates: np.ndarray | None = None) -> np.ndarray:
    """int32[n_types]: the vocabulary id of each type id (unk_id, or -1 to drop).

    ``candidates``: int64[k], the only type ids that can be in ``vocab``
    (:func:`_vocabulary_counts`); the others get unk_id without a lookup.
    """
    get, default = vocab.token_to_id.get, vocab.unk_id
    if candidates is None:
        return np.fromiter((get(token, default) for token in type_tokens), dtype=np.int32, count=len(type_tokens))
    lookup = np.full(len(type_tokens), default, dtype=np.int32)
    lookup[candidates] = np.fromiter((get(type_tokens[index], default) for index in candidates.tolist()),
                                     dtype=np.int32, count=candidates.shape[0])
    return lookup


def _finish(folder: Path, name: str, merged: _Merged, lookup: np.ndarray, n_sentences: int, n_tokens: int,
            vocab: Vocab, tokenizer: Tokenizer, clock: "_Clock") -> None:
    """Map every shard's type ids to vocabulary ids (``lookup``: int32[n_types], -1 drops) into one ids.npy,
    in shard order, one buffer at a time; write vocab, tokenizer and meta.json (offsets.npy is there)."""
    with open(folder / "ids.npy", "wb") as handle:
        _write_npy_header(handle, np.int32, n_tokens)
        written = 0
        for shard in merged.shards:
            shard_lookup = lookup[merged.mapping(shard)]
            for _, _, raw in _raw_chunks(shard, shard.lengths()):
                ids = shard_lookup[raw]
                ids = ids[ids >= 0]
                handle.write(ids.tobytes())
                written += ids.shape[0]
        handle.flush()
        os.fsync(handle.fileno())
    if written != n_tokens:
        raise RuntimeError(f"internal error: wrote {written} ids, expected {n_tokens}")
    shutil.rmtree(folder / SCRATCH)
    clock.lap("write ids")
    vocab.save(folder / "vocab.tsv")
    tokenizer.save(folder / "tokenizer.json")
    file_bytes = {f: (folder / f).stat().st_size for f in CACHE_FILES}
    meta = {"format": CACHE_FORMAT, "format_version": CACHE_VERSION, "source": name, "n_tokens": n_tokens,
            "n_dropped": merged.n_raw_tokens - n_tokens, "n_sentences": n_sentences, "n_lines": merged.n_lines,
            "vocab_size": len(vocab), "file_bytes": file_bytes,
            "sha256": {f: file_sha256(folder / f) for f in CACHE_FILES}}
    clock.lap("write ids")
    meta["seconds"] = clock.seconds
    log.info("encoded %s in %s", name, ", ".join(f"{k} {v:.2f} s" for k, v in clock.seconds.items()))
    with atomic_write(folder / "meta.json", "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1)


def _write_npy_header(handle, dtype, length: int) -> None:
    """A version-1.0 .npy header for a 1-D array of ``length`` items of ``dtype``."""
    header = np.lib.format.header_data_from_array_1_0(np.empty(0, dtype=dtype))
    header["shape"] = (length,)
    np.lib.format.write_array_header_1_0(handle, header)
