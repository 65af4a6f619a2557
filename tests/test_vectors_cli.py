"""`lmkit eval` and `lmkit similar`, run through lmkit.cli.main."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import missing
from lmkit.cli import main
from lmkit.vectors import KeyedVectors

from test_evaluate import QUESTIONS, toy_kv


@pytest.fixture
def files(tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(QUESTIONS, encoding="utf-8")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# c\nman\twoman\t8\nking\tqueen\t8.5\nman\tdogs\t1\ncat\tdog\t6\nman\tzzz\t2\n", encoding="utf-8")
    kv = toy_kv()
    return {"questions": questions, "pairs": pairs, "kv": kv,
            "text": kv.save_word2vec_format(tmp_path / "toy.vectors"),
            "binary": kv.save_word2vec_format(tmp_path / "toy.vectors.bin", binary=True),
            "npz": kv.save(tmp_path / "toy.npz")}


def test_eval_prints_the_table(files, capsys):
    assert main(["eval", str(files["text"]), "--analogies", str(files["questions"]),
                 "--similarity", str(files["pairs"])]) == 0
    out = capsys.readouterr().out
    assert "9 words, 8 dimensions" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["family"] == ["2", "3", "66.7%"]
    assert lines["gram-plural"] == ["2", "2", "100.0%"]
    assert lines["semantic"] == ["2", "3", "66.7%"] and lines["syntactic"] == ["2", "2", "100.0%"]
    assert lines["total"] == ["4", "5", "80.0%"]
    assert "coverage: 83.3% of 6 questions" in out
    assert "OOV 20.0% of 5 pairs" in out and "Spearman" in out and "Pearson" in out


@pytest.mark.parametrize("kind,flags", [("binary", []), ("binary", ["--binary"]), ("text", ["--text"]),
                                        ("npz", []), ("text", ["--limit", "4"])])
def test_eval_reads_every_format_and_prints_json(files, capsys, kind, flags):
    assert main(["eval", str(files[kind]), "--analogies", str(files["questions"]), "--json", *flags]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["words"] == (4 if "--limit" in flags else 9)
    assert report["analogies"]["accuracy"] == pytest.approx(1.0 if "--limit" in flags else 0.8)
    assert "word_pairs" not in report or report["word_pairs"]["file"].endswith("wordsim353.tsv")


def test_eval_options_reach_the_benchmarks(files, capsys):
    upper = files["questions"].with_name("upper.txt")
    upper.write_text(QUESTIONS.upper(), encoding="utf-8")
    assert main(["eval", str(files["text"]), "--analogies", str(upper), "--json", "--case-sensitive"]) == 0
    assert json.loads(capsys.readouterr().out)["analogies"]["coverage"] == 0.0
    assert main(["eval", str(files["text"]), "--analogies", str(files["questions"]), "--json",
                 "--restrict-vocab", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["analogies"]["coverage"] == pytest.approx(2 / 6)


def test_eval_defaults_to_the_shared_benchmark_files(files, capsys):
    folder = Path(os.environ.get("LMKIT_DATA", "/nonexistent"))
    if not (folder / "questions-words.txt").is_file() or not (folder / "wordsim353.tsv").is_file():
        missing(f"benchmark files not found in LMKIT_DATA={folder}")
    assert main(["eval", str(files["binary"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["analogies"]["n_questions"] == 19544 and report["word_pairs"]["n_pairs"] == 353


def test_eval_errors(files, tmp_path, capsys, monkeypatch):
    assert main(["eval", str(tmp_path / "missing.bin"), "--analogies", str(files["questions"])]) == 2
    assert "lmkit: error: vector file not found" in capsys.readouterr().err
    monkeypatch.setenv("LMKIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("lmkit.corpus.datasets.search_dirs", lambda: [tmp_path / "empty"])
    assert main(["eval", str(files["text"])]) == 2
    assert "no benchmark file" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text(": s\na b c\n", encoding="utf-8")
    assert main(["eval", str(files["text"]), "--analogies", str(bad)]) == 2
    assert f"{bad}: line 2: expected 4 words" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(files["text"]), "--binary", "--text"])


def test_similar_prints_neighbours(files, capsys):
    assert main(["similar", str(files["binary"]), "woman", "king", "--negative", "man", "--topn", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] == "queen"
    assert float(lines[0].split("\t")[1]) == pytest.approx(
        files["kv"].most_similar(["woman", "king"], ["man"], topn=1)[0][1], abs=1e-4)
    assert main(["similar", str(files["npz"]), "cat", "--topn", "3", "--cosmul", "--restrict-vocab", "6"]) == 0
    words = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert words == [w for w, _ in files["kv"].most_similar_cosmul("cat", topn=3, restrict_vocab=6)]
    assert main(["similar", str(files["text"]), "unicorn"]) == 2
    assert "lmkit: error: word 'unicorn' not in vocabulary" in capsys.readouterr().err


def test_binary_detection_ignores_the_file_name(files, tmp_path, capsys):
    disguised = tmp_path / "vectors.txt"
    disguised.write_bytes(files["binary"].read_bytes())
    assert main(["similar", str(disguised), "cat", "--topn", "1"]) == 0
    top = files["kv"].most_similar("cat", topn=1)[0][0]
    assert capsys.readouterr().out.startswith(f"{top}\t")
    kv = KeyedVectors.load_word2vec_format(disguised, binary=True)
    assert kv.index_to_key == files["kv"].index_to_key
