"""Tokenization through a HuggingFace ``tokenizers`` pipeline.

A :class:`TokenizerConfig` names the stages (normalizers, a pre-tokenizer and
optionally a subword model trained on the corpus); :class:`Tokenizer` builds
the pipeline and serializes it, with any trained subword model, to one JSON
document.  That document is saved beside every model and vector file lmkit
writes (:func:`sidecar_path`), so loading reproduces tokenization exactly.

Word-level tokenization needs no model: tokens are the pre-tokenizer's
pieces.  For encoding, :meth:`Tokenizer.encoder` builds a pipeline whose
``WordLevel`` model maps each word straight to an id in Rust, so the Python
side never loops over tokens.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, normalizers, pre_tokenizers, trainers

from lmkit.corpus.tokenizer_config import PRE_TOKENIZERS, SUBWORD_MODELS, TokenizerConfig  # noqa: F401
from lmkit.io import atomic_write

TOKENIZER_FORMAT = "lmkit-tokenizer"
TOKENIZER_VERSION = 1
# Stands for "not in the vocabulary" inside encoders; \x00 cannot occur in a normalized word.
OOV_SENTINEL = "\x00oov\x00"


def _normalizer(config: TokenizerConfig):
    stages = []
    if config.nfkc:
        stages.append(normalizers.NFKC())
    if config.strip_accents:
        stages += [normalizers.NFD(), normalizers.StripAccents()]
    if config.lowercase:
        stages.append(normalizers.Lowercase())
    return normalizers.Sequence(stages) if stages else None


def _pre_tokenizer(config: TokenizerConfig):
    if config.pre_tokenizer == "whitespace":
        return pre_tokenizers.WhitespaceSplit()
    return pre_tokenizers.Whitespace()  # \w+|[^\w\s]+


def _pipeline(config: TokenizerConfig, model) -> HFTokenizer:
    pipeline = HFTokenizer(model)
    normalizer = _normalizer(config)
    if normalizer is not None:
        pipeline.normalizer = normalizer
    pipeline.pre_tokenizer = _pre_tokenizer(config)
    return pipeline


def word_level_encoder(config: TokenizerConfig, token_to_id: dict[str, int]) -> HFTokenizer:
    """A pipeline whose model maps each word to ``token_to_id[word]``.

    Words outside the mapping get the id of :data:`OOV_SENTINEL`, which must
    be in ``token_to_id``; callers translate it afterwards.
    """
    if OOV_SENTINEL not in token_to_id:
        raise ValueError("token_to_id must contain the OOV sentinel")
    return _pipeline(config, models.WordLevel(vocab=token_to_id, unk_token=OOV_SENTINEL))


class Tokenizer:
    """A tokenization pipeline: a config plus, for subword models, what was trained.

    >>> Tokenizer(TokenizerConfig(lowercase=True)).tokenize("The cat sat.")
    ['the', 'cat', 'sat.']
    """

    def __init__(self, config: TokenizerConfig | None = None, trained: HFTokenizer | None = None):
        self.config = config or TokenizerConfig()
        if self.config.subword is None and trained is not None:
            raise ValueError("a word-level tokenizer takes no trained model")
        self._trained = trained
        self._splitter = _pipeline(self.config, models.WordLevel(vocab={OOV_SENTINEL: 0}, unk_token=OOV_SENTINEL))

    @property
    def needs_training(self) -> bool:
        """True for a subword tokenizer whose model has not been trained yet."""
        return self.config.subword is not None and self._trained is None

    @property
    def subword_model(self) -> HFTokenizer:
        if self._trained is None:
            raise ValueError("this tokenizer has no trained subword model (call train first)")
        return self._trained

    def train(self, line_batches: Iterable[list[str]]) -> None:
        """Learn the subword model (BPE, WordPiece or Unigram) from batches of lines."""
        config = self.config
        if config.subword is None:
            raise ValueError("a word-level tokenizer has nothing to train")
        unk = "[UNK]"
        if config.subword == "bpe":
            model = models.BPE(unk_token=unk)
            trainer = trainers.BpeTrainer(vocab_size=config.subword_vocab_size, special_tokens=[unk],
                                          min_frequency=config.subword_min_frequency, show_progress=False)
        elif config.subword == "wordpiece":
            model = models.WordPiece(unk_token=unk)
            trainer = trainers.WordPieceTrainer(vocab_size=config.subword_vocab_size, special_tokens=[unk],
                                                min_frequency=config.subword_min_frequency, show_progress=False)
        else:
            model = models.Unigram()
            trainer = trainers.UnigramTrainer(vocab_size=config.subword_vocab_size, special_tokens=[unk],
                                              unk_token=unk, show_progress=False)
        pipeline = _pipeline(config, model)
        pipeline.train_from_iterator(line_batches, trainer=trainer)
        self._trained = pipeline

    def tokenize(self, line: str) -> list[str]:
        """The tokens of one line, as the encoder sees them."""
        if self.config.subword is not None:
            return self.subword_model.encode(line, add_special_tokens=False).tokens
        normalized = self._splitter.normalizer.normalize_str(line) if self._splitter.normalizer else line
        return [piece for piece, _ in self._splitter.pre_tokenizer.pre_tokenize_str(normalized)]

    def to_json(self) -> str:
        """One JSON document: the config and, if any, the trained HuggingFace pipeline."""
        document = {"format": TOKENIZER_FORMAT, "format_version": TOKENIZER_VERSION,
                    "config": asdict(self.config),
                    "huggingface": json.loads(self._trained.to_str()) if self._trained is not None else None}
        return json.dumps(document, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, source: str = "tokenizer JSON") -> "Tokenizer":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: not valid JSON ({error})") from error
        if not isinstance(document, dict) or document.get("format") != TOKENIZER_FORMAT:
            raise ValueError(f"{source}: not an lmkit tokenizer document")
        if document.get("format_version") != TOKENIZER_VERSION:
            raise ValueError(f"{source}: tokenizer format version {document.get('format_version')!r} "
                             f"is not supported (reads {TOKENIZER_VERSION})")
        config = TokenizerConfig.from_dict(document["config"])
        hf = document.get("huggingface")
        trained = HFTokenizer.from_str(json.dumps(hf)) if hf is not None else None
        return cls(config, trained)

    def save(self, path: str | os.PathLike) -> Path:
        with atomic_write(path, "w", encoding="utf-8") as handle:
            handle.write(self.to_json())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {path}")
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Tokenizer({self.config!r}, trained={self._trained is not None})"


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the tokenizer of a model or vector file at ``path`` is saved: ``path + ".tokenizer.json"``."""
    return Path(os.fspath(path) + ".tokenizer.json")
