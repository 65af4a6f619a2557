"""Analogy and word-pair benchmarks: handmade spaces with known answers, scipy, and gensim on real files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import import_or_missing, missing
from lmkit import evaluate
from lmkit.evaluate import evaluate_word_analogies, evaluate_word_pairs, pearson, rankdata, spearman
from lmkit.vectors import KeyedVectors

QUESTIONS = """: family
man woman king queen
king queen man woman

man woman king prince
man woman king unicorn
: gram-plural
cat cats dog dogs
dog dogs cat cats
"""


def e(*dims, size=8):
    v = np.zeros(size, dtype=np.float32)
    v[list(dims)] = 1
    return v


def toy_kv(extra=()):
    """man/woman/king/queen: gender in e2/e3, royalty in e0/e1; cat/dog plural in e6/e7."""
    words = {"man": e(0, 2), "woman": e(0, 3), "king": e(1, 2), "queen": e(1, 3) + 0.2 * e(0),
             "cat": e(4, 6), "cats": e(4, 7), "dog": e(5, 6), "dogs": e(5, 7), "prince": e(1, 2) + e(5)}
    words.update(extra)
    return KeyedVectors(list(words), np.stack(list(words.values())))


@pytest.fixture
def questions(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(QUESTIONS, encoding="utf-8")
    return path


def counts(result):
    return [(s.name, s.correct, s.incorrect) for s in result.sections]


def gensim_twin(kv):
    models = import_or_missing("gensim.models")
    twin = models.KeyedVectors(kv.vector_size)
    twin.add_vectors(kv.index_to_key, kv.vectors)
    return twin


def gensim_counts(sections):
    return [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]]


# -------------------------------------------------------------------- analogies


def test_toy_analogies_have_the_known_answers(questions):
    result = evaluate_word_analogies(toy_kv(), questions)
    assert counts(result) == [("family", 2, 1), ("gram-plural", 2, 0)]
    assert result.n_questions == 6 and result.n_oov == 1
    assert result.accuracy == pytest.approx(4 / 5) and result.coverage == pytest.approx(5 / 6)
    assert (result.semantic.correct, result.semantic.total) == (2, 3)
    assert (result.syntactic.correct, result.syntactic.total) == (2, 2)
    as_dict = result.to_dict()
    assert as_dict["sections"][0] == {"name": "family", "correct": 2, "incorrect": 1, "accuracy": pytest.approx(2 / 3)}

    dummy = evaluate_word_analogies(toy_kv(), questions, dummy4unknown=True)
    assert counts(dummy) == [("family", 2, 2), ("gram-plural", 2, 0)] and dummy.accuracy == pytest.approx(4 / 6)

    # only man, woman, king, queen: "prince" and the plural section leave the vocabulary,
    # and the answer must come from the one word left
    small = evaluate_word_analogies(toy_kv(), questions, restrict_vocab=4)
    assert counts(small) == [("family", 2, 0), ("gram-plural", 0, 0)]
    assert small.coverage == pytest.approx(2 / 6) and small.syntactic.accuracy == 0.0


def test_case_handling_follows_gensim(questions, tmp_path):
    upper = tmp_path / "upper.txt"
    upper.write_text(QUESTIONS.upper().replace(": FAMILY", ": family"), encoding="utf-8")
    assert counts(evaluate_word_analogies(toy_kv(), upper)) == [("family", 2, 1), ("GRAM-PLURAL", 2, 0)]
    blind = evaluate_word_analogies(toy_kv(), upper, case_insensitive=False)
    assert blind.coverage == 0.0 and blind.accuracy == 0.0
    # "King" (a case variant of an input word) is the nearest answer to man:woman::king:?
    # case-insensitive: it is skipped as an input word -> queen, correct; case-sensitive: wrong.
    variant = toy_kv({"King": e(1, 3), "Queen": -e(1, 3)})
    insensitive = evaluate_word_analogies(variant, questions)
    sensitive = evaluate_word_analogies(variant, questions, case_insensitive=False)
    assert counts(insensitive)[0] == ("family", 2, 1)  # "Queen" is not used: QUEEN means queen (first)
    assert counts(sensitive)[0] == ("family", 1, 2)
    twin = gensim_twin(variant)
    for ours, flag in [(insensitive, True), (sensitive, False)]:
        _, sections = twin.evaluate_word_analogies(str(questions), restrict_vocab=30000, case_insensitive=flag)
        assert counts(ours) == gensim_counts(sections)


def test_batching_does_not_change_answers(questions, monkeypatch):
    want = counts(evaluate_word_analogies(toy_kv(), questions))
    monkeypatch.setattr(evaluate, "_ANALOGY_BATCH", 1)
    assert counts(evaluate_word_analogies(toy_kv(), questions)) == want


@pytest.mark.parametrize("text,message", [
    ("man woman king queen\n", "line 1: question before the first ': section' line"),
    (": s\nman woman king\n", "line 2: expected 4 words 'a b c d', found 3"),
    (": s\nman woman king queen x\n", "line 2: expected 4 words"),
])
def test_malformed_analogy_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        evaluate_word_analogies(toy_kv(), path)
    assert str(path) in str(error.value)
    path.write_bytes(b": s\nman \xff king queen\n")
    with pytest.raises(ValueError, match="line 2: not valid UTF-8"):
        evaluate_word_analogies(toy_kv(), path)
    with pytest.raises(FileNotFoundError):
        evaluate_word_analogies(toy_kv(), tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_word_analogies(toy_kv(), path, restrict_vocab=0)


# ----------------------------------------------------------------- correlations


def test_rank_and_correlations_match_scipy():
    stats = import_or_missing("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 353):
        x = rng.integers(0, 5, size=n).astype(float)  # many ties
        x[0], x[-1] = 0, 4  # not constant
        y = x + rng.standard_normal(n)
        np.testing.assert_allclose(rankdata(x), stats.rankdata(x), rtol=0, atol=0)
        assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert np.isnan(pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert np.isnan(pearson([1.0], [2.0]))
    assert spearman([1, 2, 3], [10, 20, 1000]) == 1.0 and pearson([1, 2, 3], [3, 2, 1]) == -1.0
    with pytest.raises(ValueError, match="one length"):
        pearson([1, 2], [1, 2, 3])


def test_toy_word_pairs(tmp_path):
    stats = import_or_missing("scipy.stats")
    angles = {"a": 0.0, "b": 0.3, "c": 1.0, "d": 2.0, "e": 3.0}
    kv = KeyedVectors(list(angles), np.array([[np.cos(t), np.sin(t)] for t in angles.values()], np.float32))
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\nA\tB\t9.0\na\tc\t7\n\na\td\t5\nb\te\t1.5\na\tzzz\t3\n", encoding="utf-8")
    result = evaluate_word_pairs(kv, path)
    cosines = np.cos([0.3, 1.0, 2.0, 2.7])
    np.testing.assert_allclose(result.similarities, cosines, rtol=1e-6)
    assert result.spearman == pytest.approx(1.0)  # cosine falls with the angle, as the scores do
    assert result.pearson == pytest.approx(stats.pearsonr([9, 7, 5, 1.5], cosines)[0], abs=1e-6)
    assert (result.n_pairs, result.n_oov, result.oov_ratio) == (5, 1, pytest.approx(0.2))
    dummy = evaluate_word_pairs(kv, path, dummy4unknown=True)
    assert dummy.similarities[-1] == 0.0 and len(dummy.gold) == 5
    assert dummy.spearman == pytest.approx(stats.spearmanr([9, 7, 5, 1.5, 3], list(cosines) + [0])[0])
    assert evaluate_word_pairs(kv, path, case_insensitive=False).n_oov == 2
    assert evaluate_word_pairs(kv, path, restrict_vocab=3).n_oov == 3
    commas = tmp_path / "pairs.csv"
    commas.write_text("a,b,9\na,c,7\na,d,5\n", encoding="utf-8")
    assert evaluate_word_pairs(kv, commas, delimiter=",").spearman == pytest.approx(1.0)


@pytest.mark.parametrize("text,message", [
    ("a\tb\n", "line 1: expected 'word\tword\tscore', found 2 fields"),
    ("# x\na\tb\t1\t2\n", "line 2: expected"),
    ("a\tb\thigh\n", "line 1: score 'high' is not a number"),
    ("a\tb\tnan\n", "line 1: score 'nan' is not finite"),
    ("zzz\tyyy\t1\n", "no usable word pair: 1 pairs, 1 with unknown words"),
])
def test_malformed_pair_files(tmp_path, text, message):
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    path = tmp_path / "bad.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        evaluate_word_pairs(kv, path)
    assert str(path) in str(error.value)


# ------------------------------------------------------- real files, against gensim


@pytest.fixture(scope="module")
def benchmark_files():
    folder = Path(os.environ.get("LMKIT_DATA", "/nonexistent"))
    files = folder / "questions-words.txt", folder / "wordsim353.tsv"
    for file in files:
        if not file.is_file():
            missing(f"{file.name} not found in LMKIT_DATA={folder}")
    return files


@pytest.fixture(scope="module")
def structured_kv(benchmark_files):
    """Every word of both files plus lower-case variants, random vectors in which each
    section's relation is (partly) a shared offset, so that many analogies are right."""
    questions, pairs = benchmark_files
    rng = np.random.default_rng(1)
    words, relations, vectors, section = [], {}, {}, None
    for line in questions.read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line
            continue
        for word in line.split():
            if word not in vectors:
                words.append(word)
                vectors[word] = rng.standard_normal(20)
        offset = relations.setdefault(section, rng.standard_normal(20))
        for x, y in (line.split()[:2], line.split()[2:]):
            if y not in relations:
                vectors[y] = vectors[x] + offset + 0.3 * rng.standard_normal(20)
                relations[y] = None
    for line in pairs.read_text(encoding="utf-8").splitlines():
        for word in line.split("\t")[:2] if not line.startswith("#") else []:
            if word not in vectors:
                words.append(word)
                vectors[word] = rng.standard_normal(20)
    variants = [w.lower() for w in words if w.lower() not in vectors][:300]
    words += variants
    order = rng.permutation(len(words))
    keys = [words[i] for i in order]
    matrix = np.stack([vectors.get(k, rng.standard_normal(20)) for k in keys]).astype(np.float32)
    return KeyedVectors(keys, matrix)


