"""Fixtures of the language-model CLI tests."""
from __future__ import annotations

import pytest


@pytest.fixture()
def texts(tmp_path, monkeypatch):
    """``tmp_path`` holding ``train.txt`` (three sentences, three times) and ``valid.txt`` (one word
    unseen in training), with a corpus cache of its own."""
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "train.txt").write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 3)
    (tmp_path / "valid.txt").write_text("the cat sat on the log\nzebra dog\n")
    return tmp_path
