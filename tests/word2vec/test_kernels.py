"""The compiled training pass against its plain-Python twin (w2v_reference.py)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lmkit.word2vec import kernels
from lmkit.word2vec.sampling import seed_state, unigram_table
from lmkit.word2vec.training import Arrays, Objective, Schedule, Worker
from lmkit.word2vec.trees import build_huffman

import w2v_reference as ref

# Without the JIT (NUMBA_DISABLE_JIT=1) numpy scalars warn where compiled code wraps silently.
pytestmark = [pytest.mark.filterwarnings("ignore:overflow encountered in scalar multiply:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")]

SENTENCES = [[0, 1, 2, 3, 4, 0, 5], [6, 7, 0, 1, 8, 9, 2, 2, 0], [3, 0, 1]]
V, D = 10, 8


def _setup(hs: bool, negative: int, sample_keep: bool, seed: int = 3):
    rng = np.random.default_rng(seed)
    counts = np.bincount(np.concatenate(SENTENCES), minlength=V).astype(np.int64)
    tree = build_huffman(counts) if hs else build_huffman(counts[:1])
    table = unigram_table(counts, 0.75)
    keep = np.ones(V, np.float32)
    if sample_keep:  # frequent words 0, 1, 2 are sometimes dropped
        keep[:3] = [0.4, 0.7, 0.9]
    sigmoid, nll = kernels.logistic_tables()
    # Non-zero output weights, so that every update moves the input vectors too.
    weights = kernels.Weights(
        syn0=rng.normal(0, 0.5, (V, D)).astype(np.float32),
        syn1=rng.normal(0, 0.5, (V - 1 if hs else 0, D)).astype(np.float32),
        syn1neg=rng.normal(0, 0.5, (V if negative else 0, D)).astype(np.float32))
    tables = kernels.Tables(codes=tree.codes, points=tree.points, code_lengths=tree.lengths,
                            threshold=table.threshold[np.newaxis], alias=table.alias[np.newaxis], keep=keep,
                            sigmoid=sigmoid, nll=nll)
    return Arrays(weights, tables)


def _reference_model(arrays: Arrays, negative: int) -> dict:
    return {**{name: a.copy() for name, a in arrays.weights._asdict().items()}, **arrays.tables._asdict(),
            "negative": negative}


def _run_kernel(arrays: Arrays, objective: Objective, schedule: Schedule, seed: int):
    ids = np.concatenate(SENTENCES).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in SENTENCES])]).astype(np.int64)
    worker = Worker(0, seed_state(seed), arrays, objective, max(len(s) for s in SENTENCES))
    progress = np.zeros((1, kernels.ROW_WIDTH), np.int64)
    stats = np.zeros((1, kernels.ROW_WIDTH), np.float64)
    worker.run(arrays, ids, offsets, 0, len(SENTENCES), objective, schedule, progress, stats)
    return stats[0], progress[0], worker.rng[0]


COMBINATIONS = [
    # (cbow, cbow_mean, hs, negative, batched)
    (False, True, False, 3, False),   # SG-NS, the C tool's update
    (False, True, True, 0, False),    # SG-HS
    (True, True, False, 3, False),    # CBOW-NS (mean)
    (True, True, True, 0, False),     # CBOW-HS
    (True, False, True, 2, False),    # CBOW sum, HS + NS
    (False, True, False, 3, True),    # SG-NS batched (shared negatives per window)
    (False, True, True, 0, True),     # SG-HS batched
    (False, True, True, 2, True),     # SG HS + NS batched
    (True, True, False, 3, True),     # CBOW-NS batched (negatives shared by a group of targets)
    (True, False, True, 2, True),     # CBOW sum, HS + NS batched
]


def _group(cbow: bool, negative: int, batched: bool) -> int:
    """The CBOW group size Word2Vec.train would choose for the test vocabulary (V words, all drawable)."""
    return min(kernels.CBOW_GROUP, V - 1) if cbow and batched and negative else 1


@pytest.mark.parametrize("cbow,cbow_mean,hs,negative,batched", COMBINATIONS)
@pytest.mark.parametrize("subsample", [False, True])
def test_kernel_matches_reference(cbow, cbow_mean, hs, negative, batched, subsample):
    seed, window = 11, 3
    arrays = _setup(hs, negative, subsample)
    model = _reference_model(arrays, negative)
    group = _group(cbow, negative, batched)
    objective = Objective(cbow=cbow, cbow_mean=cbow_mean, negative=negative, window=window, batched=batched,
                          group=group)
    total = 2.0 * sum(len(s) for s in SENTENCES)
    schedule = Schedule(alpha=0.05, min_alpha=0.001, total_words=total)

    stats, progress, state = _run_kernel(arrays, objective, schedule, seed)
    rng = ref.XorShift64Star(int(seed_state(seed)))
    expected = ref.train_sentences(SENTENCES, model, rng, cbow=cbow, cbow_mean=cbow_mean, window=window,
                                   batched=batched, alpha0=0.05, min_alpha=0.001, total_words=total,
                                   group_size=group)

    assert int(state) == rng.state, "the kernel consumed a different number of random draws"
    for name in ("syn0", "syn1", "syn1neg"):
        np.testing.assert_allclose(getattr(arrays.weights, name), model[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert not np.allclose(arrays.weights.syn0, _setup(hs, negative, subsample).weights.syn0), "nothing was trained"
    assert stats[kernels.STATS_EXAMPLES] == expected["examples"]
    assert stats[kernels.STATS_EFFECTIVE] == expected["effective"]
    assert stats[kernels.STATS_RAW] == progress[kernels.PROGRESS_WORDS] == sum(len(s) for s in SENTENCES)
    assert stats[kernels.STATS_LOSS] == pytest.approx(expected["loss"], rel=1e-5)


def test_batched_differs_from_exact_where_negatives_are_shared():
    """Batched skip-gram and batched CBOW-NS are other updates; CBOW-HS has nothing to share."""
    results = {}
    for cbow, hs, negative in ((False, False, 3), (True, False, 3), (True, True, 0)):
        for batched in (False, True):
            arrays = _setup(hs, negative, False)
            objective = Objective(cbow=cbow, cbow_mean=True, negative=negative, window=3, batched=batched,
                                  group=_group(cbow, negative, batched))
            _run_kernel(arrays, objective, Schedule(0.05, 0.001, 100.0), seed=5)
            results[cbow, hs, batched] = arrays.weights.syn0
    assert not np.allclose(results[False, False, False], results[False, False, True])
    assert not np.allclose(results[True, False, False], results[True, False, True])
    assert np.array_equal(results[True, True, False], results[True, True, True])


def test_negatives_never_hit_the_target():
    counts = np.array([1000, 1, 1, 1], dtype=np.int64)          # word 0 would be drawn ~99% of the time
    table = unigram_table(counts, 1.0)
    sigmoid, nll = kernels.logistic_tables()
    syn0 = np.full((4, 2), 0.1, np.float32)
    syn1neg = np.zeros((4, 2), np.float32)
    empty = np.zeros((0, 2), np.float32)
    out_rows, labels = np.zeros(21, np.int32), np.zeros(21, np.float32)
    weights = kernels.Weights(syn0, empty, syn1neg)
    tables = kernels.Tables(*kernels.no_tree(4), table.threshold[np.newaxis], table.alias[np.newaxis],
                            np.ones(4, np.float32), sigmoid, nll)
    scratch = kernels.Scratch(np.zeros(1, np.uint64), np.zeros(1, np.int32), np.zeros(2, np.int32), out_rows,
                              labels, np.zeros((1, 2), np.float32), np.zeros(2, np.float32),
                              np.zeros((1, 2), np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32),
                              np.zeros(1, np.int32), np.zeros((1, 2), np.float32),
                              np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32))
    state = seed_state(0)
    for _ in range(50):
        state, _ = kernels.update(syn0, np.zeros(1, np.int32), 0, 1, 0, weights, tables,
                                  (table.threshold, table.alias), 20, np.float32(0.01), state, scratch, None, 0, (0, 0))
        state = np.uint64(state)   # numba hands a uint64 back as a Python int, which would compile an int64 RNG
        assert ((out_rows >= 0) & (out_rows < 4)).all()
        assert out_rows[0] == 0 and labels[0] == 1.0
        assert (out_rows[1:] != 0).all() and (labels[1:] == 0.0).all()


def test_logistic_tables_and_lookup():
    sigmoid, nll = kernels.logistic_tables()
    x = np.linspace(-5.9, 5.9, 101).astype(np.float32)
    for value in x:
        s, loss_pos = kernels.logistic(value, np.float32(1.0), sigmoid, nll)
        _, loss_neg = kernels.logistic(value, np.float32(0.0), sigmoid, nll)
        exact = 1.0 / (1.0 + np.exp(-float(value)))
        assert abs(s - exact) < 0.005                    # table resolution: 12/1000 in x
        assert abs(loss_pos + np.log(exact)) < 0.01
        assert abs(loss_neg + np.log(1.0 - exact)) < 0.01
    assert kernels.logistic(np.float32(7.0), np.float32(1.0), sigmoid, nll) == (1.0, 0.0)
    assert kernels.logistic(np.float32(7.0), np.float32(0.0), sigmoid, nll) == (1.0, 7.0)
    assert kernels.logistic(np.float32(-7.0), np.float32(1.0), sigmoid, nll) == (0.0, 7.0)
    assert kernels.logistic(np.float32(-7.0), np.float32(0.0), sigmoid, nll) == (0.0, 0.0)
    s, loss = kernels.logistic(np.float32(np.nan), np.float32(1.0), sigmoid, nll)
    assert np.isnan(loss)                                # NaN never indexes the table and shows in the loss


def test_learning_rate_schedule():
    lr = kernels.learning_rate
    assert lr(0.025, 0.0001, 0.0, 1000.0) == pytest.approx(0.025)
    assert lr(0.025, 0.0001, 500.0, 1000.0) == pytest.approx(0.025 - 0.0249 * 0.5)
    assert lr(0.025, 0.0001, 1000.0, 1000.0) == pytest.approx(0.0001)
    assert lr(0.025, 0.0001, 5000.0, 1000.0) == pytest.approx(0.0001)   # floored after the end
    values = [lr(0.05, 0.0, float(done), 100.0) for done in range(0, 101, 10)]
    assert np.allclose(np.diff(values), -0.005, atol=1e-6)              # linear in words processed


def test_kernels_that_take_arrays_compile_without_the_runtime():
    """No reference counting in the training loop (lmkit._jit.jit_kernel): a kernel moved back to ``jit``
    would still pass every other test, 30-60% slower."""
    for kernel in (kernels.add_hidden_terms, kernels.output_row, kernels.merge_private_rows, kernels.logistic_rows,
                   kernels.hs_path, kernels.update, kernels.in_group, kernels.cbow_group, kernels.train_sentences):
        assert kernel.targetoptions.get("_nrt") is False, kernel.py_func.__name__


def test_merge_private_rows_adds_the_change_and_refreshes():
    rng = np.random.default_rng(4)
    shared = rng.standard_normal((6, D)).astype(np.float32)
    base = shared[-3:] + rng.standard_normal((3, D)).astype(np.float32)   # shared moved since (another worker)
    private = base + rng.standard_normal((3, D)).astype(np.float32)       # this worker's own change
    expected = shared.copy()
    expected[-3:] += private - base
    kernels.merge_private_rows(shared, private, base, (0,) * D)
    np.testing.assert_allclose(shared, expected, rtol=1e-6, atol=1e-6)
    assert np.array_equal(private, shared[-3:]) and np.array_equal(base, shared[-3:])


@pytest.mark.parametrize("cbow", [False, True])
def test_private_top_rows_alone_equal_the_shared_rows(cbow):
    """One worker given private copies of syn1's top rows (as with several workers) trains what it
    trains on the shared rows, up to rounding: every top-row update lands in its copy and is merged
    back every MERGE_WORDS corpus words (here several times inside the chunk) and at the chunk's end."""
    sentences = SENTENCES * (3 * kernels.MERGE_WORDS // sum(map(len, SENTENCES)))
    ids = np.concatenate(sentences).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    assert len(ids) > 2 * kernels.MERGE_WORDS
    results = []
    for n_workers in (1, 2):
        arrays = _setup(True, 0, False)
        objective = Objective(cbow=cbow, cbow_mean=True, negative=0, window=3, batched=True, group=1)
        worker = Worker(0, seed_state(7), arrays, objective, max(len(s) for s in SENTENCES), n_workers)
        assert worker.scratch.top_rows.shape[0] == (0 if n_workers == 1 else min(kernels.SHARED_TOP_ROWS, V - 1))
        progress = np.zeros((1, kernels.ROW_WIDTH), np.int64)
        stats = np.zeros((1, kernels.ROW_WIDTH), np.float64)
        worker.run(arrays, ids, offsets, 0, len(sentences), objective, Schedule(0.05, 0.001, float(len(ids))),
                   progress, stats)
        results.append(arrays.weights)
    np.testing.assert_allclose(results[1].syn1, results[0].syn1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(results[1].syn0, results[0].syn0, rtol=1e-4, atol=1e-5)
    assert not np.allclose(results[0].syn1, _setup(True, 0, False).weights.syn1)   # it trained


def test_workers_draw_negatives_from_the_part_the_schedule_gives():
    """Skip-gram with two workers and the batched update has one alias table per part of the vocabulary
    (training.negative_tables), and worker k draws from part (k + done // NEGATIVE_PART_WORDS) mod 2, done
    being all workers' words so far (the progress rows' sum).  Training on a text of words 0-2 only, the
    other words' output rows that move are exactly the negatives drawn, so they lie in that part."""
    from lmkit.word2vec.sampling import table_probabilities
    from lmkit.word2vec.training import negative_tables

    targets = [0, 1, 2]
    ids = np.array(targets * 60, np.int32)
    offsets = np.arange(0, len(ids) + 1, 12, dtype=np.int64)
    objective = Objective(cbow=False, cbow_mean=True, negative=3, window=2, batched=True)
    one = _setup(False, 3, False).tables
    assert negative_tables(one, objective, 1) is one                                   # one worker: one table
    assert negative_tables(one, dataclasses.replace(objective, batched=False), 2) is one   # the C tool's update
    assert negative_tables(one, dataclasses.replace(objective, cbow=True, group=2), 2) is one   # CBOW
    two = negative_tables(one, objective, 2)
    parts = [table_probabilities(two.threshold[k], two.alias[k]) > 0 for k in range(2)]
    assert not (parts[0] & parts[1]).any() and (parts[0] | parts[1]).sum() == V
    step = kernels.NEGATIVE_PART_WORDS
    for tables, worker, others, part in [(two, 0, 0, parts[0]), (two, 1, 0, parts[1]), (two, 0, step, parts[1]),
                                         (two, 1, 3 * step, parts[0]), (one, 0, 0, None)]:
        arrays = _setup(False, 3, False)._replace(tables=tables)
        before = arrays.weights.syn1neg.copy()
        progress = np.zeros((2, kernels.ROW_WIDTH), np.int64)
        progress[1 - worker, kernels.PROGRESS_WORDS] = others           # the other worker's words so far
        Worker(worker, seed_state(5), arrays, objective, 12, 2).run(
            arrays, ids, offsets, 0, len(offsets) - 1, objective, Schedule(0.05, 0.001, float(len(ids))), progress,
            np.zeros((2, kernels.ROW_WIDTH), np.float64))
        moved = (arrays.weights.syn1neg != before).any(axis=1)
        moved[targets] = False
        if part is None:
            assert (moved & ~parts[0]).any() and (moved & ~parts[1]).any()               # drawn from all words
        else:
            assert moved.any() and not (moved & ~part).any()
