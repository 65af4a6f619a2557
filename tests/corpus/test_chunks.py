"""sentence_ranges: whole sentences, in order, each range within its size unless one sentence is larger;
split_sentences: K shares of about equal tokens."""
import numpy as np
import pytest

from lmkit.corpus.chunks import longest_sentence, sentence_ranges, split_sentences


def _greedy(lengths, max_items, per_sentence):
    """The obvious loop: add sentences to a range while the range stays within max_items."""
    ranges, first, size = [], 0, 0
    for s, length in enumerate(lengths):
        items = length + per_sentence
        if s > first and size + items > max_items:
            ranges.append((first, s))
            first, size = s, 0
        size += items
    if first < len(lengths):
        ranges.append((first, len(lengths)))
    return ranges


@pytest.mark.parametrize("per_sentence", [0, 1])
@pytest.mark.parametrize("max_items", [1, 5, 6, 13, 1000])
def test_ranges_match_the_greedy_loop(max_items, per_sentence):
    lengths = [3, 1, 4, 1, 5, 9, 2, 6, 0, 0, 7]
    offsets = np.concatenate([[10], 10 + np.cumsum(lengths)])  # a corpus that does not start at 0
    ranges = sentence_ranges(offsets, max_items, per_sentence)
    assert ranges == _greedy(lengths, max_items, per_sentence)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_empty_corpus_and_bad_size():
    assert sentence_ranges(np.array([0]), 5) == []
    with pytest.raises(ValueError, match="max_items"):
        sentence_ranges(np.array([0, 3]), 0)


@pytest.mark.parametrize("parts", [1, 2, 3, 5, 11, 14])
def test_shares_cover_the_corpus_and_end_at_the_first_boundary_past_each_cut(parts):
    lengths = [3, 1, 4, 1, 5, 9, 2, 6, 0, 0, 7]
    offsets = np.concatenate([[10], 10 + np.cumsum(lengths)])
    shares = split_sentences(offsets, parts)
    assert len(shares) == parts and shares[0][0] == 0 and shares[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
    total = sum(lengths)
    for k, (_, end) in enumerate(shares[:-1]):  # the obvious scan: the first sentence start at or past the cut
        cut = total * (k + 1) // parts
        starts = np.concatenate([[0], np.cumsum(lengths)])
        assert end == next(s for s in range(len(lengths) + 1) if starts[s] >= cut)
    with pytest.raises(ValueError, match="parts"):
        split_sentences(offsets, 0)


@pytest.mark.parametrize("step", [1, 2, 3, 1 << 22])
def test_longest_sentence_in_steps_equals_the_whole_diff(step):
    offsets = np.concatenate([[10], 10 + np.cumsum([3, 1, 4, 1, 5, 9, 2, 6, 0, 0, 7])])
    assert longest_sentence(offsets, step) == int(np.diff(offsets).max()) == 9
    assert longest_sentence(offsets[-3:], step) == 7  # the last step holds the longest
    assert longest_sentence(np.array([0]), step) == 0
