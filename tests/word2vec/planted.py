"""The planted-topic corpus of the word2vec tests: sentences about animals or vehicles, which vectors
trained on it should separate (shared by the single-process and the Ray tests)."""
from __future__ import annotations

import numpy as np

ANIMALS = ["cat", "dog", "mouse", "horse", "cow", "sheep"]
VEHICLES = ["car", "bus", "train", "plane", "boat", "truck"]
FILLERS = ["the", "a", "and", "of"]


def topic_corpus(path, n_sentences: int, seed: int = 0):
    """Sentences drawn from one topic each (plus filler words): topic words should cluster."""
    rng = np.random.default_rng(seed)
    lines = []
    for s in range(n_sentences):
        topic = ANIMALS if s % 2 == 0 else VEHICLES
        words = [topic[i] if rng.random() < 0.75 else FILLERS[i % 4] for i in rng.integers(0, 6, 8)]
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def separation(model) -> float:
    """Mean within-topic cosine minus mean across-topic cosine of ``model.wv``."""
    kv = model.wv
    within = [kv.similarity(a, b) for group in (ANIMALS, VEHICLES) for a in group for b in group if a < b]
    across = [kv.similarity(a, b) for a in ANIMALS for b in VEHICLES]
    return float(np.mean(within) - np.mean(across))
