"""Files that used to give wrong results silently now give errors naming the cause."""
from __future__ import annotations

import numpy as np
import pytest

from lm_reference import make_corpus  # tests/lm, on the path by conftest.py
from lmkit.cli import main
from lmkit.io import load_model, save_model
from lmkit.lm.ngram import KneserNey
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.vectors import KeyedVectors, formats, sniff_binary


def _resave(path, change):
    arrays, meta = load_model(path)
    kind = meta.pop("kind")
    for key in ("format", "format_version", "lmkit_version"):
        meta.pop(key)
    change(arrays)
    save_model(path, kind, arrays, meta)


def _models(tmp_path):
    rng = np.random.default_rng(0)
    corpus = make_corpus([list(rng.integers(0, 9, 6)) for _ in range(40)], 10)
    nplm = NPLM(NPLMConfig(context=2, features=3, hidden=4)).build(corpus.vocab)
    return {"nplm": (nplm.save(tmp_path / "n.npz"), NPLM.load),
            "kneser_ney": (KneserNey(3).fit(corpus).save(tmp_path / "k.npz"), KneserNey.load)}


@pytest.mark.parametrize("kind, name, change, message", [
    ("nplm", "H", lambda a: a.update(H=a["H"].astype(np.float64)), r"array H is float64\[4, 6\], the config implies float32"),
    ("nplm", "b", lambda a: a.update(b=a["b"][:-1]), r"array b is float32\[9\], the config implies float32\[10\]"),
    ("nplm", "C", lambda a: a.update(C=a["C"].astype(np.int64)), r"array C is int64, expected float32 or float64"),
    ("kneser_ney", "num2", lambda a: a.update(num2=a["num2"].astype(np.float32)), r"array num2 is float32"),
    ("kneser_ney", "gamma3", lambda a: a.update(gamma3=a["gamma3"][1:]), r"array gamma3 is float64\[\d+\], expected"),
    ("kneser_ney", "grams1", lambda a: a.update(grams1=a["grams1"][::-1].copy()), r"grams1 is not strictly increasing"),
])
def test_model_arrays_of_the_wrong_dtype_or_shape_are_refused(tmp_path, kind, name, change, message):
    path, load = _models(tmp_path)[kind]
    load(path)  # fine as saved
    _resave(path, change)
    with pytest.raises(ValueError, match=message):
        load(path)


def test_word2vec_model_arrays_are_checked(tmp_path):
    from lmkit.word2vec.model import Word2Vec

    text = tmp_path / "t.txt"
    text.write_text("a b c a b d a c\n" * 30)
    model = Word2Vec(vector_size=8, epochs=1, min_count=1, workers=1).fit(str(text))
    path = model.save(tmp_path / "w.npz")
    _resave(path, lambda a: a.update(syn0=a["syn0"].astype(np.float64)))
    with pytest.raises(ValueError, match=r"syn0 is float64\(\d+, 8\), expected float32"):
        Word2Vec.load(path)


def test_a_vector_file_is_not_taken_for_a_model(tmp_path, capsys):
    KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32)).save_word2vec_format(tmp_path / "v.txt")
    assert main(["perplexity", str(tmp_path / "v.txt"), "--input", str(tmp_path / "v.txt")]) == 2
    err = capsys.readouterr().err
    assert "v.txt: not an lmkit model file (not a zip archive" in err and "pickle" not in err


def test_perplexity_refuses_or_counts_unknown_words_without_unk(tmp_path, capsys):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("a b c a\nb c a b\n" * 20)
    test.write_text("a b zz c\nyy a\n")
    assert main(["train", "ngram", "--input", str(train), "--unk", "", "--output", str(tmp_path / "m.npz"),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["perplexity", str(tmp_path / "m.npz"), "--input", str(test), "--quiet"]) == 2
    assert "2 words of the test text are not in the model's vocabulary" in capsys.readouterr().err
    assert main(["perplexity", str(tmp_path / "m.npz"), "--input", str(test), "--quiet", "--no-strict"]) == 0
    out = capsys.readouterr().out
    assert "over 6 predicted tokens" in out and "2 unknown words skipped, not scored" in out


def _vectors(tmp_path, n=30, size=7):
    rng = np.random.default_rng(0)
    kv = KeyedVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, size)).astype(np.float32))
    return (kv, kv.save_word2vec_format(tmp_path / "v.txt"),
            kv.save_word2vec_format(tmp_path / "v.bin", binary=True))


@pytest.mark.parametrize("binary", [False, True])
def test_a_header_promising_fewer_rows_is_reported(tmp_path, binary):
    kv, text, binfile = _vectors(tmp_path)
    path = binfile if binary else text
    path.write_bytes(path.read_bytes().replace(b"30 7\n", b"20 7\n", 1))
    where = r"byte \d+" if binary else "line 22"
    with pytest.raises(ValueError, match=f"{where}: more .* the 20 .* header promises .* pass limit=20"):
        formats.read_word2vec(path, binary=binary)
    words, vectors = formats.read_word2vec(path, binary=binary, limit=20)
    assert words == kv.index_to_key[:20]
    np.testing.assert_array_equal(vectors, kv.vectors[:20])


def test_text_file_with_one_non_utf8_word_is_text_and_blamed_at_its_line(tmp_path):
    _, text, _ = _vectors(tmp_path)
    lines = text.read_bytes().split(b"\n")
    lines[21] = b"caf\xe9" + lines[21][lines[21].index(b" "):]  # Latin-1, line 22 of the file
    text.write_bytes(b"\n".join(lines))
    assert sniff_binary(text) is False
    with pytest.raises(ValueError, match=r"v.txt: line 22: word b'caf\\xe9' is not valid UTF-8"):
        KeyedVectors.load_word2vec_format(text)
    assert KeyedVectors.load_word2vec_format(text, unicode_errors="replace").index_to_key[20] == "caf\ufffd"


def test_binary_file_with_a_wrong_dimension_is_blamed_on_the_header(tmp_path):
    _, _, binfile = _vectors(tmp_path)
    binfile.write_bytes(binfile.read_bytes().replace(b"30 7\n", b"30 9\n", 1))
    assert sniff_binary(binfile) is True
    with pytest.raises(ValueError, match=r"v.bin: line 1: the header gives vector size 9, but the rows hold 7 "
                                         r"float32 values: the header is wrong"):
        formats.read_word2vec(binfile, binary=True)
