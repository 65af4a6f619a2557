"""KeyedVectors: access, unit vectors, queries (against naive references and gensim), own format."""
from __future__ import annotations

import numpy as np
import pytest

import lmkit
from conftest import import_or_missing
from lmkit.vectors import KeyedVectors
from lmkit.vectors import keyed


def random_kv(n_words=300, size=16, seed=0):
    rng = np.random.default_rng(seed)
    keys = [f"w{i}" for i in range(n_words)]
    return KeyedVectors(keys, rng.standard_normal((n_words, size)).astype(np.float32))


def gensim_twin(kv):
    gensim_models = import_or_missing("gensim.models")
    twin = gensim_models.KeyedVectors(kv.vector_size)
    twin.add_vectors(kv.index_to_key, kv.vectors)
    return twin


# ---------------------------------------------------------------- naive references


def naive_unit(v):
    v = np.asarray(v, dtype=np.float64)
    n = np.sqrt(sum(x * x for x in v))
    return v / n if n > 0 else v


def naive_most_similar(kv, positive, negative, topn, restrict=None):
    """Cosine of every word with the normalized mean of +-unit vectors, sorted by a full sort."""
    items = [(p, 1.0) for p in positive] + [(n, -1.0) for n in negative]
    mean = sum(w * (naive_unit(kv.vectors[kv.key_to_index[x]]) if isinstance(x, str) else np.asarray(x, float))
               for x, w in items) / len(items)
    query = naive_unit(mean)
    inputs = {x for x, _ in items if isinstance(x, str)}
    scored = []
    for i, key in enumerate(kv.index_to_key[:restrict]):
        if key not in inputs:
            scored.append((-float(naive_unit(kv.vectors[i]) @ query), i, key))
    scored.sort()
    return [(key, -s) for s, _, key in scored[:topn]]


def naive_top_k(scores, k):
    out_i, out_v = [], []
    for row in scores:
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        out_i.append(order)
        out_v.append([row[j] for j in order])
    return np.array(out_i), np.array(out_v, dtype=np.float32)


# ------------------------------------------------------------------------ access


def test_attributes_indexing_and_lookup_errors():
    kv = random_kv(10, 4)
    assert lmkit.KeyedVectors is KeyedVectors
    assert len(kv) == 10 and kv.vector_size == 4 and kv.vectors.dtype == np.float32
    assert kv.key_to_index["w3"] == 3 and kv.index_to_key[3] == "w3"
    assert "w3" in kv and "nope" not in kv and 3 not in kv
    np.testing.assert_array_equal(kv["w3"], kv.vectors[3])
    assert kv[["w1", "w2"]].shape == (2, 4)
    np.testing.assert_array_equal(kv[["w2", "w1"]], kv.vectors[[2, 1]])
    with pytest.raises(KeyError, match="'nope'"):
        kv["nope"]
    with pytest.raises(KeyError, match="'nope'"):
        kv[["w1", "nope"]]
    with pytest.raises(KeyError, match="'nope'"):
        kv.most_similar("nope")
    with pytest.raises(KeyError, match="'nope'"):
        kv.similarity("w1", "nope")
    np.testing.assert_allclose(np.linalg.norm(kv.get_vector("w5", norm=True)), 1.0, rtol=1e-6)


