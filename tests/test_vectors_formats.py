"""word2vec text/binary formats: exact round trips, gensim interoperability, streaming, bad input."""
from __future__ import annotations

import bz2
import gzip
import struct

import numpy as np
import pytest

from lmkit.vectors import KeyedVectors, formats, sniff_binary



@pytest.fixture
def gensim_models(need_module):
    """gensim's ``models`` package: only the interoperability tests need it."""
    return need_module("gensim.models")

AWKWARD = ["the", "café", "日本", "a\tb", "x\u00a0y", "don't", "\u200bzero", "naïve", "Ω≈ç√", "#hash", "1.5"]


def bits(array):
    return np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)


def sample_kv(n_words=len(AWKWARD), size=7, seed=0):
    rng = np.random.default_rng(seed)
    keys = AWKWARD + [f"w{i}" for i in range(max(0, n_words - len(AWKWARD)))]
    vectors = (rng.standard_normal((len(keys), size)) * rng.choice([1e-30, 1e-3, 1, 1e4, 1e30], size=(len(keys), 1)))
    vectors = vectors.astype(np.float32)
    vectors[0, :5] = [0.0, -0.0, np.float32(1.4e-45), np.finfo(np.float32).max, np.finfo(np.float32).tiny]
    return KeyedVectors(keys[:n_words], vectors[:n_words])


