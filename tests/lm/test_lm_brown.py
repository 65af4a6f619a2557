"""A short real run on a Brown slice (needs LMKIT_DATA with brown.zip)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest



@pytest.fixture(scope="module")
def brown(shared_data):
    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab

    whole = encode_corpus("brown", min_count=4, unk="<unk>", verbose=False)
    train = encode_with_vocab("brown:train", whole.vocab, whole.tokenizer, verbose=False)
    valid = encode_with_vocab("brown:valid", whole.vocab, whole.tokenizer, verbose=False)
    offsets = np.asarray(valid.offsets)[:1001]  # the first 1,000 validation sentences
    valid_slice = SimpleNamespace(ids=np.asarray(valid.ids)[:offsets[-1]], offsets=offsets, vocab=valid.vocab)
    return train, valid_slice


def test_kneser_ney_on_brown(brown):
    from lmkit.lm.ngram import KneserNey
    from lmkit.lm.perplexity import perplexity

    train, valid = brown
    result = perplexity(KneserNey(3, boundaries="stream").fit(train), valid)
    assert result.n_tokens == valid.offsets[-1] and result.n_eos == 0
    assert 150 < result.perplexity < 600  # the paper's trigram: 334 on the whole validation split


def test_nplm_learns_on_a_brown_slice(brown):
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.lm.perplexity import perplexity

    train, valid = brown
    config = NPLMConfig(context=3, features=16, hidden=32, direct=False, boundaries="stream", epochs=1,
                        max_tokens=60_000, threads=1, batch_size=128)
    model = NPLM(config).fit(train, valid, verbose=False)
    unigram_start = NPLM(config).build(train.vocab, unigram_counts=np.bincount(train.ids, minlength=len(train.vocab)))
    before, after = perplexity(unigram_start, valid).perplexity, perplexity(model, valid).perplexity
    assert after < before, (before, after)  # beats its own unigram start
    assert model.history[0]["valid_ppl"] == pytest.approx(after)
