"""Word vectors: :class:`KeyedVectors` and the word2vec file formats.

``keyed.py`` holds the vectors and their similarity queries; ``formats.py`` reads and
writes the word2vec text and binary files (``KeyedVectors.load_word2vec_format`` /
``save_word2vec_format`` call it).
"""
from lmkit.vectors.formats import read_word2vec, sniff_binary, write_word2vec
from lmkit.vectors.keyed import KeyedVectors

__all__ = ["KeyedVectors", "read_word2vec", "write_word2vec", "sniff_binary"]