def test_constructor_validates():
    with pytest.raises(ValueError, match="duplicate word 'a' at positions 0 and 2"):
        KeyedVectors(["a", "b", "a"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3 words but vectors has 2 rows"):
        KeyedVectors(["a", "b", "c"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        KeyedVectors(["a"], np.zeros(2))
    with pytest.raises(ValueError, match="must be str"):
        KeyedVectors(["a", 7], np.zeros((2, 2)))
    assert KeyedVectors(["a"], np.ones((1, 2), dtype=np.int64)).vectors.dtype == np.float32


def test_normed_vectors_are_cached_unit_rows_and_zero_rows_stay_zero():
    vectors = np.array([[3, 4], [0, 0], [0, -2]], dtype=np.float32)
    kv = KeyedVectors(["a", "b", "c"], vectors)
    with np.errstate(all="raise"):
        normed = kv.get_normed_vectors()
        assert kv.most_similar("a", topn=2) == [("b", 0.0), ("c", pytest.approx(-0.8))]
        assert kv.similarity("a", "b") == 0.0
    assert normed.dtype == np.float32
    np.testing.assert_allclose(normed, [[0.6, 0.8], [0, 0], [0, -1]], rtol=1e-7)
    assert kv.get_normed_vectors() is normed
    kv.vectors = vectors * 2
    assert kv.get_normed_vectors() is not normed
    kv.vectors[0] = [1, 0]
    kv.clear_cache()
    np.testing.assert_allclose(kv.get_normed_vectors()[0], [1, 0])
    with pytest.raises(ValueError, match="shape"):
        kv.vectors = np.zeros((2, 2))


# ----------------------------------------------------------------------- queries


@pytest.mark.parametrize("positive,negative", [(["w1"], []), (["w1", "w2"], ["w3"]), (["w4"], ["w5", "w6"])])
@pytest.mark.parametrize("restrict", [None, 50])
def test_most_similar_matches_naive_reference(positive, negative, restrict):
    kv = random_kv()
    got = kv.most_similar(positive=positive, negative=negative, topn=7, restrict_vocab=restrict)
    want = naive_most_similar(kv, positive, negative, 7, restrict)
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)


def test_most_similar_accepts_vectors_single_items_weights_and_topn_none():
    kv = random_kv()
    vector = kv["w7"] * 3.0
    by_vector = kv.similar_by_vector(vector, topn=3)
    assert by_vector[0][0] == "w7" and by_vector[0][1] == pytest.approx(1.0, abs=1e-6)
    assert kv.most_similar(positive="w1", negative="w2", topn=4) == kv.most_similar(["w1"], ["w2"], topn=4)
    assert kv.most_similar([("w1", 2.0)], topn=3) == kv.most_similar(["w1"], topn=3)
    mixed = kv.most_similar(positive=["w1", kv["w2"]], topn=5)
    assert [w for w, _ in mixed] == [w for w, _ in naive_most_similar(kv, ["w1", kv["w2"]], [], 5)]
    assert kv.similar_by_word("w1", topn=3) == kv.most_similar(["w1"], topn=3)
    scores = kv.most_similar("w1", topn=None, restrict_vocab=20)
    assert scores.shape == (20,) and scores[1] == pytest.approx(1.0, abs=1e-6)
    assert kv.most_similar("w1", topn=0) == []
    everything = kv.most_similar(["w1", "w2"], topn=10_000)
    assert len(everything) == len(kv) - 2 and {"w1", "w2"}.isdisjoint(w for w, _ in everything)
    with pytest.raises(ValueError, match="no input"):
        kv.most_similar()
    with pytest.raises(ValueError, match="restrict_vocab"):
        kv.most_similar("w1", restrict_vocab=0)
    with pytest.raises(ValueError, match="shape"):
        kv.similar_by_vector(np.zeros(3))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_queries_agree_with_gensim():
    kv = random_kv(500, 24, seed=3)
    twin = gensim_twin(kv)
    for positive, negative in [(["w1"], []), (["w1", "w2"], ["w3"]), (["w10", "w11"], ["w12", "w13"])]:
        for ours, theirs in [(kv.most_similar(positive, negative, topn=10), twin.most_similar(positive, negative, topn=10)),
                             (kv.most_similar_cosmul(positive, negative, topn=10),
                              twin.most_similar_cosmul(positive, negative, topn=10))]:
            assert [w for w, _ in ours] == [w for w, _ in theirs]
            np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5, atol=1e-6)
    ours = kv.most_similar("w1", topn=5, restrict_vocab=100)
    theirs = twin.most_similar("w1", topn=5, restrict_vocab=100)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)
    assert kv.similarity("w1", "w2") == pytest.approx(float(twin.similarity("w1", "w2")), abs=1e-6)
    assert kv.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]) == pytest.approx(
        float(twin.n_similarity(["w1", "w2"], ["w3", "w4", "w5"])), abs=1e-6)
    group = ["w1", "w2", "w3", "w4", "w5", "w6"]
    assert kv.doesnt_match(group) == twin.doesnt_match(group)


