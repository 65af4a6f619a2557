"""Intrinsic benchmarks of word vectors: word analogies and word-pair similarity.

* Analogies (Mikolov et al., 2013, ``questions-words.txt``): for ``a b c d`` ("a is to b
  as c is to d"), predict the word closest in cosine to ``b - a + c`` (3CosAdd, the unit
  vectors of a, b, c), a, b and c excluded; the question counts as correct when the
  prediction is d.  Sections whose name starts with ``gram`` are syntactic, the others
  semantic.
* Word pairs (Finkelstein et al., 2002, ``wordsim353.tsv``): Pearson's r and Spearman's
  rho between the human scores and the cosines of the pairs.

Both reproduce gensim 4's ``evaluate_word_analogies`` / ``evaluate_word_pairs`` numbers
(see the tests): the vocabulary is the first ``restrict_vocab`` words; with
``case_insensitive`` words are compared upper-cased and a word stands for the first
(most frequent) of its case variants; a question or pair with a word outside that
vocabulary is skipped, or with ``dummy4unknown`` counted as wrong / scored 0.  As in gensim,
the prediction is the first of the 5 best words whose upper-cased form is not a, b or c
(the 5th when none qualifies).  Differences: a malformed line is a ValueError naming the
file and line (gensim logs and skips it); correlations come without p-values; the OOV
ratio is a fraction in [0, 1] (gensim: a percentage); ``restrict_vocab`` defaults to
30,000 for analogies (as the C tool's ``compute-accuracy``; gensim: 300,000).

Analogies are answered in batches: one ``(B, d) x (d, n)`` matrix product per batch.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lmkit.vectors.formats import open_read

if TYPE_CHECKING:  # annotations only: keyed.py calls into this module, never the reverse at run time
    from lmkit.vectors.keyed import KeyedVectors

logger = logging.getLogger(__name__)

_ANALOGY_BATCH = 2048   # questions per matrix product
_ANALOGY_TOPN = 5       # gensim looks at the 5 best answers


@dataclass
class SectionScore:
    """Correct and incorrect answers in one section (or a group of sections)."""

    name: str
    correct: int = 0
    incorrect: int = 0

    @property
    def total(self) -> int:
        return self.correct + self.incorrect

    @property
    def accuracy(self) -> float:
        """correct / (correct + incorrect); 0.0 for a section without answered questions."""
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "correct": self.correct, "incorrect": self.incorrect,
                "accuracy": self.accuracy}


@dataclass
class AnalogyResult:
    """Outcome of :func:`evaluate_word_analogies`.

    ``sections`` in file order; ``n_questions`` counts every question in the file,
    ``n_oov`` those with a word outside the vocabulary.
    """

    sections: list[SectionScore]
    n_questions: int
    n_oov: int

    def _group(self, name: str, keep) -> SectionScore:
        chosen = [s for s in self.sections if keep(s.name)]
        return SectionScore(name, sum(s.correct for s in chosen), sum(s.incorrect for s in chosen))

    @property
    def total(self) -> SectionScore:
        return self._group("total", lambda name: True)

    @property
    def semantic(self) -> SectionScore:
        return self._group("semantic", lambda name: not name.startswith("gram"))

    @property
    def syntactic(self) -> SectionScore:
        return self._group("syntactic", lambda name: name.startswith("gram"))

    @property
    def accuracy(self) -> float:
        """Overall accuracy over the answered questions (gensim's score)."""
        return self.total.accuracy

    @property
    def coverage(self) -> float:
        """Fraction of the questions whose four words are in the vocabulary."""
        return (self.n_questions - self.n_oov) / self.n_questions if self.n_questions else 0.0

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "coverage": self.coverage, "n_questions": self.n_questions,
                "n_oov": self.n_oov, "semantic": self.semantic.to_dict(),
                "syntactic": self.syntactic.to_dict(), "sections": [s.to_dict() for s in self.sections]}


