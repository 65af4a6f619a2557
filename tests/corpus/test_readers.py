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
    path.write_bytes(b"caf\xe9 ok\n" + b"plain text line\n" * 20)
    assert lines_of(path, errors="replace")[0] == "caf\ufffd ok"
    assert lines_of(path, errors="ignore")[0] == "caf ok"


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


def test_binary_input_with_replace_stops_with_the_count(tmp_path):
    binary = tmp_path / "program"
    binary.write_bytes(bytes(range(256)) * 400)  # NUL and invalid UTF-8 everywhere, some newlines
    with pytest.raises(ValueError, match=r"program: [\d,]+ of the first [\d,]+ bytes \(\d+\.\d%\) are not valid "
                                         r"UTF-8 text.*max_invalid=1"):
        lines_of(binary, errors="replace")
    assert len(lines_of(binary, errors="replace", max_invalid=1)) > 0  # forced: read anyway
    with pytest.raises(ValueError, match=r"program: line 1: NUL byte \(binary data\) 0x00 at byte offset 0"):
        lines_of(binary)


def test_a_few_invalid_bytes_are_counted_not_fatal(tmp_path):
    path = tmp_path / "mostly.txt"
    path.write_bytes(b"word " * 2000 + b"\xff\n")  # 1 bad byte in 10,002
    assert lines_of(path, errors="replace")[0].endswith("\ufffd")
    path.write_bytes(b"word\xff\n" * 100)  # 1 in 6
    with pytest.raises(ValueError, match=r"100 of the first 600 bytes \(16\.7%\)"):
        lines_of(path, errors="replace")


def test_latin1_encoding_reads_what_utf8_refuses(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("café au lait\nnaïve\n".encode("latin-1"))
    with pytest.raises(ValueError, match="encoding='latin-1'"):
        lines_of(path)
    assert lines_of(path, encoding="latin-1") == ["café au lait", "naïve"]
    source = FileSource(path, encoding="latin-1")
    assert [line for block in source.line_blocks() for line in block] == ["café au lait", "naïve"]
    assert source.fingerprint() != FileSource(path, encoding="cp1252").fingerprint()
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        FileSource(path, encoding="klingon")
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        FileSource(path, encoding="utf-16")


def test_zip_archive_is_read_member_by_member(tmp_path):
    import zipfile

    archive = tmp_path / "texts.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("b/second.txt", "third line\n")
        handle.writestr("a.txt", "first line\nsecond line\n")
        handle.writestr("__MACOSX/._a.txt", b"\x00\x05\x16\x07 resource fork")
        handle.writestr("dir/", "")
    source = FileSource(archive)
    assert [line for block in source.line_blocks() for line in block] == ["first line", "second line", "third line"]
    with zipfile.ZipFile(tmp_path / "bin.zip", "w") as handle:
        handle.writestr("blob.bin", bytes(range(256)) * 10)
    with pytest.raises(ValueError, match=r"bin\.zip:blob\.bin: line 1: NUL byte"):
        list(FileSource(tmp_path / "bin.zip").line_blocks())
    (tmp_path / "fake.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=r"fake\.zip: not a valid zip file"):
        list(FileSource(tmp_path / "fake.zip").line_blocks())


def test_brown_zip_by_path_reads_as_the_brown_corpus(brown_zip):
    from lmkit.corpus.datasets import BrownSource, resolve

    first = next(iter(resolve(str(brown_zip)).line_blocks()))
    assert first[:50] == next(iter(BrownSource(zip_path=brown_zip).line_blocks()))[:50]
    assert first[0].startswith("The Fulton County Grand Jury said")