@pytest.mark.parametrize("restrict,case_insensitive", [(30000, True), (700, False)])
def test_analogies_match_gensim_on_the_real_file(benchmark_files, structured_kv, restrict, case_insensitive):
    questions, _ = benchmark_files
    ours = evaluate_word_analogies(structured_kv, questions, restrict_vocab=restrict,
                                   case_insensitive=case_insensitive)
    score, sections = gensim_twin(structured_kv).evaluate_word_analogies(
        str(questions), restrict_vocab=restrict, case_insensitive=case_insensitive)
    assert counts(ours) == gensim_counts(sections)
    assert ours.accuracy == score
    assert 0.2 < ours.accuracy < 0.95  # a benchmark that can tell right from wrong
    assert ours.n_questions == 19544 and len(ours.sections) == 14
    assert ours.semantic.total + ours.syntactic.total == ours.total.total


@pytest.mark.parametrize("restrict,case_insensitive", [(300000, True), (700, False)])
def test_word_pairs_match_gensim_on_the_real_file(benchmark_files, structured_kv, restrict, case_insensitive):
    _, pairs = benchmark_files
    ours = evaluate_word_pairs(structured_kv, pairs, restrict_vocab=restrict, case_insensitive=case_insensitive)
    pearson_r, spearman_rho, oov_percent = gensim_twin(structured_kv).evaluate_word_pairs(
        str(pairs), restrict_vocab=restrict, case_insensitive=case_insensitive)
    assert ours.pearson == pytest.approx(pearson_r[0], abs=1e-6)
    assert ours.spearman == pytest.approx(spearman_rho[0], abs=1e-6)
    assert 100 * ours.oov_ratio == pytest.approx(oov_percent)
    assert ours.n_pairs == 353