@dataclass
class WordPairsResult:
    """Outcome of :func:`evaluate_word_pairs`: correlations of model cosines with human scores."""

    pearson: float
    spearman: float
    n_pairs: int
    n_oov: int
    similarities: np.ndarray = field(repr=False)  # float64[n used]: model cosines
    gold: np.ndarray = field(repr=False)          # float64[n used]: human scores

    @property
    def oov_ratio(self) -> float:
        """Fraction of the pairs with a word outside the vocabulary."""
        return self.n_oov / self.n_pairs if self.n_pairs else 0.0

    def to_dict(self) -> dict:
        return {"pearson": self.pearson, "spearman": self.spearman, "oov_ratio": self.oov_ratio,
                "n_pairs": self.n_pairs, "n_oov": self.n_oov}


def _vocabulary(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> tuple[dict[str, int], np.ndarray]:
    """Lookup table for the first ``restrict_vocab`` words.

    Returns ``ok``: key -> index of its first occurrence (keys upper-cased when
    ``case_insensitive``), and ``canonical: int64[n]``, the index ``ok`` gives for word i's key.
    """
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) or restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be an integer >= 1, got {restrict_vocab!r}")
    keys = kv.index_to_key[:restrict_vocab]
    ok: dict[str, int] = {}
    canonical = np.empty(len(keys), dtype=np.int64)
    for index, key in enumerate(keys):
        canonical[index] = ok.setdefault(key.upper() if case_insensitive else key, index)
    return ok, canonical


def _read_lines(path: str | os.PathLike):
    """(line number, text) of a UTF-8 file, ``.gz``/``.bz2`` allowed."""
    with open_read(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                yield line_no, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}: line {line_no}: not valid UTF-8 ({error.reason})") from None


def evaluate_word_analogies(kv: KeyedVectors, path: str | os.PathLike, restrict_vocab: int = 30000,
                            case_insensitive: bool = True, dummy4unknown: bool = False) -> AnalogyResult:
    """Accuracy of 3CosAdd on an analogy file in the ``questions-words.txt`` format.

    The file holds ``: section name`` lines, each followed by questions ``a b c d``
    (blank lines are ignored).  See the module docstring for the exact rule (gensim's).

    Returns an :class:`AnalogyResult`: ``.accuracy``, ``.coverage``, ``.sections``,
    ``.semantic``, ``.syntactic``.  ValueError names the file and line of a malformed line.
    """
    ok, canonical = _vocabulary(kv, restrict_vocab, case_insensitive)
    sections: list[SectionScore] = []
    section_of: list[int] = []       # per answerable question: its section
    ids: list[tuple[int, int, int, int]] = []
    n_questions = n_oov = 0
    for line_no, line in _read_lines(path):
        if line.startswith(":"):
            sections.append(SectionScore(line.lstrip(": ").strip()))
            continue
        words = line.split()
        if not words:
            continue
        if not sections:
            raise ValueError(f"{path}: line {line_no}: question before the first ': section' line")
        if len(words) != 4:
            raise ValueError(f"{path}: line {line_no}: expected 4 words 'a b c d', found {len(words)}: "
                             f"{line.strip()[:80]!r}")
        if case_insensitive:
            words = [word.upper() for word in words]
        n_questions += 1
        if not all(word in ok for word in words):
            n_oov += 1
            if dummy4unknown:
                sections[-1].incorrect += 1
            continue
        ids.append(tuple(ok[word] for word in words))
        section_of.append(len(sections) - 1)

    questions = np.array(ids, dtype=np.int64).reshape(-1, 4)
    correct = _answer(kv, questions, canonical)
    for section, hit in zip(section_of, correct.tolist()):
        if hit:
            sections[section].correct += 1
        else:
            sections[section].incorrect += 1
    result = AnalogyResult(sections, n_questions, n_oov)
    for section in sections:
        logger.debug("%s: %.1f%% (%d/%d)", section.name, 100 * section.accuracy, section.correct, section.total)
    logger.info("analogies: accuracy %.1f%% (%d/%d), %.1f%% of %d questions in the vocabulary",
                100 * result.accuracy, result.total.correct, result.total.total, 100 * result.coverage,
                n_questions)
    return result


