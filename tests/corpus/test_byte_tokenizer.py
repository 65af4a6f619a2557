"""The compiled whitespace tokenizer (lmkit.corpus.byte_types) against HuggingFace's WhitespaceSplit.

The reference is the Rust pre-tokenizer itself (``WhitespaceSplit().pre_tokenize_str``) applied to the
lines the line reader gives (``str.rstrip``-ed), and, end to end, ``encode_corpus`` with the fast path
switched off: ids, offsets and vocabulary must be identical.
"""
import gzip
import random

import numpy as np
import pytest
from tokenizers import pre_tokenizers

from lmkit.corpus import shards as shards_module
from lmkit.corpus.byte_types import TypeTable
from lmkit.corpus.encoded import encode_corpus
from lmkit.corpus.readers import iter_line_blocks, iter_utf8_blocks
from lmkit.corpus.tokenizer import Tokenizer

# Rust's whitespace beyond ASCII, and the four separators only Python calls whitespace.
UNICODE_SPACES = "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
PYTHON_ONLY = "\x1c\x1d\x1e\x1f"
SPLITTER = pre_tokenizers.WhitespaceSplit()


def hf_lines(text: str, strip: bool) -> list[list[str]]:
    """Tokens per line by the Rust pre-tokenizer, lines cut as the readers cut them."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [[piece for piece, _ in SPLITTER.pre_tokenize_str(line.rstrip() if strip else line)] for line in lines]


def table_lines(table: TypeTable, ids: np.ndarray, lengths: np.ndarray) -> list[list[str]]:
    types = table.types()
    ends = np.cumsum(lengths)
    return [[types[i] for i in ids[end - n:end]] for n, end in zip(lengths.tolist(), ends.tolist())]


def random_text(seed: int, n_lines: int) -> str:
    """Lines of words from ASCII, accented, CJK and 4-byte characters, separated by any whitespace."""
    rng = random.Random(seed)
    letters = "ab\u00e9\u00fc\u4e2d\u6587\U0001f600\u200b\ufeff"
    spaces = " \t\r\x0b\x0c" + UNICODE_SPACES + PYTHON_ONLY
    lines = []
    for _ in range(n_lines):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 9))]
        line = "".join(rng.choice(spaces) * rng.randint(0, 2) + word for word in words)
        lines.append(line + "".join(rng.choice(spaces) for _ in range(rng.randint(0, 3))))
    return "\n".join(lines)


@pytest.mark.parametrize("strip", [True, False])
def test_split_gives_the_tokens_of_whitespace_split_on_every_separator(strip):
    text = random_text(0, 400) + "\nnul\x00byte end" + PYTHON_ONLY + " \x1c"
    table = TypeTable(capacity=1)  # grows many times on the way
    ids, lengths = table.split(text.encode("utf-8"), strip)
    assert table_lines(table, ids, lengths) == hf_lines(text, strip)
    assert ids.dtype == np.int32 and lengths.dtype == np.int64
    assert np.array_equal(table.counts(), np.bincount(ids, minlength=table.n_types))
    assert len(set(table.types())) == table.n_types  # each type once, numbered in first-seen order
    assert table.types()[:1] == [next(token for line in hf_lines(text, strip) for token in line)]


def test_split_agrees_with_whitespace_split_on_every_code_point_below_u3100():
    characters = [chr(c) for c in range(1, 0x3100) if c != 10 and not 0xD800 <= c <= 0xDFFF]
    text = "".join(f"x{c}y " for c in characters) + "\n" + "".join(f"x{c}\n" for c in characters)
    table = TypeTable()
    assert table_lines(table, *table.split(text.encode("utf-8"), True)) == hf_lines(text, True)


def test_only_python_whitespace_at_a_line_end_is_stripped():
    table = TypeTable()
    text = "a\x1cb c\x1d \x1e\nd\u3000\x1f\n\x1c\n"
    assert table_lines(table, *table.split(text.encode(), True)) == [["a\x1cb", "c"], ["d"], []]
    assert table_lines(table, *table.split(text.encode(), False)) == [["a\x1cb", "c\x1d", "\x1e"], ["d", "\x1f"],
                                                                      ["\x1c"]]


def test_line_count_follows_the_readers_rules():
    table = TypeTable()
    assert table.split(b"", True)[1].tolist() == []
    assert table.split(b"a b", True)[1].tolist() == [2]          # no final newline: still a line
    assert table.split(b"a\n\n \n", True)[1].tolist() == [1, 0, 0]  # a final newline adds no line


def test_long_tokens_and_the_merge_of_tables():
    rng = np.random.default_rng(1)
    words = ["x" * int(n) + str(i) for i, n in enumerate(rng.integers(1, 3000, 300))]
    text = "\n".join(" ".join(rng.choice(words, 7)) for _ in range(200))
    first, second = TypeTable(2), TypeTable(2)
    ids, lengths = first.split(text.encode(), True)
    assert table_lines(first, ids, lengths) == hf_lines(text, True)
    second.split(" ".join(reversed(words)).encode() + b" new", True)
    merged = TypeTable(1)
    one = merged.add_lines(first.types_utf8(), first.counts())
    two = merged.add_lines(second.types_utf8(), second.counts())
    assert [merged.types()[i] for i in one] == first.types() and [merged.types()[i] for i in two] == second.types()
    total = {}
    for table in (first, second):
        for token, count in zip(table.types(), table.counts().tolist()):
            total[token] = total.get(token, 0) + count
    assert dict(zip(merged.types(), merged.counts().tolist())) == total
    with pytest.raises(ValueError, match="2 weights for 3 lines"):
        merged.add_lines(b"a\nb\nc", np.ones(2, dtype=np.int64))


def shard_tokens(shard) -> list[list[str]]:
    types, raw, lengths = shard.types(), np.asarray(shard.raw()), shard.lengths()
    ends = np.cumsum(lengths)
    return [[types[i] for i in raw[end - n:end]] for n, end in zip(lengths.tolist(), ends.tolist())]


@pytest.mark.parametrize("block_bytes", [3, 64, 1 << 22])
def test_byte_blocks_cut_anywhere_give_the_huggingface_shard(tmp_path, block_bytes):
    # Small reads cut tokens, and multi-byte characters, at every position; the reader carries the rest over.
    text = random_text(2, 300) + "\r\n" + "long" * 500 + "\u3000word\u2003\n\n"
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode("utf-8"))
    tokenizer = Tokenizer()
    fast = shards_module.tokenize_blocks(lambda: iter_line_blocks(path), tokenizer, tmp_path / "fast", True, False,
                                         "t", lambda: iter_utf8_blocks(path, block_bytes=block_bytes))
    slow = shards_module.tokenize_blocks(lambda: iter_line_blocks(path), tokenizer, tmp_path / "slow", False, False,
                                         "t")
    assert shard_tokens(fast) == shard_tokens(slow) == hf_lines(text, True)
    assert fast.n_lines == slow.n_lines and fast.n_tokens == slow.n_tokens


def test_a_source_of_lines_is_not_stripped_and_may_not_hold_newlines(tmp_path):
    class Lines:
        name = "lines"

        def __init__(self, lines):
            self.lines = lines

        def line_blocks(self):
            yield self.lines

        def fingerprint(self):
            return "lines:" + repr(self.lines)

    lines = ["a\x1cb c\x1d", "", "\u2003x y\x1f"]
    fast = shards_module.tokenize(Lines(lines), Tokenizer(), tmp_path / "fast", verbose=False)
    slow = shards_module.tokenize(Lines(lines), Tokenizer(), tmp_path / "slow", verbose=False, fast=False)
    assert shard_tokens(fast[0]) == shard_tokens(slow[0]) == [["a\x1cb", "c\x1d"], [], ["x", "y\x1f"]]
    with pytest.raises(ValueError, match="lines: a line of the source holds a newline"):
        shards_module.tokenize(Lines(["a\nb"]), Tokenizer(), tmp_path / "bad", verbose=False)


def write_tricky_corpus(folder):
    """A plain file (to be cut into byte ranges), a gzipped one, an empty one, a blank-lines-only one."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    vocabulary = [f"w{i}" for i in range(300)] + [f"\u00e9t\u00e9{i}" for i in range(50)] + ["\u4e2d\u6587", "x" * 5000]
    spaces = [" ", "\t", " \t ", "\u3000", "\xa0", "\u2003", "\x85", "\u1680", "\u2028", "\u202f", "\u205f"]
    lines = []
    for n in rng.integers(0, 30, 3000):
        words = [vocabulary[int(r)] for r in np.minimum(rng.zipf(1.4, n), len(vocabulary)) - 1]
        line = "".join(str(rng.choice(spaces)) + word if k else word for k, word in enumerate(words))
        lines.append(line + str(rng.choice(["", "\r", " ", "\x1c", "\x1f", "\u3000"])))
    lines[5] = "p\x1cq r\x1d\x1e s\x1f"
    (folder / "a.txt").write_text("\n".join(lines[:2000]) + "\n", encoding="utf-8")
    with gzip.open(folder / "b.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\r\n".join(lines[2000:]))
    (folder / "c.txt").write_bytes(b"")
    (folder / "d.txt").write_bytes(b"\n\n \n")
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_encoding_a_corpus_equals_the_huggingface_encoding(tmp_path, monkeypatch, workers):
    source = write_tricky_corpus(tmp_path / "text")
    options = dict(min_count=2, unk="<unk>", max_sentence_length=9, verbose=False)
    real_plan = shards_module.plan
    planned = []
    monkeypatch.setattr(shards_module, "plan", lambda text, workers: planned.append(
        real_plan(text, workers, shard_bytes=5_000)) or planned[-1])
    fast = encode_corpus(source, cache_dir=tmp_path / "fast", workers=workers, **options)
    if workers > 1:
        assert any(task.start > 0 for task in planned[-1])  # a.txt was read as byte ranges
    monkeypatch.setattr(shards_module, "is_plain_whitespace", lambda config: False)
    slow = encode_corpus(source, cache_dir=tmp_path / "slow", workers=1, **options)
    assert fast.vocab == slow.vocab
    assert np.array_equal(np.asarray(fast.ids), np.asarray(slow.ids))
    assert np.array_equal(fast.offsets, slow.offsets)
    assert fast.meta["n_lines"] == slow.meta["n_lines"] and fast.meta["n_dropped"] == slow.meta["n_dropped"]


