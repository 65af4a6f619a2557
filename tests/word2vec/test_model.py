"""Word2Vec end to end on small synthetic corpora: options, learning, determinism, files, errors."""
from __future__ import annotations

import os

import numpy as np
import pytest

from lmkit.corpus.tokenizer import Tokenizer, sidecar_path
from lmkit.word2vec.model import Word2Vec, Word2VecConfig
from lmkit.word2vec.training import TrainingDivergedError
from planted import separation, topic_corpus

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
slow_without_jit = pytest.mark.skipif(NO_JIT, reason="trains 24k tokens: ~10 s per case interpreted, ~90 s for all")

SMALL = dict(vector_size=16, window=3, min_count=1, sample=0.0, epochs=3, negative=3, verbose=None)


def _model(**options) -> Word2Vec:
    settings = {**SMALL, **options}
    settings.pop("verbose")
    return Word2Vec(**settings)


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    return topic_corpus(tmp_path_factory.mktemp("w2v") / "topics.txt", 600)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return topic_corpus(tmp_path_factory.mktemp("w2v") / "tiny.txt", 25, seed=1)


# ----------------------------------------------------------------------------- options


def test_config_defaults():
    config = Word2VecConfig()
    assert (config.architecture, config.loss, config.vector_size, config.window, config.negative) == \
        ("skipgram", "ns", 100, 5, 5)
    assert config.learning_rate == 0.025
    assert Word2VecConfig(architecture="cbow").learning_rate == 0.05
    assert Word2VecConfig(alpha=0.1).learning_rate == 0.1
    assert Word2VecConfig.from_dict(config.to_dict()) == config
    assert Word2Vec(config, window=7).config.window == 7


@pytest.mark.parametrize("options,message", [
    ({"loss": "ns", "negative": 0}, "negative >= 1"),
    ({"loss": "both", "negative": 0}, "negative >= 1"),
    ({"window": 0}, "window"),
    ({"vector_size": 0}, "vector_size"),
    ({"architecture": "skip-gram"}, "architecture"),
    ({"loss": "softmax"}, "loss"),
    ({"update": "fast"}, "update"),
    ({"min_count": 0}, "min_count"),
    ({"epochs": 0}, "epochs"),
    ({"workers": 0}, "workers"),
    ({"sample": -1.0}, "sample"),
    ({"alpha": 0.0}, "alpha"),
    ({"negative": -1, "loss": "hs"}, "negative"),
    ({"no_such_option": 1}, "no_such_option"),
])
def test_bad_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        Word2Vec(**options)


def test_hs_alone_accepts_negative_zero():
    assert Word2Vec(loss="hs", negative=0).config.negative == 0


def test_empty_vocabulary_after_min_count_reaches_the_user(tiny):
    with pytest.raises(ValueError, match="min_count=1000"):
        _model(min_count=1000).fit(tiny, verbose=False)


def test_missing_input_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        _model().fit(tmp_path / "absent.txt", verbose=False)


