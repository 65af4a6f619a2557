"""What the tokenizer does (:class:`TokenizerConfig`), as a plain dataclass that loads no library.

The tokenizer itself (:mod:`lmkit.corpus.tokenizer`) builds a HuggingFace
``tokenizers`` pipeline from it; keeping the settings apart lets the command
line and the model configs read them without loading that or numpy.
"""
from __future__ import annotations

from dataclasses import dataclass

from lmkit._config import config_from_dict, option

PRE_TOKENIZERS = ("whitespace", "words")
SUBWORD_MODELS = ("bpe", "wordpiece", "unigram")


@dataclass(frozen=True)
class TokenizerConfig:
    """What the tokenizer does; every field is a plain JSON value."""

    lowercase: bool = option(False, "lowercase the text (word2vec corpora often are; Bengio kept case)")
    nfkc: bool = option(False, "fold compatibility characters (ligatures, full-width forms): Unicode NFKC")
    strip_accents: bool = option(False, "NFD and drop combining marks: café -> cafe")
    pre_tokenizer: str = option("whitespace", "whitespace: the corpus is already tokenized; words: split words "
                                              "and punctuation", flag="--split", choices=PRE_TOKENIZERS)
    subword: str | None = option(None, "words (none), or a subword model trained on the corpus, its pieces the "
                                       "tokens", choices=SUBWORD_MODELS)
    subword_vocab_size: int = option(30_000, "target size of a trained subword vocabulary")
    subword_min_frequency: int = option(2, "a merge or piece must occur this often to be learned")

    def __post_init__(self) -> None:
        if self.pre_tokenizer not in PRE_TOKENIZERS:
            raise ValueError(f"pre_tokenizer must be one of {PRE_TOKENIZERS}, got {self.pre_tokenizer!r}")
        if self.subword is not None and self.subword not in SUBWORD_MODELS:
            raise ValueError(f"subword must be None or one of {SUBWORD_MODELS}, got {self.subword!r}")
        if self.subword_vocab_size < 1:
            raise ValueError(f"subword_vocab_size must be >= 1, got {self.subword_vocab_size}")

    @classmethod
    def from_dict(cls, values: dict) -> "TokenizerConfig":
        return config_from_dict(cls, values)