def test_an_empty_file_is_an_empty_corpus_on_both_paths(tmp_path, monkeypatch):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="the corpus is empty"):
        encode_corpus(path, cache_dir=tmp_path / "c", verbose=False)
    monkeypatch.setattr(shards_module, "is_plain_whitespace", lambda config: False)
    with pytest.raises(ValueError, match="the corpus is empty"):
        encode_corpus(path, cache_dir=tmp_path / "d", verbose=False)


def test_invalid_utf8_stops_the_fast_path_with_the_file_line_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\n" * 3 + b"bad \xff byte\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 4: invalid UTF-8 byte 0xff at byte offset 34"):
        encode_corpus(path, cache_dir=tmp_path / "c", verbose=False)
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a b\nc\x00d\n")
    with pytest.raises(ValueError, match=r"nul\.txt: line 2: NUL byte"):
        encode_corpus(nul, cache_dir=tmp_path / "c", verbose=False)


@pytest.mark.parametrize("options", [dict(errors="replace"), dict(errors="ignore"),
                                     dict(encoding="latin-1", errors="replace")])
def test_replacement_and_other_encodings_give_the_huggingface_tokens(tmp_path, monkeypatch, options):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"caf\xe9 ok \xc2\xa0x\n" + "na\u00efve \u3000y\n".encode() * 300 + b"z\x00z \x85 w\n")
    fast = encode_corpus(path, cache_dir=tmp_path / "fast", verbose=False, **options)
    monkeypatch.setattr(shards_module, "is_plain_whitespace", lambda config: False)
    slow = encode_corpus(path, cache_dir=tmp_path / "slow", verbose=False, **options)
    assert fast.vocab == slow.vocab and np.array_equal(np.asarray(fast.ids), np.asarray(slow.ids))
    assert np.array_equal(fast.offsets, slow.offsets)