def test_one_word_vocabulary_is_refused(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("same same same\nsame same\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least 2 distinct words"):
        _model().fit(path, verbose=False)


def test_two_word_vocabulary_trains_batched_cbow(tmp_path):
    """A CBOW group never holds every drawable word, so its negatives can always be drawn."""
    path = tmp_path / "two.txt"
    path.write_text("a b a b b a\nb a a b\n" * 20, encoding="utf-8")
    model = _model(architecture="cbow", loss="ns", update="batched", min_count=1).fit(path, verbose=False)
    assert np.isfinite(model.wv.vectors).all() and len(model.wv) == 2


# ----------------------------------------------------------------------------- training


@slow_without_jit
@pytest.mark.parametrize("options", [
    {"architecture": "skipgram", "loss": "ns"},
    {"architecture": "skipgram", "loss": "hs"},
    {"architecture": "cbow", "loss": "ns"},
    {"architecture": "cbow", "loss": "ns", "update": "exact"},
    {"architecture": "cbow", "loss": "hs"},
    {"architecture": "cbow", "loss": "both", "cbow_mean": False, "alpha": 0.01},
    {"architecture": "skipgram", "loss": "ns", "update": "batched"},
    {"architecture": "skipgram", "loss": "both", "update": "batched"},
])
def test_every_combination_learns_the_topics(topics, options):
    model = _model(epochs=5, **options).fit(topics, verbose=False)
    assert separation(model) > 0.3, options
    assert len(model.losses) == 5 and model.losses[-1] < model.losses[0]
    assert all(np.isfinite(model.losses))


def test_fixed_seed_one_worker_is_bit_identical(tiny):
    first = _model(seed=7, epochs=2).fit(tiny, verbose=False)
    second = _model(seed=7, epochs=2).fit(tiny, verbose=False)
    other = _model(seed=8, epochs=2).fit(tiny, verbose=False)
    assert first.syn0.tobytes() == second.syn0.tobytes()
    assert first.syn1neg.tobytes() == second.syn1neg.tobytes()
    assert first.losses == second.losses
    assert first.syn0.tobytes() != other.syn0.tobytes()


def test_memory_mapped_corpus_is_streamed_with_identical_results(tiny):
    from types import SimpleNamespace

    from lmkit.corpus.encoded import encode_corpus

    corpus = encode_corpus(tiny, min_count=1, verbose=False)
    assert isinstance(corpus.ids, np.memmap)                   # read chunk by chunk from the file
    in_memory = SimpleNamespace(ids=np.array(corpus.ids), offsets=corpus.offsets, vocab=corpus.vocab,
                                tokenizer=corpus.tokenizer, n_tokens=corpus.n_tokens)
    streamed = _model(epochs=2).fit(corpus, verbose=False)
    loaded = _model(epochs=2).fit(in_memory, verbose=False)
    assert streamed.syn0.tobytes() == loaded.syn0.tobytes()


@slow_without_jit
def test_two_workers_finish_and_learn(topics):
    model = _model(workers=2, epochs=5).fit(topics, verbose=False)
    assert separation(model) > 0.3
    history = model.history
    assert sum(h.words for h in history) == 5 * sum(1 for _ in topics.read_text().split())


def test_epoch_losses_are_per_example_means_and_callbacks_see_them(tiny):
    seen = []

    def remember(run, record):
        seen.append((run.model, record["epoch"], record["train_loss"]))

    model = _model(epochs=3).fit(tiny, verbose=False, callbacks=[remember])
    assert [e for _, e, _ in seen] == [1, 2, 3]
    assert all(m is model for m, _, _ in seen)
    assert [loss for _, _, loss in seen] == model.losses
    # A per-example mean of -log sigma terms: about (1 + negative) * log 2 at the start, not a running total.
    assert 0.5 < model.losses[0] < (1 + SMALL["negative"]) * np.log(2) + 0.1
    model.train(tiny, epochs=2, verbose=False, callbacks=[remember])
    assert [e for _, e, _ in seen] == [1, 2, 3, 4, 5]


def test_nan_in_weights_stops_training_with_epoch_and_word_count(tiny):
    model = _model(epochs=1).fit(tiny, verbose=False)
    model.syn0[3, 0] = np.nan
    with pytest.raises(TrainingDivergedError, match=r"epoch 1 after \d+ words"):
        model.train(tiny, epochs=2, verbose=False)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_divergence_is_located_at_the_sentence_not_the_chunk(tiny, architecture):
    """A NaN in one word's vector stops training at the end of the first sentence that uses it, and
    the message gives that word count, not the chunk's (the whole tiny corpus is one chunk)."""
    from lmkit.corpus.encoded import encode_with_vocab

    model = _model(epochs=1, architecture=architecture).fit(tiny, verbose=False)
    corpus = encode_with_vocab(tiny, model.vocab, model.tokenizer, verbose=False)
    ids, offsets = np.asarray(corpus.ids), np.asarray(corpus.offsets)
    lengths = np.diff(offsets)
    sentence = int(np.flatnonzero(lengths >= 2)[3])  # a sentence with a context for each of its words
    word = int(ids[offsets[sentence]])
    first = int(np.searchsorted(offsets, np.flatnonzero(ids == word)[0], side="right")) - 1
    model.syn0[word] = np.nan
    with pytest.raises(TrainingDivergedError, match=rf"epoch 1 after {int(offsets[first + 1])} words"):
        model.train(corpus, epochs=1, verbose=False)
    assert int(offsets[first + 1]) < len(ids)  # earlier than the chunk's end


def test_huge_learning_rate_is_reported_as_divergence(tiny):
    with pytest.raises(TrainingDivergedError, match="lower alpha"):
        _model(alpha=1e38, epochs=3).fit(tiny, verbose=False)


# ----------------------------------------------------------------------------- files


def test_save_load_continue_training(tiny, tmp_path):
    model = _model(epochs=2, loss="both", architecture="cbow").fit(tiny, verbose=False)
    path = model.save(tmp_path / "model.npz")
    assert sidecar_path(path).is_file()
    loaded = Word2Vec.load(path)
    assert loaded.config == model.config and loaded.vocab == model.vocab
    assert loaded.tokenizer == model.tokenizer and loaded.losses == model.losses
    for name in ("syn0", "syn1", "syn1neg", "tree_ties"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name))
    # Continuing is deterministic and equals continuing the original model.
    again = Word2Vec.load(path)
    before = loaded.syn0.copy()
    loaded.train(tiny, epochs=1, verbose=False)
    again.train(tiny, epochs=1, verbose=False)
    model.train(tiny, epochs=1, verbose=False)
    assert not np.array_equal(before, loaded.syn0)
    assert loaded.syn0.tobytes() == again.syn0.tobytes() == model.syn0.tobytes()
    assert len(loaded.losses) == 3
    # fit() on a trained model continues with its vocabulary instead of starting over.
    loaded.fit(tiny, verbose=False)
    assert len(loaded.losses) == 3 + loaded.config.epochs and loaded.vocab == model.vocab


