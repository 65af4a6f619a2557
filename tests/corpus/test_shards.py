"""Sharded encoding: byte ranges, the whitespace fast path, and sharded == single-process, bit for bit."""
import gzip
import sys

import numpy as np
import pytest

from lmkit.corpus import shards as shards_module
from lmkit.corpus.encoded import encode_corpus, encode_with_vocab
from lmkit.corpus.readers import iter_line_blocks, line_boundaries
from lmkit.corpus.tokenizer import Tokenizer, TokenizerConfig
from lmkit.corpus.vocab import Vocab

# Every kind of separator the two splitters might disagree on: Unicode spaces, U+001C..U+001F (Python
# whitespace, not Rust's), CR, tabs, form feeds, leading/trailing blanks, blank and whitespace-only lines.
TRICKY = ("a b\tc\r\n\n  lead trail  \n x\u00a0y\u2003z\u3000w\u2028v\u0085u\n"
          "p\x1cq r\x1d\x1e s\x1f\n t\x1c\n\x0b\x0c\nzero\u200bwidth \ufeffbom\nlast")


def shard_lines(shard):
    """The tokens of each line of a shard, as strings: what any tokenizer path must agree on."""
    types, raw, lengths = shard.types(), np.asarray(shard.raw()), shard.lengths()
    ends = np.cumsum(lengths)
    return [[types[i] for i in raw[end - n:end]] for n, end in zip(lengths.tolist(), ends.tolist())]


def tokenize_text(tmp_path, text, fast, config=None, name="t"):
    path = tmp_path / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    blocks = lambda: iter_line_blocks(path)  # noqa: E731
    return shards_module.tokenize_blocks(blocks, Tokenizer(config), tmp_path / f"{name}-{fast}", fast, False, name)


def test_fast_path_gives_the_tokens_of_the_huggingface_pipeline(tmp_path):
    fast = shard_lines(tokenize_text(tmp_path, TRICKY, True))
    slow = shard_lines(tokenize_text(tmp_path, TRICKY, False))
    assert fast == slow
    assert ["p\x1cq", "r\x1d\x1e", "s"] in fast  # split only where Rust splits; the reader strips line ends
    assert len(fast) == TRICKY.count("\n") + 1


