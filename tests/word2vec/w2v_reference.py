"""Slow, plain Python/numpy twins of lmkit.word2vec's compiled pieces.

Written for clarity, not speed: Python-int RNG arithmetic, one numpy
expression per step, float64 dot products.  They replay the kernels' random
stream draw for draw (the order is documented in lmkit/word2vec/kernels.py),
so a kernel pass and its twin must agree to float32 rounding.
"""
from __future__ import annotations

import heapq

import numpy as np

from lmkit.word2vec.kernels import MAX_EXP, TABLE_SIZE

MASK64 = (1 << 64) - 1


class XorShift64Star:
    """xorshift64* with Python integers (Vigna 2016)."""

    def __init__(self, state: int):
        self.state = int(state)

    def next(self) -> int:
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & MASK64
        x ^= x >> 27
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & MASK64

    def index(self, n: int) -> int:
        return ((self.next() >> 32) * n) >> 32

    def uniform(self) -> float:
        return (self.next() >> 40) / 16777216.0

    def alias(self, threshold: np.ndarray, alias: np.ndarray) -> int:
        r = self.next()
        column = ((r >> 32) * len(threshold)) >> 32
        return column if (r & 0xFFFFFFFF) < threshold[column] else int(alias[column])


def table_lookup(f: float, label: float, sigmoid: np.ndarray, nll: np.ndarray) -> tuple[float, float]:
    """sigma(f) and -log p(label | f), from the same tables the kernel uses (index truncated toward 0)."""
    f = np.float32(f)
    index = int((f + np.float32(MAX_EXP)) * np.float32(TABLE_SIZE / (2 * MAX_EXP)))
    if index >= TABLE_SIZE:
        s, minus_log_s = 1.0, 0.0
    elif index < 0:
        s, minus_log_s = 0.0, -float(f)
    else:
        s, minus_log_s = float(sigmoid[index]), float(nll[index])
    return s, (minus_log_s if label == 1.0 else minus_log_s + float(f))


def logistic_rows(hidden: np.ndarray, out: np.ndarray, rows: list[int], labels: list[float], alpha: float,
                  sigmoid, nll) -> tuple[np.ndarray, float]:
    """Output row by output row: all hidden rows against the current row, then update it.

    hidden: (m, d) copy of the hidden rows; returns (grad (m, d), loss).
    """
    grad = np.zeros(hidden.shape, dtype=np.float64)
    loss = 0.0
    for row, label in zip(rows, labels):
        u = out[row].astype(np.float64)
        gains = np.empty(hidden.shape[0])
        for i, h in enumerate(hidden):
            s, value = table_lookup(float(h.astype(np.float64) @ u), label, sigmoid, nll)
            loss += value
            gains[i] = (label - s) * alpha
        grad += np.outer(gains, u)
        out[row] = (u + gains @ hidden.astype(np.float64)).astype(np.float32)
    return grad, loss


def update(hidden, target, model, rng, alpha):
    """HS then NS for one target; returns (grad, loss).  ``model`` is a dict of arrays."""
    grad = np.zeros(hidden.shape)
    loss = 0.0
    if model["syn1"].shape[0] > 0:
        length = model["code_lengths"][target]
        rows = [int(p) for p in model["points"][target, :length]]
        labels = [1.0 - float(c) for c in model["codes"][target, :length]]
        g, value = logistic_rows(hidden, model["syn1"], rows, labels, alpha, model["sigmoid"], model["nll"])
        grad += g
        loss += value
    if model["negative"] > 0:
        rows, labels = [target], [1.0]
        for _ in range(model["negative"]):
            drawn = target
            while drawn == target:
                drawn = rng.alias(model["threshold"][0], model["alias"][0])
            rows.append(drawn)
            labels.append(0.0)
        g, value = logistic_rows(hidden, model["syn1neg"], rows, labels, alpha, model["sigmoid"], model["nll"])
        grad += g
        loss += value
    return grad, loss


def cbow_group(group: list[tuple[int, list[int]]], model: dict, rng, alpha, cbow_mean: bool) -> float:
    """Train CBOW targets together: each on its own outputs (HS path, NS positive), then one set of
    negatives for all, redrawn while equal to any target of the group.  Returns the loss."""
    syn0, targets = model["syn0"], [target for target, _ in group]
    hidden = np.stack([syn0[contexts].astype(np.float64).sum(axis=0) / (len(contexts) if cbow_mean else 1)
                       for _, contexts in group]).astype(np.float32)
    grad = np.zeros(hidden.shape)
    loss = 0.0
    for g, target in enumerate(targets):
        if model["syn1"].shape[0] > 0:
            length = model["code_lengths"][target]
            rows = [int(p) for p in model["points"][target, :length]]
            labels = [1.0 - float(c) for c in model["codes"][target, :length]]
            own, value = logistic_rows(hidden[g:g + 1], model["syn1"], rows, labels, alpha, model["sigmoid"],
                                       model["nll"])
            grad[g] += own[0]
            loss += value
        if model["negative"] > 0:
            own, value = logistic_rows(hidden[g:g + 1], model["syn1neg"], [target], [1.0], alpha,
                                       model["sigmoid"], model["nll"])
            grad[g] += own[0]
            loss += value
    if model["negative"] > 0:
        rows = []
        for _ in range(model["negative"]):
            drawn = targets[0]
            while drawn in targets:
                drawn = rng.alias(model["threshold"][0], model["alias"][0])
            rows.append(drawn)
        shared, value = logistic_rows(hidden, model["syn1neg"], rows, [0.0] * len(rows), alpha, model["sigmoid"],
                                      model["nll"])
        grad += shared
        loss += value
    for (_, contexts), g in zip(group, grad):
        for c in contexts:
            syn0[c] = (syn0[c] + g).astype(np.float32)
    return loss