@pytest.mark.parametrize("architecture", ["cbow", "skipgram"])
def test_hs_tree_orders_equal_counts_by_first_occurrence(tmp_path, architecture):
    """The C tool's and gensim's tree: equal counts in order of first occurrence, not of spelling
    (a tree ordered by spelling cost CBOW-HS 0.05 WordSim-353 on Brown; BENCHMARKS.md)."""
    import w2v_reference as ref

    rng = np.random.default_rng(7)
    words = [f"{a}{b}" for a in "zyxwvu" for b in "mlkjih"]                 # spelled in reverse code-point order
    tokens = [w for k, w in enumerate(words) for _ in range(2 + k % 3)]    # counts 2-4: many ties
    tokens = [tokens[i] for i in rng.permutation(len(tokens))]
    sentences = [tokens[i:i + 6] for i in range(0, len(tokens), 6)]
    path = tmp_path / "ties.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
    model = _model(architecture=architecture, loss="hs", epochs=1).fit(path, verbose=False)
    tables = model._arrays().tables
    expected = ref.first_occurrence_huffman(sentences)
    assert set(model.vocab.tokens) == set(expected)
    for i, word in enumerate(model.vocab.tokens):
        length = tables.code_lengths[i]
        assert (tuple(tables.codes[i, :length].tolist()), tuple(tables.points[i, :length].tolist())) == expected[word]