def test_cosmul_formula_and_restrict_vocab():
    kv = random_kv(60, 8, seed=5)
    unit = kv.get_normed_vectors().astype(np.float64)
    shifted = lambda w: (1 + unit[:30] @ unit[kv.key_to_index[w]]) / 2  # noqa: E731
    scores = shifted("w1") * shifted("w2") / (shifted("w3") + 1e-6)
    scores[[1, 2, 3]] = -np.inf
    want = [kv.index_to_key[i] for i in np.argsort(-scores, kind="stable")[:5]]
    got = kv.most_similar_cosmul(["w1", "w2"], ["w3"], topn=5, restrict_vocab=30)
    assert [w for w, _ in got] == want
    np.testing.assert_allclose([s for _, s in got], np.sort(scores)[::-1][:5], rtol=1e-5)
    # a single positive word ranks as most_similar does
    assert [w for w, _ in kv.most_similar_cosmul("w9", topn=8)] == [w for w, _ in kv.most_similar("w9", topn=8)]


def test_doesnt_match_and_n_similarity_edge_cases(caplog):
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [0.9, 0.1], [1, 0.05], [0, 1]], dtype=np.float32))
    assert kv.doesnt_match(["a", "b", "c", "d"]) == "d"
    assert kv.doesnt_match(["a", "b", "d", "zzz"]) == "d"
    assert "zzz" in caplog.text
    with pytest.raises(ValueError, match="none of the words"):
        kv.doesnt_match(["x", "y"])
    with pytest.raises(ValueError, match="non-empty"):
        kv.n_similarity([], ["a"])
    assert kv.n_similarity(["a"], ["a"]) == pytest.approx(1.0)


@pytest.mark.parametrize("topn", [1, 5, 8, 9, 30, 200])
def test_top_k_matches_a_full_sort_with_ties_by_index(topn):
    rng = np.random.default_rng(topn)
    scores = rng.integers(0, 6, size=(7, 120)).astype(np.float32)  # many ties
    want_i, want_v = naive_top_k(scores, min(topn, 120))
    got_i, got_v = keyed._top_k(scores.copy(), min(topn, 120))
    np.testing.assert_array_equal(got_v, want_v)
    if topn <= keyed._ARGMAX_TOPK:
        np.testing.assert_array_equal(got_i, want_i)  # exact tie order
    else:  # argpartition: the tie at the boundary may keep another index of equal score
        np.testing.assert_array_equal(np.take_along_axis(scores, got_i, axis=1), want_v)
        rows_sorted = [list(r[v > v[-1]]) for r, v in zip(got_i, got_v)]
        assert rows_sorted == [list(r[v > v[-1]]) for r, v in zip(want_i, want_v)]


@pytest.mark.parametrize("topn", [3, 20])
def test_batch_most_similar_equals_one_query_at_a_time(monkeypatch, topn):
    monkeypatch.setattr(keyed, "_BATCH_ELEMENTS", 250)  # several blocks of queries
    kv = random_kv(100, 12, seed=7)
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((9, 12)).astype(np.float32)
    exclude = rng.integers(0, 60, size=(9, 3))
    exclude[0] = -1
    indices, scores = kv.batch_most_similar(queries, topn=topn, restrict_vocab=60, exclude=exclude)
    assert indices.shape == scores.shape == (9, topn) and indices.dtype == np.int64 and scores.dtype == np.float32
    for row in range(9):
        full = kv.most_similar(positive=[queries[row]], topn=None, restrict_vocab=60).astype(np.float32)
        full[exclude[row][exclude[row] >= 0]] = -np.inf
        want_i, want_v = naive_top_k(full[None, :], topn)
        np.testing.assert_allclose(scores[row], want_v[0], atol=1e-6)
        assert set(indices[row]).isdisjoint(exclude[row][exclude[row] >= 0])
    tiny, tiny_scores = kv.batch_most_similar(queries[:2], topn=5, restrict_vocab=3, exclude=[[0, -1], [0, 1]])
    assert tiny.shape == (2, 3)
    assert tiny[1, 1] == -1 and np.isneginf(tiny_scores[1, 1]) and tiny[1, 0] == 2


def test_save_and_load_own_format(tmp_path):
    kv = KeyedVectors(["café", "日本", "a\tb"], np.arange(6, dtype=np.float32).reshape(3, 2))
    path = kv.save(tmp_path / "kv.npz")
    back = KeyedVectors.load(path)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert back.vectors.dtype == np.float32
    from lmkit.io import save_model
    save_model(tmp_path / "other.npz", "nplm", {"w": np.zeros(2)}, {})
    with pytest.raises(ValueError, match="expected 'keyed_vectors'"):
        KeyedVectors.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(tmp_path / "missing.npz")
