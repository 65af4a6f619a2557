"""The ARPA back-off format: n-gram models as KenLM and SRILM write and read them.

An ARPA file lists, for each order ``k``, n-grams with their ``log10`` probability
and (below the highest order) a ``log10`` back-off weight::

    \\data\\
    ngram 1=N1
    ngram 2=N2

    \\1-grams:
    -1.2041   the   -0.3010
    ...
    \\2-grams:
    -0.4771   <s> the
    ...
    \\end\\

and is read as the back-off recursion (Katz 1987; SRILM's ``ngram-format(5)``)::

    p(w | h) = P(h w)                   if "h w" is listed
             = B(h) p(w | h')           otherwise (B(h) = 1 when h is not listed)

with ``h'`` the history without its oldest word.  An interpolated model such as
lmkit's Kneser-Ney (:mod:`lmkit.lm.ngram`) is written exactly in this form, as
KenLM's ``lmplz`` and SRILM's ``-interpolate`` write theirs: each seen n-gram gets
its full interpolated probability ``p_k(w | h)`` and each seen history its
``gamma_k(h)``, the weight of the lower order, which an unseen word falls back to.

Symbols: ``<s>`` is the start of text, lmkit's padding id ``len(vocab)``: it begins
n-grams and is never predicted (``log10 p = -99`` by convention).  ``</s>`` and
``<unk>`` are ordinary words to lmkit, and become its ``eos`` and ``unk`` symbols on
reading.  KenLM scores a sentence as ``<s> w1 .. wn </s>``, the same predictions
as lmkit's ``boundaries="sentence"`` with ``eos="</s>"`` (two leading ``<s>`` are
one, as lmkit skips a history opening with two padding symbols).

Reading any ARPA file gives the tables of a :class:`~lmkit.lm.ngram.KneserNey`, which hold
the back-off model (``den = 1``, ``gamma = B(h)``, ``num = P(h w) - B(h) p(w | h')``,
``gamma1 = 0`` so that unigrams are taken as listed), so scoring, perplexity,
mixtures and saving work unchanged.  Probabilities are written with nine
significant digits: the file's ``log10`` values are within 5e-10 of the model's.
"""
from __future__ import annotations

import contextlib
import gzip
import bz2
import math
import os
import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator, NamedTuple

import numpy as np

from lmkit.io import atomic_write_compressed
from lmkit.lm.kn_tables import MAX_ORDER, interpolate, lookup

if TYPE_CHECKING:  # annotations only: KneserNey's save_arpa/load_arpa call this module
    from lmkit.corpus.tokenizer import Tokenizer
    from lmkit.corpus.vocab import Vocab
    from lmkit.lm.ngram import KneserNey

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
NEVER = -99.0  # log10 "probability" of <s>, which is never predicted (KenLM and SRILM write -99)
_COUNT_LINE = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION_LINE = re.compile(r"\\(\d+)-grams:$")


# ----------------------------------------------------------------------------- tables <-> words