def train_sentences(sentences: list[list[int]], model: dict, rng: XorShift64Star, *, cbow: bool, cbow_mean: bool,
                    window: int, batched: bool, alpha0: float, min_alpha: float, total_words: float,
                    done: float = 0.0, group_size: int = 1) -> dict:
    """The reference training pass; updates model["syn0"/"syn1"/"syn1neg"] in place.

    CBOW trains consecutive targets in groups of up to ``group_size`` distinct targets (1: the C
    tool's update), a group being trained when the next target finds it full or already holding it,
    and at the end of the sentence.  One worker's pass: one negative-sampling table (kernels.Tables)."""
    assert model["threshold"].shape[0] == 1
    syn0 = model["syn0"]
    loss, examples, effective = 0.0, 0, 0
    for raw in sentences:
        alpha = np.float32(alpha0 - (alpha0 - min_alpha) * min(done / total_words, 1.0))
        sentence = [w for w in raw if model["keep"][w] >= 1.0 or rng.uniform() < model["keep"][w]]
        group = []
        for i, target in enumerate(sentence):
            reach = window - rng.index(window)
            contexts = [sentence[j] for j in range(max(0, i - reach), min(len(sentence), i + reach + 1)) if j != i]
            if not contexts:
                continue
            if cbow:
                if len(group) == group_size or target in [t for t, _ in group]:
                    loss, examples = loss + cbow_group(group, model, rng, alpha, cbow_mean), examples + len(group)
                    group = []
                group.append((target, contexts))
            elif batched:
                grad, value = update(syn0[contexts].copy(), target, model, rng, alpha)
                for c, g in zip(contexts, grad):
                    syn0[c] = (syn0[c] + g).astype(np.float32)
                loss, examples = loss + value, examples + len(contexts)
            else:
                for c in contexts:
                    grad, value = update(syn0[[c]].copy(), target, model, rng, alpha)
                    syn0[c] = (syn0[c] + grad[0]).astype(np.float32)
                    loss, examples = loss + value, examples + 1
        if group:
            loss, examples = loss + cbow_group(group, model, rng, alpha, cbow_mean), examples + len(group)
        effective += len(sentence)
        done += len(raw)
    return {"loss": loss, "examples": examples, "effective": effective, "done": done}


def heap_huffman_lengths(counts: list[int]) -> list[int]:
    """Code lengths of a textbook heap-based Huffman code (for the optimal-cost comparison)."""
    if len(counts) == 1:
        return [0]
    heap = [(c, i, [i]) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    lengths = [0] * len(counts)
    tie = len(counts)
    while len(heap) > 1:
        c1, _, leaves1 = heapq.heappop(heap)
        c2, _, leaves2 = heapq.heappop(heap)
        for leaf in leaves1 + leaves2:
            lengths[leaf] += 1
        heapq.heappush(heap, (c1 + c2, tie, leaves1 + leaves2))
        tie += 1
    return lengths


def first_occurrence_huffman(sentences: list[list[str]]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """The C tool's Huffman tree, from the text: ``{word: (codes, points)}``, root first.

    Words are listed in order of first occurrence, sorted by count (descending, a stable sort, so
    equal counts stay in first-occurrence order), then merged two at a time from the rare end: of
    the next unmerged leaf and the oldest unmerged inner node the lighter is taken, the leaf when
    they weigh the same; the first taken gets code 0, the second code 1.  Inner node k is the
    k-th merge (the root is the last).
    """
    counts: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1          # dicts keep insertion (first-occurrence) order
    words = sorted(counts, key=lambda w: -counts[w])          # Python's sort is stable
    leaves = [(counts[w], ("leaf", w)) for w in reversed(words)]  # rarest first
    inner: list[tuple[int, tuple]] = []
    parent, code = {}, {}
    merges = 0
    while len(leaves) + len(inner) > 1:
        taken = []
        for bit in (0, 1):
            if leaves and (not inner or leaves[0][0] <= inner[0][0]):
                weight, node = leaves.pop(0)
            else:
                weight, node = inner.pop(0)
            parent[node], code[node] = ("inner", merges), bit
            taken.append(weight)
        inner.append((sum(taken), ("inner", merges)))
        merges += 1
    paths = {}
    for w in words:
        node, bits, points = ("leaf", w), [], []
        while node in parent:
            bits.append(code[node])
            node = parent[node]
            points.append(node[1])
        paths[w] = (tuple(reversed(bits)), tuple(reversed(points)))
    return paths
