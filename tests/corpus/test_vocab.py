import numpy as np
import pytest

from lmkit.corpus.vocab import Vocab, keep_probabilities, subsample

COUNTS = {"the": 10, "cat": 3, "sat": 3, "a": 5, "zebra": 1}


def test_order_is_count_descending_then_token():
    vocab = Vocab.build(COUNTS)
    assert vocab.tokens == ["the", "a", "cat", "sat", "zebra"]
    assert vocab.counts.tolist() == [10, 5, 3, 3, 1]
    assert vocab.unk_id == -1 and vocab.eos_id == -1


def test_min_count_and_max_size_without_unk_drop_tokens():
    assert Vocab.build(COUNTS, min_count=3).tokens == ["the", "a", "cat", "sat"]
    assert Vocab.build(COUNTS, max_size=2).tokens == ["the", "a"]


def test_unk_collects_dropped_counts_and_eos_counts_sentences():
    vocab = Vocab.build({**COUNTS, "<unk>": 2}, min_count=4, unk="<unk>", eos="</s>", n_sentences=7)
    assert vocab.tokens == ["the", "<unk>", "</s>", "a"]
    assert vocab.counts.tolist() == [10, 9, 7, 5]
    assert (vocab.unk_id, vocab.eos_id) == (1, 2)
    assert len(Vocab.build(COUNTS, max_size=3, unk="<unk>", eos="</s>")) == 3


def test_min_count_emptying_vocabulary_is_explained():
    with pytest.raises(ValueError, match=r"min_count=11 leaves an empty vocabulary: .*'the' occurs 10"):
        Vocab.build(COUNTS, min_count=11)
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocab.build({})
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build(COUNTS, min_count=0)


def test_lookup_is_vectorized_and_maps_unknown():
    vocab = Vocab.build(COUNTS, min_count=3, unk="<unk>")
    ids = vocab.lookup(["the", "zebra", "cat", "nope"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [vocab.index("the"), vocab.unk_id, vocab.index("cat"), vocab.unk_id]
    assert Vocab.build(COUNTS).lookup(["nope"]).tolist() == [-1]
    with pytest.raises(KeyError, match="nope"):
        vocab.index("nope")


def test_tsv_and_dict_round_trip(tmp_path):
    vocab = Vocab.build({**COUNTS, "naïve": 4, "日本": 4}, unk="<unk>", eos="</s>", n_sentences=3)
    vocab.save(tmp_path / "v.tsv")
    assert Vocab.load(tmp_path / "v.tsv") == vocab
    assert Vocab.from_dict(vocab.to_dict()) == vocab
    assert (tmp_path / "v.tsv").read_text(encoding="utf-8").splitlines()[0] == "token\tcount\tspecial"


@pytest.mark.parametrize("body, message", [
    ("wrong header\n", "line 1: expected the header"),
    ("token\tcount\tspecial\nthe\t3\n", "line 2: expected 3 tab-separated fields"),
    ("token\tcount\tspecial\nthe\tmany\t\n", "line 2: count 'many'"),
    ("token\tcount\tspecial\nthe\t3\t\nthe\t2\t\n", "duplicate token"),
    ("token\tcount\tspecial\na\t3\tunk\nb\t2\tunk\n", "line 3: bad or repeated special"),
])
def test_bad_tsv_names_file_and_line(tmp_path, body, message):
    path = tmp_path / "v.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        Vocab.load(path)


def test_tokens_with_tabs_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="tab or newline"):
        Vocab(["a\tb"], [1]).save(tmp_path / "v.tsv")


def test_keep_probabilities_match_word2vec_formula():
    counts = np.array([1000, 100, 10, 1, 0])
    sample = 1e-2
    threshold = sample * counts.sum()
    keep = keep_probabilities(counts, sample)
    assert keep.dtype == np.float32
    for f, p in zip(counts[:4], keep[:4]):
        assert p == pytest.approx(min(1.0, (np.sqrt(f / threshold) + 1) * threshold / f), rel=1e-6)
    assert keep[4] == 1.0 and keep[3] == 1.0 and keep[0] < 0.5
    assert np.all(keep_probabilities(counts, 0) == 1)
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities(counts, -1)


def test_subsample_is_seeded_and_follows_probabilities():
    keep = np.array([0.25, 1.0], dtype=np.float32)
    ids = np.array([0, 1] * 20000, dtype=np.int32)
    first = subsample(ids, keep, np.random.default_rng(3))
    assert np.array_equal(first, subsample(ids, keep, np.random.default_rng(3)))
    assert (first == 1).sum() == 20000
    assert (first == 0).sum() == pytest.approx(5000, rel=0.05)
