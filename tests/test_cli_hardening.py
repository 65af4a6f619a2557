"""The command line given bad input, as a demanding new user would: every case ends in one line
naming the file or flag (exit 2), before any long work where it can be known before."""
from __future__ import annotations

import errno
import os
import shutil
import zipfile

import pytest

from lmkit.cli import main
from lmkit.corpus import datasets
from lmkit.corpus import encoded as encoded_module

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 5


@pytest.fixture()
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "train.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def error_of(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("lmkit: error: ") and "Traceback" not in err and err.count("\n") == 0, err
    return err


def no_training(monkeypatch):
    """Make any encoding (the first long step) fail the test: the error must come before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the corpus was encoded before the error was found")
    monkeypatch.setattr(encoded_module, "encode_corpus", refuse)


# ----------------------------------------------------------------------------- input that is not text

def test_a_zip_archive_is_read_as_its_text_members(tmp_path, corpus, capsys):
    archive = tmp_path / "texts.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(corpus, "corpus/train.txt")
    assert main(["data", "encode", str(archive), "--quiet"]) == 0
    assert main(["data", "encode", str(corpus), "--quiet"]) == 0
    zipped, plain = capsys.readouterr().out.splitlines()[::2]
    assert zipped.split(": ", 1)[1].split(" (")[0] == plain.split(": ", 1)[1].split(" (")[0]  # same counts


def test_binary_input_stops_with_the_count_and_the_flag_to_force_it(tmp_path, corpus, capsys):
    program = tmp_path / "program"
    program.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 200)
    assert main(["train", "skipgram", "--input", str(program), "--output", str(tmp_path / "v.txt"),
                 "--encoding-errors", "replace", "--quiet"]) == 2
    message = error_of(capsys)
    assert "program: " in message and "bytes (" in message and "--max-invalid 1" in message
    assert not (tmp_path / "v.txt").exists()
    assert main(["data", "encode", str(program), "--quiet"]) == 2
    assert "NUL byte (binary data)" in error_of(capsys)


def test_encoding_option_and_hints_name_the_flags(tmp_path, corpus, capsys):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("le café est très bon\nun café\n".encode("latin-1"))
    assert main(["data", "encode", str(latin), "--quiet"]) == 2
    message = error_of(capsys)
    assert "--encoding-errors replace" in message and "--encoding latin-1" in message and "errors=" not in message
    assert main(["data", "encode", str(latin), "--encoding", "latin-1", "--vocab-out", str(tmp_path / "v.tsv"),
                 "--quiet"]) == 0
    assert "café" in (tmp_path / "v.tsv").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- output paths

def test_output_problems_are_found_before_training(tmp_path, corpus, capsys, monkeypatch):
    no_training(monkeypatch)
    base = ["train", "skipgram", "--input", str(corpus), "--quiet"]
    (tmp_path / "folder").mkdir()
    assert main(base + ["--output", str(tmp_path / "folder")]) == 2
    assert "--output" in (message := error_of(capsys)) and "is a directory" in message
    assert main(base + ["--output", str(corpus / "v.txt")]) == 2
    assert "is a file, not a folder" in error_of(capsys)
    monkeypatch.setattr("lmkit.cli.paths.os.access", lambda path, mode: False)  # root ignores chmod: simulate it
    for command in (base + ["--output", str(tmp_path / "out" / "v.txt")],
                    ["train", "ngram", "--input", str(corpus), "--output", str(tmp_path / "kn"), "--quiet"],
                    ["train", "nplm", "--input", str(corpus), "--output", str(tmp_path / "m"), "--quiet"],
                    ["data", "encode", str(corpus), "--vocab-out", str(tmp_path / "v.tsv"), "--quiet"]):
        assert main(command) == 2
        assert f"no permission to create files in {tmp_path}" in error_of(capsys)


def test_a_full_disk_at_write_time_is_one_line_and_keeps_the_old_file(tmp_path, corpus, capsys, monkeypatch):
    vocab = tmp_path / "vocab.tsv"
    assert main(["data", "encode", str(corpus), "--vocab-out", str(vocab), "--quiet"]) == 0  # now cached
    vocab.write_text("old content")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["data", "encode", str(corpus), "--vocab-out", str(vocab), "--quiet"]) == 2
    assert error_of(capsys).endswith(f"{vocab}: No space left on device")
    assert vocab.read_text() == "old content" and sorted(p.name for p in tmp_path.iterdir()
                                                         if p.name.startswith(".vocab")) == []


# ----------------------------------------------------------------------------- absurd sizes

def test_absurd_word2vec_sizes_are_refused_before_training(tmp_path, corpus, capsys, monkeypatch):
    base = ["train", "skipgram", "--input", str(corpus), "--output", str(tmp_path / "v.txt"), "--quiet"]
    monkeypatch.setattr("lmkit.memory.available_bytes", lambda: 1 << 30)  # a 1 GiB machine
    assert main(base + ["--size", "1000000000", "--min-count", "1"]) == 2
    message = error_of(capsys)
    assert "--size 1000000000 with 9 words" in message and "more than the 1.0 GB available" in message
    assert main(base + ["--negative", "100000000", "--min-count", "1"]) == 2
    assert "--negative 100000000: the vocabulary has 9 words" in error_of(capsys)
    no_training(monkeypatch)
    assert main(base + ["--window", "100000000"]) == 2
    assert error_of(capsys).startswith("lmkit: error: --window must be <=")
    assert main(base + ["--alpha", "0.01", "--min-alpha", "0.1"]) == 2
    message = error_of(capsys)
    assert "--min-alpha must be <= alpha" in message and "--min-alpha 0.1 > --alpha 0.01" in message
    assert main(base + ["--size", "0"]) == 2
    assert "--size must be an integer >= 1" in error_of(capsys)
    assert main(base + ["--threads", "0"]) == 2
    assert "--threads must be an integer >= 1" in error_of(capsys)


def test_absurd_nplm_sizes_are_refused_before_training(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setattr("lmkit.memory.available_bytes", lambda: 1 << 30)
    assert main(["train", "nplm", "--input", str(corpus), "--output", str(tmp_path / "m"), "--features",
                 "10000000", "--quiet"]) == 2
    assert "an NPLM of" in (message := error_of(capsys)) and "--features 10000000" in message
    assert not (tmp_path / "m").exists()


def test_memory_estimates_count_the_arrays():
    from lmkit.lm.nplm import NPLMConfig
    from lmkit.memory import check_fits, nplm_bytes, word2vec_bytes
    from lmkit.word2vec.model import Word2VecConfig

    both = Word2VecConfig(loss="both", vector_size=10, window=2, negative=3, workers=2)
    assert word2vec_bytes(both, 100) == (100 + 99 + 100) * 10 * 4 + 2 * (2 * 2 * 10 * 4 + 4 * 8)
    small, large = NPLMConfig(features=10, hidden=5), NPLMConfig(features=20, hidden=5)
    assert nplm_bytes(large, 1000) > nplm_bytes(small, 1000) > 4 * 4 * 1000 * (10 + 5 + 40)
    check_fits(100, "x", available=1000)
    with pytest.raises(ValueError, match="x needs at least 1.0 KB of memory, more than the 1000 B available"):
        check_fits(1024, "x", available=1000)


# ----------------------------------------------------------------------------- vector files

def test_vector_file_flags_and_hints(tmp_path, capsys):
    plain = tmp_path / "glove.txt"
    plain.write_text("cat 1 0\ndog 0.9 0.1\nbird 0 1\n", encoding="utf-8")
    assert main(["similar", str(plain), "cat", "--text"]) == 2
    message = error_of(capsys)
    assert "--no-header" in message and "no_header" not in message
    assert main(["similar", str(plain), "cat", "--no-header", "--topn", "1"]) == 0
    assert capsys.readouterr().out.startswith("dog\t")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("2 2\ncaf\xe9 1 0\ndog 0.9 0.1\n".encode("latin-1"))
    assert main(["similar", str(latin), "dog", "--text"]) == 2
    message = error_of(capsys)
    assert "--unicode-errors replace" in message and "unicode_errors" not in message
    assert main(["similar", str(latin), "dog", "--text", "--unicode-errors", "replace", "--topn", "1"]) == 0
    assert capsys.readouterr().out.startswith("caf\ufffd\t")


# ----------------------------------------------------------------------------- datasets on first use

def test_a_dataset_name_is_fetched_on_first_use_unless_no_download(brown_zip, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LMKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "search_dirs", lambda: [tmp_path / "data"])
    monkeypatch.delenv("LMKIT_NO_DOWNLOAD", raising=False)
    fetched = []

    def fake_download(name, dest_dir=None, url=None, verbose=True):  # no network: copies the local file
        fetched.append(name)
        target = tmp_path / "data" / datasets.DATASET_FILES[name].filename
        target.parent.mkdir(exist_ok=True)
        shutil.copy(brown_zip, target)
        return target

    monkeypatch.setattr(datasets, "_DOWNLOADER", fake_download)
    assert main(["data", "encode", "brown:test", "--no-download", "--quiet"]) == 2
    assert "lmkit data download brown" in capsys.readouterr().err and fetched == []
    monkeypatch.setenv("LMKIT_NO_DOWNLOAD", "1")
    assert main(["data", "encode", "brown:test", "--quiet"]) == 2 and fetched == []
    monkeypatch.setenv("LMKIT_NO_DOWNLOAD", "0")
    assert main(["data", "encode", "brown:test", "--quiet"]) == 0 and fetched == ["brown"]
    assert "161192 tokens" in capsys.readouterr().out
    assert main(["data", "encode", "brown:test", "--quiet"]) == 0 and fetched == ["brown"]  # found: not again
