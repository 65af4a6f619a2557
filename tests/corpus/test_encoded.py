import json
import os
import re
from collections import Counter

import numpy as np
import pytest

from lmkit.corpus import encoded as encoded_module
from lmkit.corpus.encoded import EncodedCorpus, encode_corpus, encode_with_vocab
from lmkit.corpus.tokenizer import TokenizerConfig
from lmkit.corpus.vocab import Vocab

TEXT = "the cat sat on the mat\n\nthe dog sat\na rare word\nthe end\n"


def write(tmp_path, text=TEXT, name="corpus.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def encode(path, tmp_path, **kwargs):
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    kwargs.setdefault("verbose", False)
    return encode_corpus(path, **kwargs)


def test_ids_offsets_and_vocab_match_a_plain_python_encoding(tmp_path):
    corpus = encode(write(tmp_path), tmp_path)
    sentences = [line.split() for line in TEXT.splitlines() if line.split()]
    counts = Counter(word for sentence in sentences for word in sentence)
    expected_vocab = sorted(counts, key=lambda w: (-counts[w], w))
    assert corpus.vocab.tokens == expected_vocab
    assert corpus.vocab.counts.tolist() == [counts[w] for w in expected_vocab]
    assert corpus.ids.dtype == np.int32 and isinstance(corpus.ids, np.memmap)
    assert corpus.offsets.tolist() == [0, 6, 9, 12, 14]
    decoded = [[corpus.vocab.tokens[i] for i in corpus.sentence(s)] for s in range(corpus.n_sentences)]
    assert decoded == sentences
    assert np.array_equal(corpus.counts(), corpus.vocab.counts)


def test_min_count_drops_words_and_empty_sentences_without_unk(tmp_path):
    corpus = encode(write(tmp_path), tmp_path, min_count=2)
    assert corpus.vocab.tokens == ["the", "sat"]
    decoded = [[corpus.vocab.tokens[i] for i in s] for s in corpus.sentences()]
    assert decoded == [["the", "sat", "the"], ["the", "sat"], ["the"]]
    assert -1 not in np.asarray(corpus.ids)


def test_unk_and_eos_keep_every_token(tmp_path):
    corpus = encode(write(tmp_path), tmp_path, min_count=2, unk="<unk>", eos="</s>")
    vocab = corpus.vocab
    assert corpus.n_tokens == 14 and corpus.n_sentences == 4
    assert vocab.counts[vocab.eos_id] == 4
    assert vocab.counts[vocab.unk_id] == 8  # 14 tokens minus 4 "the" and 2 "sat"
    assert vocab.eos_id not in np.asarray(corpus.ids)


@pytest.mark.parametrize("options", [dict(min_count=3, unk="<unk>", eos="</s>"), dict(min_count=3, eos="</s>"),
                                     dict(min_count=2, max_size=6, unk="<unk>"), dict(min_count=10**6, unk="<unk>")])
def test_vocabulary_and_ids_match_vocab_build_on_every_token(tmp_path, options):
    # The literal symbols occur in the text, rarer and more frequent than min_count: the encoder drops
    # the rare types before building the vocabulary, which must not change it.
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)] + ["<unk>", "</s>", "<unk>", "</s>"]
    lines = [[words[int(r)] for r in np.minimum(rng.zipf(1.5, n), len(words)) - 1] for n in rng.integers(0, 9, 300)]
    lines.append(["</s>"] * 3)
    text = "\n".join(" ".join(line) for line in lines) + "\n"
    counts = Counter(word for line in lines for word in line)
    if options["min_count"] == 10**6:
        with pytest.raises(ValueError, match="min_count=1000000 leaves an empty vocabulary"):
            encode(write(tmp_path, text), tmp_path, **options)
        return
    corpus = encode(write(tmp_path, text), tmp_path, **options)
    kept = [[word for word in line if word in corpus.vocab.token_to_id or "unk" in options] for line in lines]
    expected = Vocab.build(counts, **options, n_sentences=sum(1 for line in kept if line))
    assert corpus.vocab == expected
    default = expected.unk_id
    ids = [expected.token_to_id.get(word, default) for line in kept for word in line]
    assert np.asarray(corpus.ids).tolist() == ids


def test_tokenizer_options_apply(tmp_path):
    path = write(tmp_path, "The Cat, the cat.\n")
    corpus = encode(path, tmp_path, tokenizer=TokenizerConfig(lowercase=True, pre_tokenizer="words"))
    assert [corpus.vocab.tokens[i] for i in corpus.ids] == ["the", "cat", ",", "the", "cat", "."]


