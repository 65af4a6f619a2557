"""Named datasets: where to find them, how to fetch them, how to read Brown.

Anywhere lmkit takes a corpus path it also takes a dataset name:
``brown`` (the whole corpus) or ``brown:train`` / ``brown:valid`` /
``brown:test`` (the split of Bengio et al. 2003: the first 800,000 tokens,
the next 200,000, and the rest, texts in order ca01..cr09).

Files are looked up in ``$LMKIT_DATA``, then lmkit's own data folder, then
the standard ``nltk_data`` folders; ``lmkit data download NAME`` fetches a
missing one from its public URL and checks its sha256.  A dataset used by
name (:func:`dataset_file`) is fetched the same way on first use, so the
first command on a fresh machine works; ``LMKIT_NO_DOWNLOAD=1`` (or
``download=False``, the CLI's ``--no-download``) turns that off, for offline
or audited machines.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lmkit.io import atomic_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetFile:
    """A public data file lmkit knows by name."""

    name: str
    filename: str
    url: str
    sha256: str
    description: str


# sha256 values as listed in the shared data README (files from NLTK's data
# package and gensim's test data).
DATASET_FILES = {
    "brown": DatasetFile(
        "brown", "brown.zip",
        "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/brown.zip",
        "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6",
        "Brown corpus (Francis & Kucera 1964/1979), NLTK layout, ~1.16M tokens"),
    "questions-words": DatasetFile(
        "questions-words", "questions-words.txt",
        "https://raw.githubusercontent.com/piskvorky/gensim/develop/gensim/test/test_data/questions-words.txt",
        "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
        "Mikolov et al. (2013) word-analogy questions, 19,544 in 14 sections"),
    "wordsim353": DatasetFile(
        "wordsim353", "wordsim353.tsv",
        "https://raw.githubusercontent.com/piskvorky/gensim/develop/gensim/test/test_data/wordsim353.tsv",
        "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
        "WordSim-353 (Finkelstein et al. 2002), 353 scored word pairs"),
}

BROWN_SPLITS = ("train", "valid", "test")
BENGIO_TRAIN_TOKENS = 800_000   # Bengio et al. (2003), section 4.1
BENGIO_VALID_TOKENS = 200_000
BENGIO_RARE_MAX_COUNT = 3       # words seen <= 3 times merge into one rare-word symbol
BROWN_READER_VERSION = 1        # bump when the reader's output changes: invalidates caches
NO_DOWNLOAD_ENV = "LMKIT_NO_DOWNLOAD"  # set to 1 to never fetch a missing dataset on first use
DOWNLOAD_BLOCK_BYTES = 1 << 20


def default_data_dir() -> Path:
    """Where downloads go: ``$LMKIT_DATA`` if set, else ``~/.local/share/lmkit``."""
    env = os.environ.get("LMKIT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "lmkit"


def search_dirs() -> list[Path]:
    """The folders searched for dataset files, in order."""
    dirs = [default_data_dir(), Path.home() / ".local" / "share" / "lmkit"]
    nltk_roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    nltk_roots += [Path.home() / "nltk_data", Path(sys.prefix) / "nltk_data", Path(sys.prefix) / "share" / "nltk_data",
                   Path(sys.prefix) / "lib" / "nltk_data", Path("/usr/share/nltk_data"),
                   Path("/usr/local/share/nltk_data"), Path("/usr/lib/nltk_data"), Path("/usr/local/lib/nltk_data")]
    dirs += [root / "corpora" for root in nltk_roots]
    unique: list[Path] = []
    for directory in dirs:
        if directory not in unique:
            unique.append(directory)
    return unique


def find_dataset_file(name: str) -> Path:
    """The local path of dataset ``name``; ``FileNotFoundError`` says where it looked and how to get it."""
    if name not in DATASET_FILES:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASET_FILES))}")
    entry = DATASET_FILES[name]
    candidates = [directory / entry.filename for directory in search_dirs()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = "\n  ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"dataset {name!r} ({entry.filename}) not found. Looked in:\n  {looked}\n"
        f"Get it with `lmkit data download {name}` (from {entry.url}, sha256-checked), "
        f"or set LMKIT_DATA to a folder that holds {entry.filename}.")


def downloads_allowed(download: bool | None = None) -> bool:
    """``download`` if given, else True unless ``$LMKIT_NO_DOWNLOAD`` is set to a true value."""
    if download is not None:
        return bool(download)
    return os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def dataset_file(name: str, download: bool | None = None, verbose: bool = True) -> Path:
    """The local path of dataset ``name``, fetched into :func:`default_data_dir` on first use.

    ``download``: None follows ``$LMKIT_NO_DOWNLOAD``; False only looks.  When
    the file is missing and cannot be fetched (offline, no permission), the
    ``FileNotFoundError`` of :func:`find_dataset_file` is raised, with the
    reason the download failed.
    """
    try:
        return find_dataset_file(name)
    except FileNotFoundError as missing:
        if not downloads_allowed(download):
            raise
        log.warning("dataset %r not found locally: downloading it to %s (--no-download or %s=1 turns this off)",
                    name, default_data_dir(), NO_DOWNLOAD_ENV)
        try:
            return _DOWNLOADER(name, verbose=verbose)
        except ValueError as failed:
            raise FileNotFoundError(f"{missing}\nFetching it failed: {failed}") from None


def download(name: str, dest_dir: str | os.PathLike | None = None, url: str | None = None,
             verbose: bool = True) -> Path:
    """Fetch dataset ``name`` into ``dest_dir`` (default :func:`default_data_dir`).

    The file is streamed to a temporary name, its sha256 compared with the
    known value, and only then renamed into place: a failed or tampered
    download leaves nothing behind.  ``url`` overrides the public address
    (``file://`` URLs work, for offline use and tests).  ``verbose``: a
    progress bar on stderr.
    """
    if name not in DATASET_FILES:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASET_FILES))}")
    entry = DATASET_FILES[name]
    target = Path(dest_dir) if dest_dir is not None else default_data_dir()
    path = target / entry.filename
    source_url = url or entry.url
    digest = hashlib.sha256()
    log.info("downloading %s from %s", entry.filename, source_url)
    try:
        with urllib.request.urlopen(source_url, timeout=60) as response, atomic_write(path) as handle, \
                _progress_bar(response, entry.filename, verbose) as bar:
            while block := response.read(DOWNLOAD_BLOCK_BYTES):
                digest.update(block)
                handle.write(block)
                bar.update(len(block))
            if digest.hexdigest() != entry.sha256:
                raise ValueError(f"download of {name!r} from {source_url} failed its checksum: sha256 "
                                 f"{digest.hexdigest()}, expected {entry.sha256}; nothing was saved")
    except OSError as error:
        raise ValueError(f"could not download {name!r} from {source_url}: {error}") from error
    return path


def _progress_bar(response, filename: str, verbose: bool):
    """A tqdm bar in bytes (its total from Content-Length when the server sends one)."""
    from tqdm.auto import tqdm

    length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
    return tqdm(total=int(length) if length and length.isdigit() else None, unit="B", unit_scale=True,
                unit_divisor=1024, desc=f"download {filename}", disable=not verbose, leave=False)


_DOWNLOADER = download  # what dataset_file calls; tests replace it with a fake that never touches the network


# ----------------------------------------------------------------------------- Brown

BROWN_TEXT = re.compile(r"brown/c[a-r]\d\d")
_TAG = re.compile(r"/[^\s/]*(?=\s|$)")  # the last "/tag" of each word/tag token


def brown_sentences(zip_path: str | os.PathLike) -> list[list[str]]:
    """Every sentence of the Brown corpus as a list of words, texts in order ca01..cr09.

    Words are taken from ``word/tag`` tokens (the text before the last ``/``,
    as NLTK does), case kept; each non-blank line is one sentence.
    """
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = sorted(n for n in archive.namelist() if BROWN_TEXT.fullmatch(n))
            if not names:
                raise ValueError(f"{zip_path}: no Brown texts (brown/ca01 ... brown/cr09) in this zip file")
            sentences = []
            for member in names:
                for line in archive.read(member).decode("utf-8").split("\n"):
                    words = _TAG.sub("", line).split()
                    if words:
                        sentences.append(words)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{zip_path}: not a valid zip file ({error})") from error
    return sentences


def bengio_split(sentences: list[list[str]], train_tokens: int = BENGIO_TRAIN_TOKENS,
                 valid_tokens: int = BENGIO_VALID_TOKENS) -> dict[str, list[list[str]]]:
    """Bengio et al. (2003)'s split by token position: first ``train_tokens``, next ``valid_tokens``, rest.

    A sentence that straddles a boundary is cut there, so the splits hold
    exactly those token counts.
    """
    bounds = (train_tokens, train_tokens + valid_tokens)
    splits: dict[str, list[list[str]]] = {name: [] for name in BROWN_SPLITS}
    position = 0
    for words in sentences:
        start = position
        position += len(words)
        pieces = ((0, bounds[0], "train"), (bounds[0], bounds[1], "valid"), (bounds[1], position, "test"))
        for low, high, name in pieces:
            begin, end = max(low, start), min(high, position)
            if begin < end:
                splits[name].append(words[begin - start:end - start])
    return splits


class BrownSource:
    """The Brown corpus, whole or one Bengio split, as a line source (words joined by spaces)."""

    def __init__(self, split: str | None = None, zip_path: str | os.PathLike | None = None,
                 download: bool | None = None, verbose: bool = True):
        if split is not None and split not in BROWN_SPLITS:
            raise ValueError(f"unknown Brown split {split!r}; use one of {', '.join(BROWN_SPLITS)}")
        self.split = split
        self.zip_path = Path(zip_path) if zip_path is not None else dataset_file("brown", download, verbose)
        self.name = "brown" if split is None else f"brown:{split}"

    def sentences(self) -> list[list[str]]:
        sentences = brown_sentences(self.zip_path)
        return sentences if self.split is None else bengio_split(sentences)[self.split]

    def line_blocks(self) -> Iterator[list[str]]:
        yield [" ".join(words) for words in self.sentences()]

    def fingerprint(self) -> str:
        stat = self.zip_path.stat()
        return (f"brown:{BROWN_READER_VERSION}:{self.split}:{self.zip_path.resolve()}:"
                f"{stat.st_size}:{stat.st_mtime_ns}")


def _is_brown_zip(path: Path) -> bool:
    """True for a zip archive in NLTK's ``brown.zip`` layout (brown/ca01 ... brown/cr09)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(BROWN_TEXT.fullmatch(name) for name in archive.namelist())


CORPUS_DATASETS = ("brown",)
_DATASET_SPEC = re.compile(r"[A-Za-z][A-Za-z0-9_-]*:[A-Za-z0-9_-]*")


def is_dataset_name(spec: object) -> bool:
    """True for strings like ``brown`` or ``brown:test`` that name a dataset rather than a file.

    A string of the form ``name:split`` that is not an existing path also
    counts, so that a misspelt dataset gets "unknown dataset" rather than
    "file not found".
    """
    if not isinstance(spec, str) or Path(spec).exists():
        return False
    return spec in CORPUS_DATASETS or bool(_DATASET_SPEC.fullmatch(spec))


def resolve(spec, errors: str = "strict", encoding: str = "utf-8", max_invalid: float | None = None,
            download: bool | None = None, verbose: bool = True):
    """A line source for a path, glob, list of paths, or dataset name.

    Returns an object with ``name``, ``line_blocks()`` and ``fingerprint()``
    (an object that already has them is returned as it is).  ``errors``,
    ``encoding`` and ``max_invalid`` (None: the reader's default) are
    :class:`~lmkit.corpus.readers.FileSource`'s; ``download`` and ``verbose``
    are :func:`dataset_file`'s, for a dataset name.
    """
    from lmkit.corpus.readers import MAX_INVALID, FileSource

    if hasattr(spec, "line_blocks") and hasattr(spec, "fingerprint"):
        return spec
    if is_dataset_name(spec):
        name, _, split = spec.partition(":")
        if name not in CORPUS_DATASETS:
            raise ValueError(f"unknown dataset {name!r} in {spec!r}; corpus datasets: "
                             f"{', '.join(CORPUS_DATASETS)} (with :train, :valid or :test for brown)")
        return BrownSource(split or None, download=download, verbose=verbose)
    if isinstance(spec, (str, os.PathLike)) and _is_brown_zip(Path(spec)):  # NLTK's brown.zip by path
        return BrownSource(zip_path=Path(spec))
    return FileSource(spec, errors=errors, encoding=encoding,
                      max_invalid=MAX_INVALID if max_invalid is None else max_invalid)