def test_utf8_blocks_pass_clean_text_as_read_and_reencode_the_rest(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("clean \u00e9 line  \n".encode() * 3)
    assert b"".join(iter_utf8_blocks(path)) == path.read_bytes()  # not decoded, not stripped
    path.write_bytes(b"caf\xe9  \nok\n")
    assert b"".join(iter_utf8_blocks(path, encoding="latin-1")) == "caf\u00e9\nok\n".encode()
    assert b"".join(iter_utf8_blocks(path, errors="replace", max_invalid=1)) == "caf\ufffd\nok\n".encode()


def test_the_kernels_give_the_same_tokens_without_the_jit(tmp_path):
    import json
    import os
    import subprocess
    import sys

    text = random_text(4, 60) + "\nx\u3000y\x1c \x1d"
    code = ("import json, sys; from lmkit.corpus.byte_types import TypeTable; t = TypeTable(1); "
            "ids, lengths = t.split(sys.stdin.buffer.read(), True); merged = TypeTable(1); "
            "merged.add_lines(t.types_utf8(), t.counts()); "
            "print(json.dumps([t.types(), ids.tolist(), lengths.tolist(), merged.counts().tolist()]))")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], input=text.encode(), capture_output=True, env=env,
                         check=True).stdout
    types, ids, lengths, merged_counts = json.loads(out)
    table = TypeTable()
    expected_ids, expected_lengths = table.split(text.encode(), True)
    assert (types, ids, lengths) == (table.types(), expected_ids.tolist(), expected_lengths.tolist())
    assert merged_counts == table.counts().tolist()