def test_subword_encoding_and_fixed_vocab_encoding(tmp_path):
    path = write(tmp_path, "lower lowest newer newest\n" * 20)
    corpus = encode(path, tmp_path, tokenizer=TokenizerConfig(subword="bpe", subword_vocab_size=40))
    pieces = [corpus.vocab.tokens[i] for i in corpus.sentence(0)]
    assert "".join(pieces) == "lowerlowestnewernewest"
    other = write(tmp_path, "newest lower\n", name="other.txt")
    again = encode_with_vocab(other, corpus.vocab, corpus.tokenizer, cache_dir=tmp_path / "cache", verbose=False)
    assert "".join(corpus.vocab.tokens[i] for i in again.ids) == "newestlower"


def test_long_lines_are_cut(tmp_path):
    path = write(tmp_path, " ".join(f"w{i}" for i in range(25)) + "\nshort line\n")
    corpus = encode(path, tmp_path, max_sentence_length=10)
    assert np.diff(corpus.offsets).tolist() == [10, 10, 5, 2]
    with pytest.raises(ValueError, match="max_sentence_length"):
        encode(path, tmp_path, max_sentence_length=0)


def test_encode_with_vocab_maps_unknown_words(tmp_path):
    train = encode(write(tmp_path), tmp_path, min_count=2, unk="<unk>")
    test_path = write(tmp_path, "the zebra sat\n", name="test.txt")
    test = encode_with_vocab(test_path, train.vocab, train.tokenizer, cache_dir=tmp_path / "cache", verbose=False)
    assert test.vocab == train.vocab
    assert test.ids.tolist() == [train.vocab.index("the"), train.vocab.unk_id, train.vocab.index("sat")]
    no_unk = Vocab.build({"the": 2, "sat": 2})
    unknown = write(tmp_path, "zebra okapi\n", name="unknown.txt")
    with pytest.raises(ValueError, match="all 2 tokens are outside the vocabulary"):
        encode_with_vocab(unknown, no_unk, cache_dir=tmp_path / "cache", verbose=False)


def test_empty_corpus_and_min_count_errors_name_the_source(tmp_path):
    empty = write(tmp_path, "\n   \n", name="empty.txt")
    with pytest.raises(ValueError, match=r"empty\.txt: the corpus is empty"):
        encode(empty, tmp_path)
    with pytest.raises(ValueError, match="min_count=100 leaves an empty vocabulary"):
        encode(write(tmp_path), tmp_path, min_count=100)
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        encode(tmp_path / "nowhere.txt", tmp_path)


def test_cache_is_reused_and_invalidated_by_changes(tmp_path):
    path = write(tmp_path)
    first = encode(path, tmp_path)
    assert encode(path, tmp_path).directory == first.directory
    assert encode(path, tmp_path, min_count=2).directory != first.directory
    assert encode(path, tmp_path, tokenizer=TokenizerConfig(lowercase=True)).directory != first.directory
    os.utime(path, ns=(1, 1))
    assert encode(path, tmp_path).directory != first.directory


def test_truncated_cache_file_is_detected_and_rebuilt(tmp_path, caplog):
    path = write(tmp_path)
    first = encode(path, tmp_path)
    expected = np.array(first.ids)
    ids_file = first.directory / "ids.npy"
    del first
    ids_file.write_bytes(ids_file.read_bytes()[:-8])
    with pytest.raises(ValueError, match="corrupt encoded corpus"):
        EncodedCorpus(ids_file.parent)
    rebuilt = encode(path, tmp_path)
    assert np.array_equal(rebuilt.ids, expected)
    assert "rebuilding" in caplog.text


def test_interrupted_build_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    path = write(tmp_path)

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(encoded_module, "_finish", explode)
    with pytest.raises(KeyboardInterrupt):
        encode(path, tmp_path)
    assert list((tmp_path / "cache" / "corpora").iterdir()) == []
    monkeypatch.undo()
    assert encode(path, tmp_path).n_tokens == 14


def test_missing_meta_is_not_a_corpus(tmp_path):
    corpus = encode(write(tmp_path), tmp_path)
    meta = json.loads((corpus.directory / "meta.json").read_text())
    (corpus.directory / "meta.json").unlink()
    with pytest.raises(ValueError, match="no meta.json"):
        EncodedCorpus(corpus.directory)
    assert meta["n_tokens"] == 14


