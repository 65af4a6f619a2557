import json

import pytest

from lmkit.corpus.tokenizer import Tokenizer, TokenizerConfig, sidecar_path


def test_whitespace_and_word_pre_tokenizers():
    assert Tokenizer().tokenize("The cat, sat.") == ["The", "cat,", "sat."]
    words = Tokenizer(TokenizerConfig(pre_tokenizer="words"))
    assert words.tokenize("The cat, sat.") == ["The", "cat", ",", "sat", "."]


def test_normalizers_compose():
    config = TokenizerConfig(lowercase=True, nfkc=True, strip_accents=True)
    assert Tokenizer(config).tokenize("Café ﬁne ÉTÉ") == ["cafe", "fine", "ete"]
    assert Tokenizer(TokenizerConfig(lowercase=True)).tokenize("Café") == ["café"]


def test_json_round_trip_and_file(tmp_path):
    tokenizer = Tokenizer(TokenizerConfig(lowercase=True, pre_tokenizer="words"))
    again = Tokenizer.from_json(tokenizer.to_json())
    assert again == tokenizer and again.tokenize("A,B") == ["a", ",", "b"]
    path = sidecar_path(tmp_path / "vectors.bin")
    assert path.name == "vectors.bin.tokenizer.json"
    tokenizer.save(path)
    assert Tokenizer.load(path) == tokenizer


@pytest.mark.parametrize("subword", ["bpe", "wordpiece", "unigram"])
def test_trained_subword_model_survives_serialization(subword):
    lines = ["the lower newest widest low lowest new wider"] * 30
    tokenizer = Tokenizer(TokenizerConfig(subword=subword, subword_vocab_size=60))
    assert tokenizer.needs_training
    tokenizer.train([lines])
    pieces = tokenizer.tokenize("lowest newer")
    assert "".join(p.replace("##", "").replace("▁", "") for p in pieces) == "lowestnewer"
    assert Tokenizer.from_json(tokenizer.to_json()).tokenize("lowest newer") == pieces


def test_bad_config_and_documents(tmp_path):
    with pytest.raises(ValueError, match="pre_tokenizer"):
        TokenizerConfig(pre_tokenizer="spaces")
    with pytest.raises(ValueError, match="subword"):
        TokenizerConfig(subword="sentencepiece")
    with pytest.raises(ValueError, match="not valid JSON"):
        Tokenizer.from_json("{")
    with pytest.raises(ValueError, match="version 99"):
        Tokenizer.from_json(json.dumps({"format": "lmkit-tokenizer", "format_version": 99}))
    with pytest.raises(ValueError, match="unknown TokenizerConfig option.*stem"):
        TokenizerConfig.from_dict({"lowercase": True, "stem": True})
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        Tokenizer.load(tmp_path / "nothing.json")
