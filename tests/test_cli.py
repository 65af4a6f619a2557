import subprocess
import sys
import time

import pytest

from lmkit.cli import main


def test_help_answers_fast_without_loading_numba():
    code = ("import sys, time; t = time.perf_counter(); from lmkit.cli import build_parser; "
            "build_parser().format_help(); print(time.perf_counter() - t); "
            "print('numba' in sys.modules, 'lmkit.corpus.encoded' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 1.0
    assert out[1:] == ["False", "False"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lmkit", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - started < 3.0  # interpreter start included


def test_data_encode_prints_statistics(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("The cat\nthe dog\n", encoding="utf-8")
    assert main(["data", "encode", str(corpus), "--lowercase", "--quiet", "--vocab-out", str(tmp_path / "v.tsv")]) == 0
    out = capsys.readouterr().out
    assert "4 tokens, 2 sentences, vocabulary 3" in out
    assert (tmp_path / "v.tsv").read_text().splitlines()[1] == "the\t2\t"


def test_errors_become_a_message_and_exit_code_2(tmp_path, capsys):
    assert main(["data", "encode", str(tmp_path / "missing.txt"), "--quiet"]) == 2
    assert "lmkit: error: input file not found" in capsys.readouterr().err
    (tmp_path / "c.txt").write_text("a b\n")
    assert main(["data", "encode", str(tmp_path / "c.txt"), "--min-count", "5", "--quiet"]) == 2
    assert "--min-count 5 leaves an empty vocabulary" in capsys.readouterr().err  # the flag, not the argument


def test_data_list_and_download(brown_zip, tmp_path, capsys):
    assert main(["data", "list"]) == 0
    assert "brown" in capsys.readouterr().out
    assert main(["data", "download", "brown", "--dest", str(tmp_path), "--url", brown_zip.as_uri()]) == 0
    assert (tmp_path / "brown.zip").read_bytes() == brown_zip.read_bytes()
    with pytest.raises(SystemExit):
        main(["data", "download"])