def test_gzip_input_encodes_like_plain(tmp_path):
    import gzip

    plain = encode(write(tmp_path), tmp_path)
    with gzip.open(tmp_path / "corpus.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write(TEXT)
    packed = encode(tmp_path / "corpus.txt.gz", tmp_path)
    assert np.array_equal(plain.ids, packed.ids) and plain.vocab == packed.vocab


def test_ids_overwritten_in_place_are_detected_by_checksum(tmp_path, caplog):
    path = write(tmp_path)
    first = encode(path, tmp_path)
    expected = np.array(first.ids)
    folder = first.directory
    del first
    ids = np.load(folder / "ids.npy")
    np.save(folder / "ids.npy", ids[::-1].copy())  # same size, same dtype, same value range: only the sha256 sees it
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder))}: corrupt encoded corpus \(ids\.npy was changed"):
        EncodedCorpus(folder)
    assert np.array_equal(encode(path, tmp_path).ids, expected)
    assert "rebuilding" in caplog.text


def test_out_of_range_ids_are_an_error_naming_the_entry(tmp_path):
    from lmkit.corpus.encoded import file_sha256

    folder = encode(write(tmp_path), tmp_path).directory
    ids = np.load(folder / "ids.npy")
    ids[3] = 10**8  # would index far past the weights of any trainer
    np.save(folder / "ids.npy", ids)
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"]["ids.npy"] = file_sha256(folder / "ids.npy")  # a consistent checksum: only the bounds check sees it
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder))}: .*id 100000000 at token 3, outside the "
                                         rf"vocabulary of \d+ words"):
        EncodedCorpus(folder)


def test_opening_and_counting_read_ids_through_a_buffer_not_the_memory_map(tmp_path, monkeypatch):
    from conftest import mapped_bytes

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(500)]
    lines = [" ".join(rng.choice(words, 20)) for _ in range(10_000)]  # 200k tokens: 800 kB of ids
    folder = encode(write(tmp_path, "\n".join(lines) + "\n"), tmp_path).directory
    monkeypatch.setattr(encoded_module, "VERIFY_CHUNK_BYTES", 1 << 16)  # many chunks, each read into one buffer
    corpus = EncodedCorpus(folder)  # checks every id
    counts = corpus.counts()
    assert np.array_equal(counts, np.bincount(np.load(folder / "ids.npy"), minlength=len(corpus.vocab)))
    assert (folder / "ids.npy").stat().st_size > 800_000
    assert mapped_bytes(folder / "ids.npy") <= 64 * 1024  # was the whole file: every page of the map resident


@pytest.mark.parametrize("options", [{"min_count": 2}, {"min_count": 2, "unk": "<unk>", "eos": "</s>"}])
def test_streamed_files_equal_an_in_memory_encoding_over_several_shards(tmp_path, monkeypatch, options):
    """ids.npy and offsets.npy, written one shard and one chunk at a time, are byte for byte the np.save
    of arrays built in memory from the text: across 3 shards (files), blank lines, lines that min_count
    empties, lines cut at max_sentence_length, chunks (REMAP_CHUNK_TOKENS=7) that split the shards."""
    import io

    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)] + ["rare"]
    texts = []
    for _ in range(3):
        lines = []
        for _ in range(40):
            kind = rng.integers(0, 5)
            lines.append("" if kind == 0 else "rare" if kind == 1 else " ".join(rng.choice(words, rng.integers(1, 25))))
        texts.append("\n".join(lines) + "\n")
    paths = [write(tmp_path, text, f"part{k}.txt") for k, text in enumerate(texts)]
    monkeypatch.setattr(encoded_module, "REMAP_CHUNK_TOKENS", 7)
    corpus = encode([str(path) for path in paths], tmp_path, max_sentence_length=6, **options)

    lines = [line.split() for text in texts for line in text.splitlines()]
    counts = Counter(word for line in lines for word in line)
    sentences = [line for line in lines if any(counts[w] >= 2 for w in line) or options.get("unk")]
    pieces = [line[i:i + 6] for line in ([w for w in s if counts[w] >= 2 or options.get("unk")] for s in sentences)
              for i in range(0, len(line), 6)]
    vocab = Vocab.build(counts, **options, n_sentences=len(pieces))
    assert corpus.vocab == vocab
    ids = np.array([vocab.token_to_id.get(w, vocab.unk_id) for piece in pieces for w in piece], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(piece) for piece in pieces])]).astype(np.int64)
    assert len(pieces) > 60 and max(map(len, lines)) > 6 and corpus.meta["n_lines"] == 120
    for name, array in (("ids.npy", ids), ("offsets.npy", offsets)):
        expected = io.BytesIO()
        np.save(expected, array, allow_pickle=False)
        assert (corpus.directory / name).read_bytes() == expected.getvalue(), name


@pytest.mark.parametrize("size", [0, 1, 1000, 1024, 5000])
def test_file_sha256_in_pieces_equals_hashlib_on_the_whole_file(tmp_path, monkeypatch, size):
    import hashlib

    from lmkit.corpus.encoded import file_sha256

    monkeypatch.setattr(encoded_module, "VERIFY_CHUNK_BYTES", 1024)
    data = np.random.default_rng(size).bytes(size)
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()