def _hist_words(tables: dict, v: int, order: int) -> list[np.ndarray]:
    """``int64[n_j, j]`` for j = 0..order-1: the words of each history (oldest first; ``v`` = ``<s>``)."""
    words = [np.zeros((1, 0), dtype=np.int64)]
    for j in range(1, order):
        keys = tables[f"hist{j}"]
        words.append(np.column_stack([keys % (v + 1), words[j - 1][keys // (v + 1)]]))
    return words


def _hist_chain(tables: dict, words: np.ndarray, v: int) -> list[np.ndarray]:
    """Ids of the last 0..j words of each row of ``words: int64[m, j]`` in the history tables (-1: absent)."""
    m, j = words.shape
    ids = [np.zeros(m, dtype=np.int64)]
    for i in range(1, j + 1):
        prev = ids[-1]
        keys = np.maximum(prev, 0) * (v + 1) + words[:, j - i]
        ids.append(lookup(tables[f"hist{i}"], keys, prev >= 0))
    return ids


def _gram_chain(tables: dict, k: int, v: int) -> tuple[list[np.ndarray], np.ndarray]:
    """For every n-gram of order ``k``: the ids of its history's suffixes (lengths 0..k-1) and its word."""
    keys = tables[f"grams{k}"]
    chain = [None] * k
    chain[k - 1] = keys // v
    for j in range(k - 1, 0, -1):
        chain[j - 1] = tables[f"hist{j}"][chain[j]] // (v + 1)
    return chain, keys % v


# ----------------------------------------------------------------------------- writing

class ArpaModel(NamedTuple):
    """What an ARPA file holds, as the tables of :mod:`lmkit.lm.kn_tables`."""

    order: int
    vocab: Vocab
    tables: dict[str, np.ndarray]
    tokenizer: Tokenizer | None


def write_arpa(model: KneserNey, path: str | os.PathLike) -> Path:
    """Write a fitted :class:`KneserNey` (or one read from ARPA) as an ARPA file; ``.gz``/``.bz2`` compress.

    Every vocabulary word is a unigram (unseen ones with the uniform share of
    the unigram's left-over mass); every n-gram seen in training is listed with
    ``log10 p_k(w | h)``, and every listed n-gram that is also a seen history
    carries ``log10 gamma(h)`` as its back-off weight.  The tokenizer, if the
    model has one, goes beside the file as ``<file>.tokenizer.json``.
    """
    model._check_fitted()
    path = Path(path)
    tables, order = model.tables, model.order
    tokens = list(model.vocab.tokens)
    v = len(tokens)
    for token in tokens:
        if token == BOS or not token or token.split() != [token]:
            raise ValueError(f"word {token!r} cannot be written to an ARPA file: words must be non-empty, "
                             f"without whitespace, and not {BOS!r} (the start-of-text symbol)")
    names = np.array(tokens + [BOS], dtype=object)
    hist_words = _hist_words(tables, v, order)
    sections = []
    # unigrams: every word, and <s> (never predicted) with the back-off of the history "<s>"
    p1 = interpolate(tables, [np.zeros(v, dtype=np.int64)], np.arange(v, dtype=np.int64), v, 1)
    unigram_words = np.arange(v + 1, dtype=np.int64)[:, None]
    logp = np.append(np.log10(p1), NEVER)
    sections.append((unigram_words, logp))
    for k in range(2, order + 1):
        chain, targets = _gram_chain(tables, k, v)
        words = np.column_stack([hist_words[k - 1][chain[k - 1]], targets])
        sections.append((words, np.log10(interpolate(tables, chain, targets, v, k))))
    with atomic_write_compressed(path) as handle:
        handle.write(b"\\data\\\n")
        for k, (words, _) in enumerate(sections, start=1):
            handle.write(f"ngram {k}={len(words)}\n".encode())
        for k, (words, logp) in enumerate(sections, start=1):
            handle.write(f"\n\\{k}-grams:\n".encode())
            if k < order:  # back-off: gamma_{k+1} of the n-gram read as a history
                hid = _hist_chain(tables, words, v)[-1]
                gamma = tables[f"gamma{k + 1}"][np.maximum(hid, 0)]
                with np.errstate(divide="ignore"):
                    backoff = np.where(hid >= 0, np.log10(gamma), 0.0)
            for start in range(0, len(words), 65536):
                rows = words[start:start + 65536]
                text = [" ".join(row) for row in names[rows].tolist()]
                probs = logp[start:start + 65536].tolist()
                if k < order:
                    lines = (f"{p:.9g}\t{w}\t{b:.9g}\n" for p, w, b in
                             zip(probs, text, backoff[start:start + 65536].tolist()))
                else:
                    lines = (f"{p:.9g}\t{w}\n" for p, w in zip(probs, text))
                handle.write("".join(lines).encode("utf-8"))
        handle.write(b"\n\\end\\\n")
    if model.tokenizer is not None:
        from lmkit.corpus.tokenizer import sidecar_path

        model.tokenizer.save(sidecar_path(path))
    return path


# ----------------------------------------------------------------------------- reading

@contextlib.contextmanager
def _open_read(path: Path) -> Iterator[IO[bytes]]:
    """Binary handle on ``path``, decompressed when it starts with the gzip or bzip2 magic bytes."""
    with open(path, "rb") as probe:
        magic = probe.read(3)
    if magic[:2] == b"\x1f\x8b":
        opener = gzip.open
    elif magic == b"BZh":
        opener = bz2.open
    else:
        opener = open
    with opener(path, "rb") as handle:
        yield handle


def looks_like_arpa(path: str | os.PathLike) -> bool:
    """Whether one of the first 100 lines of ``path`` (plain, gzip or bzip2) is ``\\data\\``: an ARPA file.

    (Readers skip what comes before ``\\data\\``, which some tools fill with comments.)
    """
    try:
        with _open_read(Path(path)) as handle:
            for _ in range(100):
                line = handle.readline(256)
                if not line:
                    return False
                if line.strip() == b"\\data\\":
                    return True
    except (OSError, EOFError, ValueError):
        return False
    return False


def _lines(handle: IO[bytes], path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, stripped text)`` of each line; a non-UTF-8 line is an error naming it."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield number, raw.decode("utf-8").strip()
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: line {number}: not UTF-8 text ({error.reason})") from None


def _number(text: str, path: Path, number: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: line {number}: {what} {text[:40]!r} is not a number") from None
    if math.isnan(value) or value == math.inf:
        raise ValueError(f"{path}: line {number}: {what} {text!r} is not a finite log10 value")
    return value


def _parse(path: Path):
    """The sections of an ARPA file: ``{k: (line numbers, log10 p, words, log10 back-off)}``."""
    with _open_read(path) as handle:
        stream = _lines(handle, path)
        number = 0
        for number, text in stream:
            if text == "\\data\\":
                break
        else:
            raise ValueError(f"{path}: no \\data\\ line: not an ARPA file (read {number} lines)")
        counts: dict[int, int] = {}
        pending = None  # (line number, text) of a section header read ahead
        for number, text in stream:
            if not text:
                if counts:
                    break
                continue
            match = _COUNT_LINE.match(text)
            if match is None and counts and text.startswith("\\"):
                pending = (number, text)
                break
            if match is None or int(match.group(1)) != len(counts) + 1:
                raise ValueError(f"{path}: line {number}: expected 'ngram {len(counts) + 1}=COUNT', "
                                 f"got {text[:60]!r}")
            counts[int(match.group(1))] = int(match.group(2))
        else:
            raise ValueError(f"{path}: line {number}: unexpected end of file in the \\data\\ counts")
        order = len(counts)
        sections = {}
        k = 1
        while True:
            if pending is None:
                for number, text in stream:
                    if text:
                        pending = (number, text)
                        break
                else:
                    wanted = "\\end\\" if k > order else f"\\{k}-grams:"
                    raise ValueError(f"{path}: line {number}: unexpected end of file, expected {wanted}")
            number, text = pending
            pending = None
            if text == "\\end\\":
                if k <= order:
                    raise ValueError(f"{path}: line {number}: \\end\\ before \\{k}-grams: "
                                     f"(\\data\\ declares orders 1..{order})")
                break
            match = _SECTION_LINE.match(text)
            if match is None or int(match.group(1)) != k or k > order:
                wanted = "\\end\\" if k > order else f"\\{k}-grams:"
                raise ValueError(f"{path}: line {number}: expected {wanted}, got {text[:60]!r}")
            numbers, probs, words, backoffs = [], [], [], []
            for number, text in stream:
                if not text:
                    break
                if text.startswith("\\"):
                    pending = (number, text)
                    break
                fields = text.split()
                if len(fields) not in (k + 1, k + 2):
                    raise ValueError(f"{path}: line {number}: a {k}-gram line needs log10 p, {k} word(s) and "
                                     f"an optional log10 back-off, got {len(fields)} fields")
                probs.append(_number(fields[0], path, number, "log10 probability"))
                words.append(fields[1:k + 1])
                backoffs.append(_number(fields[k + 1], path, number, "log10 back-off")
                                if len(fields) == k + 2 else 0.0)
                numbers.append(number)
            else:
                raise ValueError(f"{path}: line {number}: unexpected end of file inside \\{k}-grams:")
            if len(probs) != counts[k]:
                raise ValueError(f"{path}: line {number}: \\{k}-grams: has {len(probs)} entries, "
                                 f"\\data\\ declares ngram {k}={counts[k]}")
            sections[k] = (numbers, probs, words, backoffs)
            k += 1
    return sections


def read_arpa(path: str | os.PathLike) -> ArpaModel:
    """Read an ARPA file (KenLM, SRILM, lmkit; plain, gzip or bzip2) as the parts of a model
    (:meth:`lmkit.lm.ngram.KneserNey.load_arpa` makes the model of them).

    The vocabulary is the unigrams but ``<s>``, in file order (counts 0, as
    ARPA keeps none), with ``</s>`` and ``<unk>`` as its ``eos`` and ``unk``
    symbols when listed.  The tokenizer is the one saved beside the file, if any.
    Errors name the file and line: no ``\\data\\``, counts that disagree with
    the sections, a malformed line or number, an unknown or repeated n-gram.
    """
    from lmkit.corpus.vocab import Vocab

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ARPA file not found: {path}")
    sections = _parse(path)
    order = len(sections)
    if not 2 <= order <= MAX_ORDER:
        raise ValueError(f"{path}: an ARPA model of order {order}; lmkit reads orders 2..{MAX_ORDER}")
    numbers1, probs1, words1, backoffs1 = sections[1]
    tokens = [w[0] for w in words1 if w[0] != BOS]
    if not tokens:
        raise ValueError(f"{path}: no unigram besides {BOS}")
    v = len(tokens)
    index = {token: i for i, token in enumerate(tokens)}
    if len(index) != v:
        first = next(t for i, t in enumerate(tokens) if index[t] != i)
        raise ValueError(f"{path}: line {numbers1[[w[0] for w in words1].index(first)]}: "
                         f"unigram {first!r} is listed twice")
    index[BOS] = v
    P, W, B, L = {}, {}, {}, {}
    for k in range(1, order + 1):
        numbers, probs, words, backoffs = sections[k]
        try:
            ids = np.array([[index[w] for w in row] for row in words], dtype=np.int64).reshape(len(words), k)
        except KeyError:
            bad = next(i for i, row in enumerate(words) if any(w not in index for w in row))
            word = next(w for w in words[bad] if w not in index)
            raise ValueError(f"{path}: line {numbers[bad]}: word {word!r} is not a unigram") from None
        probs = np.array(probs, dtype=np.float64)
        misplaced = (ids[:, 1:] == v).any(axis=1) if k > 1 else np.zeros(len(ids), bool)
        if misplaced.any():
            raise ValueError(f"{path}: line {numbers[int(np.argmax(misplaced))]}: {BOS} can only begin an n-gram")
        if (probs > 0).any():
            bad = int(np.argmax(probs > 0))
            raise ValueError(f"{path}: line {numbers[bad]}: log10 probability {probs[bad]} > 0")
        W[k], P[k], B[k], L[k] = ids, 10.0 ** probs, 10.0 ** np.array(backoffs), np.array(numbers)
    # <s> is never predicted: its unigram only carries the back-off of the history "<s>"
    keep = W[1][:, 0] != v
    bos_backoff = B[1][~keep]
    W[1], P[1], B[1], L[1] = W[1][keep], P[1][keep], B[1][keep], L[1][keep]

    tables: dict[str, np.ndarray] = {}
    # histories: every listed n-gram below the top order, every context, and all their suffixes
    hist_sets = {}
    for j in range(order - 1, 0, -1):
        parts = [W[j + 1][:, :-1], W[j]]
        if j + 1 in hist_sets:
            parts.append(hist_sets[j + 1][:, 1:])
        if j == 1:
            parts.append(np.array([[v]], dtype=np.int64))
        hist_sets[j] = np.unique(np.concatenate(parts), axis=0)
    for j in range(1, order):
        chain = _hist_chain(tables, hist_sets[j][:, 1:], v)[-1]
        tables[f"hist{j}"] = np.unique(chain * (v + 1) + hist_sets[j][:, 0])
    for k in range(1, order + 1):
        n_hist = 1 if k == 1 else len(tables[f"hist{k - 1}"])
        gamma = np.zeros(1) if k == 1 else np.ones(n_hist)
        if k >= 2:  # B(h) of the listed (k-1)-grams, by their id as histories
            gamma[_hist_chain(tables, W[k - 1], v)[-1]] = B[k - 1]
            if k == 2 and len(bos_backoff):
                gamma[_hist_chain(tables, np.array([[v]]), v)[-1]] = bos_backoff[0]
        chain = _hist_chain(tables, W[k][:, :-1], v)
        targets = W[k][:, -1]
        keys = chain[-1] * v + targets
        order_ = np.argsort(keys, kind="stable")
        keys = keys[order_]
        repeated = np.flatnonzero(keys[1:] == keys[:-1])
        if len(repeated):
            first, second = L[k][order_[repeated[0]]], L[k][order_[repeated[0] + 1]]
            raise ValueError(f"{path}: line {max(first, second)}: {k}-gram listed twice "
                             f"(first at line {min(first, second)})")
        tables[f"grams{k}"] = keys
        tables[f"gamma{k}"] = gamma
        tables[f"den{k}"] = np.ones(n_hist)
        tables[f"discounts{k}"] = np.full(3, np.nan)  # not a Kneser-Ney estimate: unknown
        lower = (interpolate(tables, [c[order_] for c in _hist_chain(tables, W[k][:, 1:-1], v)],
                             targets[order_], v, k - 1) if k > 1 else np.zeros(len(keys)))
        tables[f"num{k}"] = P[k][order_] - gamma[chain[-1][order_]] * lower
    vocab = Vocab(tokens, np.zeros(v, dtype=np.int64), unk=UNK if UNK in tokens else None,
                  eos=EOS if EOS in tokens else None)
    from lmkit.corpus.tokenizer import Tokenizer, sidecar_path

    sidecar = sidecar_path(path)
    return ArpaModel(order, vocab, tables, Tokenizer.load(sidecar) if sidecar.is_file() else None)