def test_fast_path_agrees_with_huggingface_on_every_code_point(tmp_path):
    # Every code point below U+3100 (Unicode's White_Space ends at U+3000) and every one Python calls a space.
    points = set(range(1, 0x3100)) | {c for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    characters = [chr(c) for c in sorted(points - {10}) if not 0xD800 <= c <= 0xDFFF]
    text = "".join(f"x{c}y " for c in characters) + "\n"
    assert shard_lines(tokenize_text(tmp_path, text, True)) == shard_lines(tokenize_text(tmp_path, text, False))


def test_line_boundaries_cut_after_newlines_and_ranges_read_every_line_once(tmp_path):
    lines = [" ".join(f"w{i}" for i in range(n % 13)) for n in range(2000)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = path.read_bytes()
    bounds = line_boundaries(path, 7)
    assert bounds[0] == 0 and bounds[-1] == len(data) and len(bounds) == 8
    assert all(data[b - 1:b] == b"\n" for b in bounds[1:-1])
    read = [line for start, end in zip(bounds[:-1], bounds[1:])
            for block in iter_line_blocks(path, start=start, end=end, block_bytes=512) for line in block]
    assert read == lines


def test_an_error_inside_a_byte_range_names_the_file_and_absolute_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\n" * 100 + b"bad \xff byte\n" + b"more\n" * 10)
    bounds = line_boundaries(path, 2)
    with pytest.raises(ValueError, match=rf"bad.txt \(lines counted from byte {bounds[1]}\).*byte offset 1004"):
        for start, end in zip(bounds[:-1], bounds[1:]):
            list(iter_line_blocks(path, start=start, end=end))


def write_corpus(folder):
    """Three files (one gzipped, one large plain one to be cut) of skewed word counts, with blank lines."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    words = [f"w{i}" for i in range(3000)] + ["<unk>", "</s>"]
    ranks = np.minimum(rng.zipf(1.3, 60_000) - 1, len(words) - 1)
    lengths = rng.integers(0, 40, 5000)
    lines, position = [], 0
    for n in lengths:
        lines.append(" ".join(words[r] for r in ranks[position:position + n]))
        position += n
    (folder / "a.txt").write_text("\n".join(lines[:500]) + "\n", encoding="utf-8")
    (folder / "b.txt").write_text("\n".join(lines[500:4000]), encoding="utf-8")  # no final newline
    with gzip.open(folder / "c.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines[4000:]) + "\n")
    return folder


@pytest.mark.parametrize("options", [dict(min_count=2, max_sentence_length=7),
                                     dict(min_count=3, max_size=500, unk="<unk>", eos="</s>")])
def test_sharded_encoding_equals_the_single_process_one_bit_for_bit(tmp_path, monkeypatch, options):
    source = write_corpus(tmp_path / "text")
    single = encode_corpus(source, cache_dir=tmp_path / "one", verbose=False, **options)
    planned = []
    real_plan = shards_module.plan
    monkeypatch.setattr(shards_module, "plan", lambda text, workers: planned.append(
        real_plan(text, workers, shard_bytes=20_000)) or planned[-1])
    sharded = encode_corpus(source, cache_dir=tmp_path / "two", workers=2, verbose=False, **options)
    assert len(planned[0]) > 4 and any(task.start > 0 for task in planned[0])  # b.txt was cut into ranges
    assert sharded.vocab == single.vocab
    assert np.array_equal(np.asarray(sharded.ids), np.asarray(single.ids))
    assert np.array_equal(sharded.offsets, single.offsets)
    assert sharded.meta["n_dropped"] == single.meta["n_dropped"] and sharded.meta["n_lines"] == single.meta["n_lines"]
    assert sharded.meta["sha256"] == single.meta["sha256"]
    assert sharded.directory.name == single.directory.name  # same cache key: workers are not part of it


def test_fast_path_encoding_equals_the_huggingface_encoding(tmp_path, monkeypatch):
    path = tmp_path / "tricky.txt"
    path.write_text(TRICKY * 3 + "\n" + "a a b\n", encoding="utf-8")
    fast = encode_corpus(path, cache_dir=tmp_path / "fast", min_count=2, unk="<unk>", verbose=False)
    monkeypatch.setattr(shards_module, "is_plain_whitespace", lambda config: False)
    slow = encode_corpus(path, cache_dir=tmp_path / "slow", min_count=2, unk="<unk>", verbose=False)
    assert fast.vocab == slow.vocab and np.array_equal(np.asarray(fast.ids), np.asarray(slow.ids))
    assert np.array_equal(fast.offsets, slow.offsets)


def test_sharded_encoding_with_a_fixed_vocabulary_and_a_normalizing_tokenizer(tmp_path, monkeypatch):
    source = write_corpus(tmp_path / "text")
    config = TokenizerConfig(lowercase=True, pre_tokenizer="words")
    base = encode_corpus(source, config, min_count=5, unk="<unk>", cache_dir=tmp_path / "base", verbose=False)
    real_plan = shards_module.plan
    monkeypatch.setattr(shards_module, "plan", lambda text, workers: real_plan(text, workers, shard_bytes=30_000))
    one = encode_with_vocab(source, base.vocab, base.tokenizer, cache_dir=tmp_path / "one", verbose=False)
    two = encode_with_vocab(source, base.vocab, base.tokenizer, cache_dir=tmp_path / "two", workers=2,
                            verbose=False)
    assert np.array_equal(np.asarray(one.ids), np.asarray(base.ids))
    assert np.array_equal(np.asarray(two.ids), np.asarray(base.ids))
    assert np.array_equal(two.offsets, base.offsets)


def test_workers_must_be_a_positive_integer(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        encode_corpus(path, cache_dir=tmp_path / "c", workers=0, verbose=False)


@pytest.mark.parametrize("flags", [["--workers", "2"], ["--cluster", "local"]])
def test_cli_encode_takes_workers_or_a_cluster(tmp_path, capsys, request, flags):
    from lmkit.cli import main

    if "--cluster" in flags:
        request.getfixturevalue("ray_local")  # the session's local Ray (skips without the extra)
    source = write_corpus(tmp_path / "text")
    assert main(["data", "encode", str(source), *flags, "--min-count", "2", "--quiet",
                 "--vocab-out", str(tmp_path / "v.tsv")]) == 0
    assert "tokens" in capsys.readouterr().out
    single = encode_corpus(source, min_count=2, cache_dir=tmp_path / "one", verbose=False)
    assert Vocab.load(tmp_path / "v.tsv") == single.vocab


# ----------------------------------------------------------------------------- the tasks as Ray tasks

def assert_same_encoding(a, b):
    assert a.vocab == b.vocab
    assert np.array_equal(np.asarray(a.ids), np.asarray(b.ids))
    assert np.array_equal(a.offsets, b.offsets)
    assert a.meta["sha256"] == b.meta["sha256"] and a.meta["n_dropped"] == b.meta["n_dropped"]


@pytest.mark.parametrize("layout", ["files", "one file in byte ranges"])
def test_ray_tasks_give_the_encoding_of_local_processes_and_of_one_process(tmp_path, monkeypatch, ray_local,
                                                                           layout):
    source = write_corpus(tmp_path / "text")
    if layout != "files":  # the three files as one plain file, which only byte ranges can share out
        lines = [line for name in ("a.txt", "b.txt") for line in (source / name).read_text().splitlines()]
        with gzip.open(source / "c.txt.gz", "rt") as handle:
            lines += handle.read().splitlines()
        source = tmp_path / "one.txt"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = dict(min_count=3, max_size=800, unk="<unk>", max_sentence_length=9, verbose=False)
    single = encode_corpus(source, cache_dir=tmp_path / "one", **options)
    planned = []
    real_plan = shards_module.plan
    monkeypatch.setattr(shards_module, "plan", lambda text, workers: planned.append(
        real_plan(text, workers, shard_bytes=40_000)) or planned[-1])
    local = encode_corpus(source, cache_dir=tmp_path / "local", workers=2, **options)

    def not_here(*args):
        raise AssertionError("a task ran in the driver or in a local process")

    monkeypatch.setattr(shards_module, "run_task", not_here)  # Ray workers import the real module
    monkeypatch.setattr(shards_module, "_run_pool", not_here)
    on_ray = encode_corpus(source, cache_dir=tmp_path / "ray", workers=2, cluster="local", **options)
    assert len(planned) == 2 and planned[0] == planned[1]  # planned for the 2 CPUs Ray has
    assert len(planned[1]) >= 4 and sum(task.start > 0 for task in planned[1]) >= 2  # ranges ran as tasks
    assert_same_encoding(local, single)
    assert_same_encoding(on_ray, single)
    assert on_ray.directory.name == single.directory.name  # where it ran is not part of the cache key


def test_ray_tasks_run_on_ray_workers_and_return_shards_in_task_order(tmp_path, ray_local):
    source = write_corpus(tmp_path / "text")
    tasks = [shards_module.Task(str(source / name)) for name in ("c.txt.gz", "a.txt", "b.txt")]
    document = Tokenizer().to_json()
    options = ("strict", "utf-8", 0.01)
    (tmp_path / "scratch").mkdir()
    pieces = shards_module._run_ray(tasks, document, options, tmp_path / "scratch", True, False)
    here = [shards_module.run_task(task, document, options, str(tmp_path / f"here{k}"), True, False)
            for k, task in enumerate(tasks)]
    assert [shard.prefix for shard in pieces] == [tmp_path / "scratch" / str(k) for k in range(3)]
    for there, local in zip(pieces, here):
        assert (there.n_lines, there.n_tokens) == (local.n_lines, local.n_tokens)
        assert shard_lines(there) == shard_lines(local)


def test_a_file_missing_on_a_ray_node_says_the_cluster_needs_a_shared_filesystem(tmp_path, ray_local):
    (tmp_path / "scratch").mkdir()
    gone = shards_module.Task(str(tmp_path / "only-on-the-driver.txt"))
    with pytest.raises(FileNotFoundError, match=r"only-on-the-driver.txt: not found on the Ray node .*"
                                                r"filesystem every node mounts at the same path"):
        shards_module._run_ray([gone], Tokenizer().to_json(), ("strict", "utf-8", 0.01), tmp_path / "scratch",
                               True, False)


def test_an_error_in_a_ray_task_is_raised_as_itself(tmp_path, ray_local):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\n" * 100 + b"bad \xff byte\n")
    with pytest.raises(ValueError, match=r"bad.txt.*byte offset 1004") as raised:
        encode_corpus(path, cache_dir=tmp_path / "c", cluster="local", verbose=False)
    assert type(raised.value) is not ray_local.exceptions.RayTaskError  # no remote traceback in the message


def test_cluster_must_be_a_nonempty_string(tmp_path, capsys):
    from lmkit.cli import main

    path = tmp_path / "c.txt"
    path.write_text("a b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cluster must be 'local', 'auto' or a Ray address, got ''"):
        encode_corpus(path, cache_dir=tmp_path / "c", cluster="", verbose=False)
    with pytest.raises(SystemExit):
        main(["data", "encode", str(path), "--cluster", " "])
    assert "--cluster: must be 'local', 'auto' or a Ray address" in capsys.readouterr().err
