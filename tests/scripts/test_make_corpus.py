"""scripts/make_corpus.py: the fast byte gather and guide-table sampler write exactly the bytes of the
plain version (kept here as the reference), and the text has the promised shape."""
import gzip

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("make_corpus")


def reference_chunks(script, tokens, n_types, seed):
    """The first version's loop: binary search for the ranks, Python strings joined (slow, obviously right)."""
    rng = np.random.default_rng(seed)
    words = np.array(script.word_types(n_types, seed), dtype=object)
    spaced, ended = words + " ", words + "\n"
    cdf = script.zipf_cdf(n_types)
    written, out = 0, []
    while written < tokens:
        chunk = min(script.CHUNK_TOKENS, tokens - written)
        lengths = 1 + rng.gamma(script.SENTENCE_SHAPE, script.SENTENCE_SCALE, chunk // 20 + 2).astype(np.int64)
        lengths = lengths[np.cumsum(lengths) <= max(chunk, int(lengths[0]))]
        ranks = np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right"), n_types - 1)
        last = np.zeros(ranks.shape[0], dtype=bool)
        last[np.cumsum(lengths) - 1] = True
        out.append("".join(np.where(last, ended[ranks], spaced[ranks]).tolist()).encode("ascii"))
        written += ranks.shape[0]
    return b"".join(out)


@pytest.mark.parametrize("tokens, n_types", [(50_000, 3000), (30_000, 1_000_000)])
def test_generate_writes_the_bytes_of_the_reference(script, tmp_path, monkeypatch, tokens, n_types):
    monkeypatch.setattr(script, "CHUNK_TOKENS", 7000)  # several chunks
    paths = script.generate(tmp_path, tokens, n_types=n_types, shards=1, seed=3)
    with gzip.open(paths[0], "rb") as handle:
        text = handle.read()
    assert text == reference_chunks(script, tokens, n_types, 3)
    lines = text.decode("ascii").split("\n")
    assert lines[-1] == "" and all(line and not line.startswith(" ") and "  " not in line for line in lines[:-1])


def test_the_guide_sampler_is_exactly_binary_search(script):
    cdf = script.zipf_cdf(200_000)
    u = np.concatenate([np.random.default_rng(0).random(300_000), cdf[:1000], cdf[-1000:] - 1e-17,
                        np.nextafter(cdf[:1000], 0), [0.0, np.nextafter(1.0, 0)]])
    u = u[(u >= 0) & (u < 1)]
    expected = np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)
    assert np.array_equal(script.Sampler(cdf).ranks(u), expected)


def test_shards_plain_and_same_seed_same_bytes(script, tmp_path):
    a = script.generate(tmp_path / "a", 20_000, n_types=500, shards=3, seed=1, plain=True)
    b = script.generate(tmp_path / "b", 20_000, n_types=500, shards=3, seed=1, plain=True)
    assert [p.name for p in a] == [f"corpus-0000{k}.txt" for k in range(3)]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert 20_000 <= sum(len(p.read_text().split()) for p in a) <= 20_000 + 3 * 400