def extreme_floats(count=20_000, seed=0):
    """Finite float32 values from random bit patterns: every exponent, subnormals, signs."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**32, size=count, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return values[np.isfinite(values)][: (count // 2) // 10 * 10].reshape(-1, 10)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("suffix", [".txt", ".bin", ".txt.gz", ".bin.bz2"])
def test_round_trip_is_bit_exact(tmp_path, suffix):
    kv = sample_kv()
    binary = ".bin" in suffix
    path = kv.save_word2vec_format(tmp_path / f"v{suffix}", binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(bits(back.vectors), bits(kv.vectors))
    assert back.vectors.dtype == np.float32


@pytest.mark.parametrize("binary", [False, True])
def test_every_float32_bit_pattern_survives_lmkit_and_gensim(tmp_path, binary, gensim_models):
    values = extreme_floats()
    kv = KeyedVectors([f"w{i}" for i in range(len(values))], values)
    path = kv.save_word2vec_format(tmp_path / "v", binary=binary)
    np.testing.assert_array_equal(bits(KeyedVectors.load_word2vec_format(path, binary=binary).vectors), bits(values))
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    np.testing.assert_array_equal(bits(theirs.vectors), bits(values))


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("limit", [None, 4])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_gensim_reads_what_lmkit_writes(tmp_path, binary, limit, suffix, gensim_models):
    kv = sample_kv()
    path = kv.save_word2vec_format(tmp_path / f"v{suffix}", binary=binary, limit=limit)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    n = len(kv) if limit is None else limit
    assert theirs.index_to_key == kv.index_to_key[:n]
    np.testing.assert_array_equal(bits(theirs.vectors), bits(kv.vectors[:n]))


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("suffix", ["", ".bz2"])
def test_lmkit_reads_what_gensim_writes(tmp_path, binary, suffix, gensim_models):
    kv = sample_kv()
    theirs = gensim_models.KeyedVectors(kv.vector_size)
    theirs.add_vectors(kv.index_to_key, kv.vectors)
    path = tmp_path / f"g{suffix}"
    theirs.save_word2vec_format(str(path), binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(bits(back.vectors), bits(kv.vectors))
    assert back.most_similar("café", topn=3) == kv.most_similar("café", topn=3)


def test_binary_layout_is_the_c_tools(tmp_path):
    kv = KeyedVectors(["ab", "é"], np.array([[1.5, -2.0], [0.25, 8.0]], dtype=np.float32))
    data = kv.save_word2vec_format(tmp_path / "v.bin", binary=True).read_bytes()
    assert data == (b"2 2\nab " + struct.pack("<2f", 1.5, -2.0) + b"\n"
                    + "é".encode() + b" " + struct.pack("<2f", 0.25, 8.0) + b"\n")
    text = kv.save_word2vec_format(tmp_path / "v.txt").read_text(encoding="utf-8")
    assert text == "2 2\nab 1.5 -2\né 0.25 8\n"


def test_reader_tolerates_c_tool_and_gensim_variants(tmp_path):
    rows = [("a", [1.0, 2.0]), ("b", [3.0, -4.5])]
    with_newline = b"2 2\n" + b"".join(w.encode() + b" " + struct.pack("<2f", *v) + b"\n" for w, v in rows)
    without = b"2 2\n" + b"".join(w.encode() + b" " + struct.pack("<2f", *v) for w, v in rows)
    for name, data in [("c.bin", with_newline), ("g.bin", without)]:
        (tmp_path / name).write_bytes(data)
        kv = KeyedVectors.load_word2vec_format(tmp_path / name, binary=True)
        assert kv.index_to_key == ["a", "b"]
        np.testing.assert_array_equal(kv.vectors, [[1, 2], [3, -4.5]])
    # the C tool's text rows end with a space; Windows line ends; the last line without newline
    (tmp_path / "c.txt").write_bytes(b"2 2\r\na 1.000000 2.000000 \r\nb 3 -4.5")
    kv = KeyedVectors.load_word2vec_format(tmp_path / "c.txt")
    assert kv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(kv.vectors, [[1, 2], [3, -4.5]])


@pytest.mark.parametrize("binary", [False, True])
def test_streaming_across_many_small_blocks(tmp_path, monkeypatch, binary):
    monkeypatch.setattr(formats, "_TEXT_BLOCK_BYTES", 100)
    monkeypatch.setattr(formats, "_BINARY_CHUNK_BYTES", 37)  # chunk edges fall inside words and vectors
    kv = sample_kv(n_words=60, size=9, seed=4)
    path = kv.save_word2vec_format(tmp_path / "v", binary=binary)
    for limit in (None, 0, 1, 33, 60, 100):
        back = KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit)
        n = 60 if limit is None else min(limit, 60)
        assert back.index_to_key == kv.index_to_key[:n]
        np.testing.assert_array_equal(bits(back.vectors), bits(kv.vectors[:n]))


def test_limit_on_write_headerless_files_and_datatypes(tmp_path, gensim_models):
    kv = sample_kv()
    path = kv.save_word2vec_format(tmp_path / "v.txt", limit=3)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "3 7"
    assert KeyedVectors.load_word2vec_format(path).index_to_key == kv.index_to_key[:3]
    bare = kv.save_word2vec_format(tmp_path / "bare.txt", write_header=False)
    back = KeyedVectors.load_word2vec_format(bare, no_header=True)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(bits(back.vectors), bits(kv.vectors))
    assert len(KeyedVectors.load_word2vec_format(bare, no_header=True, limit=2)) == 2
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(bare), no_header=True)
    np.testing.assert_array_equal(bits(theirs.vectors), bits(kv.vectors))
    wide = KeyedVectors.load_word2vec_format(tmp_path / "v.txt", datatype=np.float64)
    assert wide.vectors.dtype == np.float64
    np.testing.assert_array_equal(bits(wide.vectors.astype(np.float32)), bits(kv.vectors[:3]))
    small = KeyedVectors(["a", "b"], np.array([[0.5, 1e-3], [-2, 60000]], np.float32))
    half = KeyedVectors.load_word2vec_format(small.save_word2vec_format(tmp_path / "h.bin", binary=True),
                                             binary=True, datatype=np.float16)
    assert half.vectors.dtype == np.float16
    np.testing.assert_array_equal(half.vectors, small.vectors.astype(np.float16))
    with pytest.raises(ValueError, match="line 2: non-finite value .*out of range of float16"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", datatype=np.float16)
    with pytest.raises(ValueError, match="datatype"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", datatype=np.int32)
    with pytest.raises(ValueError, match="limit"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", limit=-1)
    with pytest.raises(ValueError, match="no_header"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", binary=True, no_header=True)
    with pytest.raises(ValueError, match="write_header"):
        kv.save_word2vec_format(tmp_path / "x.bin", binary=True, write_header=False)


# ------------------------------------------------------------------- bad input


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data,message", [
    (b"", "line 1: empty file"),
    (b"2\na 1\n", "line 1: expected a header 'V d'"),
    (b"two 2\na 1 2\n", "line 1: expected a header"),
    (b"2 0\na\n", "V >= 0 and d >= 1"),
    (b"2 2\na 1 2\nb 1 2 3\n", "line 3: expected 2 values after the word, found 3"),
    (b"2 2\na 1 2\nb 1\n", "line 3: expected 2 values after the word, found 1"),
    (b"2 2\na 1 2\nb\n", "line 3: no values after the word 'b'"),
    (b"2 2\na 1 2\nb 1 x2\n", "line 3: non-numeric value b'x2'"),
    (b"2 2\na 1 2\nb 1 nan\n", "line 3: non-finite value"),
    (b"2 2\na 1 2\nb inf 1\n", "line 3: non-finite value"),
    (b"3 2\na 1 2\nb 1 2\n", "line 4: unexpected end of file: the header promises 3 rows, found 2"),
    (b"2 2\na 1 2\na 3 4\n", "line 3: duplicate word 'a' \\(first seen at line 2\\)"),
    (b"2 2\na 1 2\n 3 4\n", "line 3: empty word"),
    (b"2 2\na 1 2\n\xff\xfe 3 4\n", "line 3: word b'\\\\xff\\\\xfe' is not valid UTF-8"),
])
def test_malformed_text_files_name_the_file_and_line(tmp_path, data, message):
    path = write(tmp_path, "bad.txt", data)
    with pytest.raises(ValueError, match=message) as error:
        KeyedVectors.load_word2vec_format(path)
    assert str(path) in str(error.value)


def test_malformed_binary_files_name_word_and_offset(tmp_path):
    row = lambda w, v: w + b" " + struct.pack("<2f", *v) + b"\n"  # noqa: E731
    good = row(b"a", (1, 2))
    path = write(tmp_path, "short.bin", b"3 2\n" + good + row(b"b", (3, 4)))
    with pytest.raises(ValueError, match=r"truncated binary file: the header promises 3 words .* ends at byte 26 "
                                         r"inside word 3 \(starting at byte 26\)"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path = write(tmp_path, "cut.bin", b"2 2\n" + good + b"b " + b"\0\0\0")
    with pytest.raises(ValueError, match=r"ends at byte 20 inside word 2 \(starting at byte 15\)"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path = write(tmp_path, "dup.bin", b"2 2\n" + good + row(b"a", (3, 4)))
    with pytest.raises(ValueError, match=r"word 2 at byte 15: duplicate word 'a' \(first seen at word 1\)"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path = write(tmp_path, "nan.bin", b"2 2\n" + good + row(b"b", (3, float("nan"))))
    with pytest.raises(ValueError, match="word 2 at byte 15: non-finite value"):
        KeyedVectors.load_word2vec_format(path, binary=True)


def test_unicode_errors_strict_replace_ignore(tmp_path, gensim_models):
    cut = "日本".encode()[:-1]  # the C tool cuts long words at a byte count
    for binary in (False, True):
        body = cut + (b" " + struct.pack("<2f", 1, 2) + b"\n" if binary else b" 1 2\n")
        path = write(tmp_path, f"u{binary}", b"1 2\n" + body)
        with pytest.raises(ValueError, match="not valid UTF-8.*unicode_errors"):
            KeyedVectors.load_word2vec_format(path, binary=binary)
        for errors in ("replace", "ignore"):
            ours = KeyedVectors.load_word2vec_format(path, binary=binary, unicode_errors=errors)
            theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary, unicode_errors=errors)
            assert ours.index_to_key == theirs.index_to_key
        with pytest.raises(ValueError, match="unicode_errors must be"):
            KeyedVectors.load_word2vec_format(path, binary=binary, unicode_errors="bogus")


def test_wrong_format_flag_is_reported(tmp_path):
    kv = sample_kv(n_words=30, size=20, seed=2)
    binary = kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    with pytest.raises(ValueError, match=r"line \d+: .*the file looks binary: pass binary=True"):
        KeyedVectors.load_word2vec_format(binary)
    text = kv.save_word2vec_format(tmp_path / "v.txt")
    with pytest.raises(ValueError, match="the file looks like text: pass binary=False"):
        KeyedVectors.load_word2vec_format(text, binary=True)
    assert sniff_binary(binary) and not sniff_binary(text)
    assert sniff_binary(kv.save_word2vec_format(tmp_path / "v.bin.gz", binary=True))
    assert not sniff_binary(kv.save_word2vec_format(tmp_path / "v.txt.bz2"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        KeyedVectors.load_word2vec_format(tmp_path / "missing.txt")


def test_unwritable_words_and_values_are_refused_atomically(tmp_path):
    target = tmp_path / "v.txt"
    target.write_text("old")
    for keys in (["a b", "c"], ["a\nb", "c"], ["", "c"]):
        with pytest.raises(ValueError, match="cannot be written"):
            KeyedVectors(keys, np.zeros((2, 2), np.float32)).save_word2vec_format(target)
    with pytest.raises(ValueError, match=r"word 1 \('c'\) has non-finite values"):
        KeyedVectors(["a", "c"], np.array([[0, 0], [np.nan, 1]], np.float32)).save_word2vec_format(target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.txt"]


def test_compressed_files_are_really_compressed(tmp_path):
    kv = sample_kv()
    with gzip.open(kv.save_word2vec_format(tmp_path / "v.txt.gz"), "rb") as handle:
        assert handle.readline() == b"11 7\n"
    with bz2.open(kv.save_word2vec_format(tmp_path / "v.bin.bz2", binary=True), "rb") as handle:
        assert handle.readline() == b"11 7\n"