def test_models_saved_without_tree_ties_keep_their_tree(tiny, tmp_path):
    """Models saved before ``tree_ties`` existed were trained on a tree with ties by id: they keep it."""
    model = _model(loss="hs", epochs=1).fit(tiny, verbose=False)
    model.tree_ties = None
    loaded = Word2Vec.load(model.save(tmp_path / "old.npz"))
    assert loaded.tree_ties is None
    for name in ("codes", "points", "code_lengths"):
        assert np.array_equal(getattr(loaded._arrays().tables, name), getattr(model._arrays().tables, name))
    loaded.train(tiny, epochs=1, verbose=False)


def test_load_with_overrides(tiny, tmp_path):
    path = _model(epochs=1).fit(tiny, verbose=False).save(tmp_path / "m.npz")
    assert Word2Vec.load(path, epochs=4, workers=2).config.epochs == 4
    with pytest.raises(ValueError, match="vector_size"):
        Word2Vec.load(path, vector_size=8)


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Word2Vec.load(tmp_path / "absent.npz")
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bogus.npz"):
        Word2Vec.load(bogus)


def test_save_vectors_text_and_binary(tiny, tmp_path):
    from lmkit.vectors import KeyedVectors

    model = _model(epochs=1).fit(tiny, verbose=False)
    for binary in (False, True):
        path = model.save_vectors(tmp_path / f"vectors-{binary}.w2v", binary=binary)
        kv = KeyedVectors.load_word2vec_format(path, binary=binary)
        assert kv.index_to_key == model.vocab.tokens
        assert np.array_equal(kv.vectors, model.syn0)
        assert Tokenizer.load(sidecar_path(path)) == model.tokenizer


def test_trained_model_refuses_a_corpus_with_another_vocabulary(tiny, tmp_path):
    from lmkit.corpus.encoded import encode_corpus

    model = _model(epochs=1).fit(tiny, verbose=False)
    other = tmp_path / "other.txt"
    other.write_text("completely different words here\nand more words\n", encoding="utf-8")
    with pytest.raises(ValueError, match="another vocabulary"):
        model.train(encode_corpus(other, verbose=False), verbose=False)
    # A path is encoded with the model's vocabulary instead (unknown words dropped).
    model.train(tiny, epochs=1, verbose=False)


def test_unfitted_model_errors():
    model = Word2Vec()
    with pytest.raises(ValueError, match="fit"):
        model.wv
    with pytest.raises(ValueError, match="fit"):
        model.train("anything")
    with pytest.raises(ValueError, match="nothing to save"):
        model.save("x.npz")


def test_private_arrays_own_their_cache_lines():
    from lmkit.word2vec.training import CACHE_LINE, private_array

    for shape, dtype in (((1,), np.uint64), ((7,), np.int32), ((3, 100), np.float32), ((2, 8), np.int64)):
        a = private_array(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and not a.any()
        base = a.base
        while base.base is not None:
            base = base.base
        first_line = a.ctypes.data
        end_of_last_line = -(-(a.ctypes.data + a.nbytes) // CACHE_LINE) * CACHE_LINE
        assert first_line % CACHE_LINE == 0                        # starts a line
        assert base.ctypes.data <= first_line and end_of_last_line <= base.ctypes.data + base.nbytes


def test_fit_reads_the_memory_mapped_ids_only_through_buffers(tmp_path):
    """Training, the Huffman tree's tie order and the corpus checks read ``ids.npy`` by file reads
    (TokenReader): its map stays unread, so resident memory is the model's, not the corpus's."""
    from conftest import mapped_bytes

    from lmkit.corpus.encoded import EncodedCorpus, encode_corpus

    folder = encode_corpus(topic_corpus(tmp_path / "topics.txt", 25_000), min_count=1, cache_dir=tmp_path / "cache",
                           verbose=False).directory
    corpus = EncodedCorpus(folder)
    model = _model(loss="both", epochs=1, workers=2).fit(corpus, verbose=False)
    assert model.history[-1].words == corpus.n_tokens == 200_000
    assert mapped_bytes(folder / "ids.npy") <= 64 * 1024  # of 800 kB
