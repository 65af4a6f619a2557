"""Splitting an encoded corpus into consecutive runs of whole sentences, for streaming and for threads.

Word2vec's worker threads take such runs as their chunks, and perplexity scores a large corpus one
run at a time; both need runs of about a given size that never cut a sentence.
"""
from __future__ import annotations

import numpy as np


def sentence_ranges(offsets: np.ndarray, max_items: int, per_sentence: int = 0) -> list[tuple[int, int]]:
    """Consecutive sentence ranges ``[first, end)`` of at most ``max_items`` items each.

    ``offsets: int64[n_sentences + 1]`` (sentence ``s`` is tokens
    ``offsets[s]:offsets[s + 1]``).  Items are the tokens, plus
    ``per_sentence`` more per sentence (1 for a language model that also
    predicts each sentence's ``</s>``).  A sentence larger than ``max_items``
    is a range of its own.  The ranges cover every sentence, in order.
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    # cumulative[s] = items before sentence s
    cumulative = offsets - offsets[0] + per_sentence * np.arange(n + 1, dtype=np.int64)
    ranges, first = [], 0
    while first < n:
        end = int(np.searchsorted(cumulative, cumulative[first] + max_items, side="right")) - 1
        end = min(max(end, first + 1), n)
        ranges.append((first, end))
        first = end
    return ranges


def split_sentences(offsets: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive sentence ranges ``[first, end)`` of about equal tokens, covering every sentence.

    ``offsets: int64[n_sentences + 1]`` as in :func:`sentence_ranges`.  Range
    ``k`` ends at the first sentence boundary at or after ``k + 1`` parts of
    the tokens, so the ranges differ by at most one sentence's tokens from an
    even split (a range is empty when a single sentence outweighs a whole part).
    Data-parallel trainers give each replica one such share.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(1, parts, dtype=np.int64) // parts
    cuts = [0, *np.searchsorted(offsets, targets, side="left").clip(0, n).tolist(), n]
    return [(int(cuts[k]), int(cuts[k + 1])) for k in range(parts)]
