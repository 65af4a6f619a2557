"""lmkit: word embeddings and neural language models.

The names below are imported lazily (PEP 562) so that ``import lmkit`` and
``lmkit --help`` stay fast: numba and the trainers load on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Word2Vec": "lmkit.word2vec.model",
    "Word2VecConfig": "lmkit.word2vec.model",
    "NPLM": "lmkit.lm.nplm",
    "NPLMConfig": "lmkit.lm.nplm",
    "KneserNey": "lmkit.lm.ngram",
    "perplexity": "lmkit.lm.perplexity",
    "KeyedVectors": "lmkit.vectors",
    "Vocab": "lmkit.corpus.vocab",
    "TokenizerConfig": "lmkit.corpus.tokenizer",
    "Tokenizer": "lmkit.corpus.tokenizer",
    "EncodedCorpus": "lmkit.corpus.encoded",
    "encode_corpus": "lmkit.corpus.encoded",
    "resolve": "lmkit.corpus.datasets",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lmkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
