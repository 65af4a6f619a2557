"""`lmkit train nplm|ngram` and `lmkit perplexity` end to end on a tiny text."""
from __future__ import annotations

import re

import pytest

from lmkit.cli import main
from lmkit.lm.nplm import NPLM


@pytest.fixture()
def texts(tmp_path, monkeypatch):
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "train.txt").write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n")
    (tmp_path / "valid.txt").write_text("the cat sat on the log\nzebra dog\n")
    return tmp_path


def test_train_and_score(texts, capsys):
    kn, nplm = str(texts / "kn.lmkit"), str(texts / "nplm.lmkit")
    valid = str(texts / "valid.txt")
    assert main(["train", "ngram", "--input", str(texts / "train.txt"), "--order", "3", "--output", kn,
                 "--quiet"]) == 0
    assert main(["train", "nplm", "--input", str(texts / "train.txt"), "--valid", valid, "--output", nplm,
                 "--context", "2", "--features", "6", "--hidden", "8", "--epochs", "2", "--threads", "1",
                 "--output-optimizer", "momentum", "--output-lr", "0.1", "--dropout-hidden", "0.3",
                 "--weight-average", "0.9", "--sampled-epochs", "1", "--sampled-words", "5", "--quiet"]) == 0
    assert NPLM.load(nplm).config.weight_average == 0.9
    assert (NPLM.load(nplm).config.sampled_epochs, NPLM.load(nplm).config.sampled_words) == (1, 5)
    capsys.readouterr()
    assert main(["perplexity", kn, "--input", valid, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"perplexity [\d.]+ over 10 predicted tokens \(1 <unk> .*2 </s>", out)
    assert main(["perplexity", nplm, "--input", valid, "--mix", kn, "--weight", "0.5",
                 "--logprobs", str(texts / "lp.tsv"), "--quiet"]) == 0
    assert "mixture weight 0.5000" in capsys.readouterr().out
    assert len((texts / "lp.tsv").read_text().splitlines()) == 11
    assert main(["perplexity", nplm, "--input", valid, "--mix", kn, "--fit-weight", valid,
                 "--weight-by-context", str(texts / "train.txt"), "--context-words", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"mixture weight by frequency class of the last 1 context words \(0, 1-2, 3-6, \.\.\.\): "
                     r"([01]\.\d{3} ){11}[01]\.\d{3} on ", out)
    assert re.search(r"perplexity [\d.]+ over 10 predicted tokens", out)
    assert main(["train", "nplm", "--input", str(texts / "train.txt"), "--valid", valid, "--output", nplm,
                 "--context", "2", "--features", "6", "--hidden", "8", "--epochs", "3", "--threads", "1",
                 "--output-optimizer", "momentum", "--output-lr", "0.1", "--dropout-hidden", "0.3",
                 "--weight-average", "0.9", "--sampled-epochs", "1", "--sampled-words", "5",
                 "--cooldown-epochs", "1", "--resume", "--quiet"]) == 0
    assert NPLM.load(nplm).config.cooldown_epochs == 1  # extended by a cooled epoch


def test_errors(texts, capsys):
    assert main(["perplexity", str(texts / "train.txt"), "--input", str(texts / "valid.txt")]) == 2
    assert main(["perplexity", str(texts / "absent.lmkit"), "--input", str(texts / "valid.txt")]) == 2
    assert main(["train", "nplm", "--input", str(texts / "train.txt"), "--output", str(texts / "m.lmkit"),
                 "--context", "0", "--quiet"]) == 2
    assert "context must be >= 1" in capsys.readouterr().err
    assert main(["perplexity", str(texts / "absent.lmkit"), "--input", str(texts / "valid.txt"),
                 "--weight-by-context", str(texts / "train.txt")]) == 2
    assert "--weight-by-context needs --fit-weight" in capsys.readouterr().err
