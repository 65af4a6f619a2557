"""Huffman tree: prefix-free codes, optimal cost, paths consistent with the inner nodes."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from lmkit.word2vec.trees import build_huffman, first_positions

import w2v_reference as ref


def _codes(tree, word):
    return tuple(int(b) for b in tree.codes[word, :tree.lengths[word]])


@pytest.mark.parametrize("counts", [
    [5, 1, 1, 2, 3],
    [1, 1],
    [7, 7, 7, 7, 7, 7, 7],
    [1000, 500, 250, 125, 60, 30, 15, 8, 4, 2, 1, 1],
    list(np.random.default_rng(0).integers(1, 1000, 200)),
    list(np.random.default_rng(1).zipf(1.5, 300).clip(max=10**6)),
    [0, 3, 0, 2],
])
def test_codes_are_prefix_free_and_optimal(counts):
    counts = np.asarray(counts, dtype=np.int64)
    tree = build_huffman(counts)
    n = len(counts)
    codes = [_codes(tree, w) for w in range(n)]
    assert len(set(codes)) == n
    for a in range(n):
        for b in range(n):
            if a != b:
                assert codes[b][:len(codes[a])] != codes[a], f"code of {a} is a prefix of code of {b}"
    # Kraft equality: a full binary tree.
    assert sum(2.0 ** -len(c) for c in codes) == pytest.approx(1.0)
    # Same total cost as a textbook heap Huffman code (Huffman codes are optimal; ties may differ).
    heap_lengths = ref.heap_huffman_lengths(counts.tolist())
    assert int((counts * tree.lengths).sum()) == int((counts * np.asarray(heap_lengths)).sum())


def test_paths_walk_the_inner_nodes_from_the_root():
    counts = np.random.default_rng(2).integers(1, 50, 40)
    tree = build_huffman(counts)
    n = len(counts)
    assert tree.n_inner == n - 1
    assert tree.codes.dtype == np.uint8 and tree.points.dtype == np.int32 and tree.lengths.dtype == np.int32
    children: dict[int, set] = {}
    for w in range(n):
        length = tree.lengths[w]
        assert tree.points[w, 0] == n - 2                      # every path starts at the root
        assert (tree.points[w, :length] >= 0).all() and (tree.points[w, :length] < n - 1).all()
        assert (tree.codes[w, length:] == 0).all() and (tree.points[w, length:] == 0).all()
        for depth in range(length):
            node, bit = int(tree.points[w, depth]), int(tree.codes[w, depth])
            child = int(tree.points[w, depth + 1]) if depth + 1 < length else ("leaf", w)
            children.setdefault((node, bit), set()).add(child)
    # Each (inner node, branch) leads to exactly one child: the paths form one tree.
    assert all(len(c) == 1 for c in children.values())
    assert len(children) == 2 * (n - 1)


def test_frequent_words_get_short_codes_and_order_does_not_matter():
    counts = np.array([3, 100, 1, 50, 2, 2, 30], dtype=np.int64)
    tree = build_huffman(counts)
    assert tree.lengths[1] == tree.lengths.min() and tree.lengths[2] == tree.lengths.max()
    permutation = np.random.default_rng(3).permutation(len(counts))
    shuffled = build_huffman(counts[permutation])
    assert int((counts[permutation] * shuffled.lengths).sum()) == int((counts * tree.lengths).sum())


def test_single_word_and_bad_input():
    tree = build_huffman(np.array([4]))
    assert tree.codes.shape == (1, 0) and tree.lengths.tolist() == [0] and tree.n_inner == 0
    with pytest.raises(ValueError, match="non-empty"):
        build_huffman(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match=">= 0"):
        build_huffman(np.array([1, -1]))


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1",
                    reason="times the compiled build; interpreted it takes minutes for 200k words")
def test_build_scales_to_a_large_vocabulary():
    counts = np.random.default_rng(4).zipf(1.3, 200_000).clip(max=10**9)
    build_huffman(counts[:10])                                  # compile (or load from cache) first
    started = time.perf_counter()
    tree = build_huffman(counts)
    assert time.perf_counter() - started < 5.0
    assert tree.lengths.shape == (200_000,)


def _tied_sentences(seed: int) -> list[list[str]]:
    """Words of a few distinct counts, spelled so that code-point order is not first-occurrence order."""
    rng = np.random.default_rng(seed)
    names = [f"{chr(97 + int(i) % 26)}{chr(97 + int(i) // 26 % 26)}{int(i)}" for i in rng.permutation(60)]
    tokens = [w for k, w in enumerate(names) for _ in range(1 + k % 3)]   # counts 1, 2, 3: many ties
    tokens = [tokens[i] for i in rng.permutation(len(tokens))]
    return [tokens[i:i + 7] for i in range(0, len(tokens), 7)]


def _tree_of(tree, tokens):
    return {w: (tuple(int(c) for c in tree.codes[i, :tree.lengths[i]]),
                tuple(int(p) for p in tree.points[i, :tree.lengths[i]])) for i, w in enumerate(tokens)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_occurrence_ties_give_the_c_tools_tree(seed):
    sentences = _tied_sentences(seed)
    tokens = sorted({w for s in sentences for w in s}, key=lambda w: w[::-1])   # ids in some other order
    ids = np.array([tokens.index(w) for s in sentences for w in s], dtype=np.int32)
    counts = np.bincount(ids, minlength=len(tokens))
    expected = ref.first_occurrence_huffman(sentences)
    assert _tree_of(build_huffman(counts, first_positions(ids, len(tokens))), tokens) == expected
    assert _tree_of(build_huffman(counts), tokens) != expected        # ties by id: another tree


def test_first_positions(tmp_path):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 40, 500).astype(np.int32)
    ids[ids == 7] = 8                                                  # word 7 never occurs
    expected = [ids.tolist().index(w) if w in ids else 500 + w for w in range(42)]
    for chunk in (1, 3, 64, 1 << 22):
        assert first_positions(ids, 42, chunk=chunk).tolist() == expected
    np.save(tmp_path / "ids.npy", ids)                # a memmap is read through a buffer, chunk by chunk
    mapped = np.load(tmp_path / "ids.npy", mmap_mode="r")
    for chunk in (3, 64, 1 << 22):
        assert first_positions(mapped, 42, chunk=chunk).tolist() == expected
    assert first_positions(np.zeros(0, np.int32), 2).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"\[0, 30\)"):
        first_positions(ids, 30)
    with pytest.raises(ValueError, match="ties has shape"):
        build_huffman(np.array([3, 2, 1]), ties=np.array([0, 1]))