def _answer(kv: KeyedVectors, questions: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """bool[Q]: is 3CosAdd right on ``questions: int64[Q, 4]`` (canonical indices a, b, c, d)?"""
    normed = kv.get_normed_vectors()
    correct = np.zeros(questions.shape[0], dtype=bool)
    for start in range(0, questions.shape[0], _ANALOGY_BATCH):
        a, b, c, d = questions[start:start + _ANALOGY_BATCH].T
        query = (normed[b].astype(np.float64) + normed[c] - normed[a]) / 3          # (B, d)
        top, _ = kv.batch_most_similar(query, topn=_ANALOGY_TOPN, restrict_vocab=canonical.shape[0],
                                       exclude=np.stack([a, b, c], axis=1))       # (B, 5)
        valid = top >= 0
        guess = np.where(valid, canonical[np.maximum(top, 0)], -1)                 # (B, 5)
        allowed = valid & (guess != a[:, None]) & (guess != b[:, None]) & (guess != c[:, None])
        # the first allowed guess; when none, the last valid one (gensim's loop leaves it)
        last_valid = valid.sum(axis=1) - 1
        pick = np.where(allowed.any(axis=1), allowed.argmax(axis=1), np.maximum(last_valid, 0))
        predicted = np.where(last_valid >= 0, guess[np.arange(len(a)), pick], -1)
        correct[start:start + len(a)] = predicted == d
    return correct


def rankdata(values: np.ndarray) -> np.ndarray:
    """float64[n] ranks 1..n of ``values``, ties given their average rank (scipy's default)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)  # mean of ranks start+1 .. end
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r = sum (x - mx)(y - my) / sqrt(sum (x - mx)^2 sum (y - my)^2); nan when undefined."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"pearson needs two 1-D arrays of one length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator == 0:
        return math.nan
    return max(-1.0, min(1.0, float(dx @ dy) / denominator))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(rankdata(x), rankdata(y))


def evaluate_word_pairs(kv: KeyedVectors, path: str | os.PathLike, restrict_vocab: int = 300000,
                        case_insensitive: bool = True, delimiter: str = "\t",
                        dummy4unknown: bool = False) -> WordPairsResult:
    """Correlation of cosines with human judgements, file format ``w1<delim>w2<delim>score``.

    Lines starting with ``#`` and blank lines are skipped.  A pair with a word outside the
    first ``restrict_vocab`` words is skipped (or, with ``dummy4unknown``, given cosine 0).
    Returns a :class:`WordPairsResult` (``.pearson``, ``.spearman``, ``.oov_ratio``).
    ValueError names the file and line of a malformed line, or says that no pair was usable.
    """
    ok, _ = _vocabulary(kv, restrict_vocab, case_insensitive)
    gold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    n_pairs = n_oov = 0
    for line_no, line in _read_lines(path):
        if line.startswith("#") or not line.strip():
            continue
        fields = line.rstrip("\r\n").split(delimiter)
        if len(fields) != 3:
            raise ValueError(f"{path}: line {line_no}: expected 'word{delimiter}word{delimiter}score', "
                             f"found {len(fields)} fields: {line.strip()[:80]!r}")
        a, b = (field.strip().upper() if case_insensitive else field.strip() for field in fields[:2])
        try:
            score = float(fields[2])
        except ValueError:
            raise ValueError(f"{path}: line {line_no}: score {fields[2].strip()[:40]!r} is not a number") from None
        if not math.isfinite(score):
            raise ValueError(f"{path}: line {line_no}: score {fields[2].strip()!r} is not finite")
        n_pairs += 1
        if a not in ok or b not in ok:
            n_oov += 1
            if not dummy4unknown:
                continue
        gold.append(score)
        left.append(ok.get(a, -1))
        right.append(ok.get(b, -1))
    if not gold:
        raise ValueError(f"{path}: no usable word pair: {n_pairs} pairs, {n_oov} with unknown words")
    normed = kv.get_normed_vectors()
    left_ids, right_ids = np.array(left), np.array(right)
    known = (left_ids >= 0) & (right_ids >= 0)
    similarities = np.zeros(len(gold), dtype=np.float64)
    similarities[known] = np.einsum("ij,ij->i", normed[left_ids[known]], normed[right_ids[known]])
    gold_scores = np.array(gold, dtype=np.float64)
    result = WordPairsResult(pearson(gold_scores, similarities), spearman(gold_scores, similarities),
                             n_pairs, n_oov, similarities, gold_scores)
    logger.info("word pairs %s: Pearson %.4f, Spearman %.4f, %.1f%% pairs with unknown words",
                path, result.pearson, result.spearman, 100 * result.oov_ratio)
    return result
