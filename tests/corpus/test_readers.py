import bz2
import gzip

import pytest

from lmkit.corpus.readers import FileSource, expand_paths, iter_line_blocks


def lines_of(path, **kwargs):
    return [line for block in iter_line_blocks(path, **kwargs) for line in block]


def test_plain_gzip_and_bz2_read_the_same_lines(tmp_path):
    text = "the cat sat\n\nsecond line  \nno newline at end"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "a.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write(text)
    with bz2.open(tmp_path / "a.txt.bz2", "wt", encoding="utf-8") as handle:
        handle.write(text)
    expected = ["the cat sat", "", "second line", "no newline at end"]
    for name in ("a.txt", "a.txt.gz", "a.txt.bz2"):
        assert lines_of(tmp_path / name) == expected


def test_small_blocks_stream_lines_across_block_edges(tmp_path):
    lines = [f"line {i} " + "x" * (i % 7) for i in range(200)]
    (tmp_path / "a.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    blocks = list(iter_line_blocks(tmp_path / "a.txt", block_bytes=16))
    assert len(blocks) > 10
    assert [line for block in blocks for line in block] == [line.rstrip() for line in lines]


def test_invalid_utf8_names_file_line_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nsecond \xff line\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 2: invalid UTF-8 byte 0xff at byte offset 17"):
        lines_of(path)


def test_invalid_utf8_offset_is_counted_across_blocks(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"aaaa\n" * 10 + b"b\xc3(\n")
    with pytest.raises(ValueError, match=r"line 11: .* at byte offset 51"):
        lines_of(path, block_bytes=8)


def test_errors_replace_substitutes(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 ok\n")
    assert lines_of(path, errors="replace") == ["caf\ufffd ok"]


def test_unknown_errors_mode_rejected(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ValueError, match="errors"):
        FileSource(tmp_path / "a.txt", errors="loose")


def test_corrupt_gzip_is_reported_with_the_file(tmp_path):
    path = tmp_path / "broken.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("word " * 10000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"broken\.txt\.gz: corrupt or truncated compressed file"):
        lines_of(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"broken\.txt\.gz: corrupt"):
        lines_of(path)


def test_expand_paths_globs_directories_and_errors(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.txt", "a.txt", ".hidden"):
        (tmp_path / "d" / name).write_text("x\n")
    assert [p.name for p in expand_paths(tmp_path / "d")] == ["a.txt", "b.txt"]
    assert [p.name for p in expand_paths(str(tmp_path / "d" / "*.txt"))] == ["a.txt", "b.txt"]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        expand_paths(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_paths(str(tmp_path / "*.nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="contains no text files"):
        expand_paths(tmp_path / "empty")


def test_file_source_fingerprint_changes_with_content(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one\n")
    before = FileSource(path).fingerprint()
    path.write_text("one two\n")
    assert FileSource(path).fingerprint() != before
