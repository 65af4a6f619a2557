"""The compiled word2vec training loop: CBOW and skip-gram, hierarchical softmax and negative sampling.

Structure (after fastText's ``model.cc`` / ``loss.cc``): the *model* builds
hidden vectors and the *loss* turns them into updates, so the four
architecture x loss combinations share one inner loop.

* A **hidden row** is an input vector ``h``: for skip-gram the input vector
  ``syn0[c]`` of one context word ``c``; for CBOW the sum or mean of the
  context vectors (``neu1``, built in a scratch buffer).
* An **output set** for the target word ``w`` is a list of output rows with
  binary labels: for hierarchical softmax the inner nodes on w's Huffman path
  (rows of ``syn1``, label ``1 - code``); for negative sampling ``w`` itself
  (label 1) and ``negative`` draws from the unigram^0.75 table, never ``w``
  (rows of ``syn1neg``, label 0).
* :func:`logistic_rows` is the one binary-logistic update: for each output
  row ``u`` and hidden row ``h``, ``f = h . u``, ``g = alpha * (label -
  sigma(f))``, ``grad_h += g * u`` and ``u += g * h``; the negative
  log-likelihood ``-log sigma(+-f)`` is accumulated as the loss.  Each output
  row is read once for all hidden rows and then updated once per hidden row.
  CBOW's Huffman paths (one hidden row, distinct nodes) take the same update
  software-pipelined, :func:`one_hidden_row`.

Skip-gram hands :func:`logistic_rows` its hidden rows one context at a time
(``batched=False``: the C tool's update, fresh negatives for each (context,
target) pair) or all contexts of a window at once (``batched=True``: one
shared set of negatives and one pass over the output rows per window, the
pSGNScc scheme of Ji et al. 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"; far fewer distinct output rows are touched, which is
where the time goes).  CBOW has one hidden row per target and trains
targets in groups (:func:`cbow_group`): groups of one are the C tool's update
(``batched=False``); with ``batched=True`` up to ``CBOW_GROUP`` consecutive
targets of a sentence share one set of negatives, the same saving.

sigma and the loss come from tables over ``[-MAX_EXP, MAX_EXP)`` like the C
tool's ``expTable`` (saturating to 0/1 outside, as fastText does).  The table
index is computed and range-checked as an integer, so a NaN dot product can
neither index out of bounds nor hide: it makes the loss NaN; the kernel stops
at the end of that sentence and the driver reports the word count there.

The vector size reaches the kernels as ``dims``, a tuple of ``d`` zeros whose
length is part of its numba type: ``d = len(dims)`` is then a compile-time
constant, so every row loop has a known trip count and compiles to whole
SIMD registers with no remainder loops (one compiled specialization per
vector size, cached on disk like the rest).  Measured: +25% words/s for
d = 100 over a run-time ``d``.  The architecture and the losses reach
:func:`train_sentences` the same way, as switches whose type (None or an
integer) selects the code compiled.

Every loop that writes one matrix while reading another goes through 1-d
row views (``out_row = row_view(out, row)``), not ``out[row, k]``: written on
the 2-d arrays (``syn0[c, k] += grad[g, k]``) it was left scalar by LLVM's
vectorizer; on the views it gets vector code behind a run-time overlap
check (plain zero fills may stay 2-d).  Measured on Brown x10, 1 thread:
CBOW-NS 1.04M -> 1.89M words/s, CBOW-HS 0.94M -> 1.42M.  The views come
from :func:`~lmkit.word2vec.rows.row_view`, not ``out[row]`` (no index wrap,
no reference), and the kernels are compiled without numba's runtime
(``jit_kernel``), so no array is reference-counted in the loop: together
+27% to +61% words/s over ``out[row]`` with the runtime (paired runs, 1 thread).

Draw order of the worker's RNG (the tests replay it): per sentence, one draw
for each token whose keep probability is below 1 (subsampling); then per kept
position ``i``, one draw for the reduced window ``b`` in ``[0, window)``; then
the negatives, in the order the outputs are processed, redrawing any draw
equal to the target.  CBOW draws its negatives when a group is trained: just
after the window draw of the position that finds the group full (or holding
its target already), or at the end of the sentence.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lmkit._jit import jit, jit_finite, jit_inline, jit_kernel
from lmkit.word2vec.prefetch import prefetch_row
from lmkit.word2vec.rows import row_view
from lmkit.word2vec.sampling import draw_alias, next_random, uniform_float, uniform_index

MAX_EXP = 6.0          # sigma is saturated outside [-MAX_EXP, MAX_EXP], as in the C tool
TABLE_SIZE = 1000      # the C tool's EXP_TABLE_SIZE
_SCALE = np.float32(TABLE_SIZE / (2.0 * MAX_EXP))
_MAX_EXP32 = np.float32(MAX_EXP)

# Layout of the per-worker rows of the shared `progress` (int64) and `stats` (float64) arrays;
# one 64-byte row per worker so workers never write to the same cache line.
PROGRESS_WORDS = 0     # raw words this worker has processed since training started
STATS_LOSS, STATS_EXAMPLES, STATS_EFFECTIVE, STATS_RAW = 0, 1, 2, 3
ROW_WIDTH = 8

# Huffman-path rows prefetched from this depth on: the top levels are hot in every core's cache and
# written by every update, so a write-intent prefetch there only pulls lines away from the other
# thread; deeper rows are the cold ones (measured: CBOW-HS +25% / +45% words/s with 1 / 2 threads).
HS_PREFETCH_FROM = 4
CBOW_GROUP = 4  # targets sharing one set of negatives in batched CBOW (BENCHMARKS.md: speed and quality)
# With several workers, each keeps its own copy of the Huffman tree's top SHARED_TOP_ROWS inner nodes
# (the rows with the highest ids: a node's parent always has a higher id than the node) and adds what
# it learned to the shared rows every MERGE_WORDS corpus words and at the end of a chunk
# (merge_private_rows); in between it does not see the other workers' changes to those rows.  Every
# path starts at these nodes, so both threads wrote them on every target and their cache lines went
# back and forth between the cores.  Measured, SG-HS on Brown x10: 0.83M words/s with 1 thread, 0.82M
# with 2 on shared rows, 1.66M with a whole private syn1 per thread; top 64 rows merged every
# sentence 1.15M, 256 every 8: 1.48-1.52M, 128 every 8: 1.37M, 512 or 256 every 16: 1.31-1.33M.
# Quality (Brown train, 5 epochs, 2 threads, 3 seeds): analogy 0.0246 -> 0.0267, WordSim 0.357 -> 0.344.
# Merging by words, not sentences, keeps the merges' cost per word the same whatever the sentence length:
# every 8 sentences (~160 Brown words) -> every 1,024 words, 2 threads: CBOW-HS 4.80-4.93M -> 5.22-5.39M
# words/s, SG-HS 2.20-2.27M -> 2.31-2.37M (2,048 or 4,096 no faster; BENCHMARKS.md, 2026-12-04).
# One worker keeps no copy.
SHARED_TOP_ROWS = 256
MERGE_WORDS = 1024
# Skip-gram with several workers and the batched update draws its negatives from P alias tables, one per
# part of the vocabulary (``training.negative_tables``; P = the number of workers): worker k draws a
# sentence's negatives from part (k + done // NEGATIVE_PART_WORDS) mod P, ``done`` being the corpus words
# all workers have trained (the schedule's count).  At any moment the workers draw from different parts, so
# a frequent word's output row is written as a negative by one worker at a time, and every worker's windows
# draw from every part in turn, each for 1/P of its words: over a stretch of text, the negatives' expected
# gradient is the one table's.  Parts owned for good by one worker each (tried first) lost quality (CBOW-NS
# WordSim 0.22 -> 0.14, two threads): the words of a chunk of text then met half the vocabulary only.
NEGATIVE_PART_WORDS = 16384


class Weights(NamedTuple):
    """The model's arrays, which the kernels update in place (float32, C order)."""

    syn0: np.ndarray     # [V, d] input vectors (the word vectors)
    syn1: np.ndarray     # [V - 1, d] hierarchical-softmax inner nodes, or [0, d] without HS
    syn1neg: np.ndarray  # [V, d] negative-sampling output rows, or [0, d] without NS


class Tables(NamedTuple):
    """What the objective reads and never writes."""

    codes: np.ndarray         # uint8[V, L] Huffman codes (L = 0 without HS)
    points: np.ndarray        # int32[V, L] Huffman inner nodes
    code_lengths: np.ndarray  # int32[V]
    threshold: np.ndarray     # int64[P, V] alias tables of the unigram^ns_exponent distribution: P = 1, or
    alias: np.ndarray         # int32[P, V]  one per part of the vocabulary (NEGATIVE_PART_WORDS)
    keep: np.ndarray          # float32[V] subsampling keep probabilities
    sigmoid: np.ndarray       # float32[TABLE_SIZE]
    nll: np.ndarray           # float32[TABLE_SIZE]


def no_tree(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, points, code_lengths)`` of a run without hierarchical softmax: ``n`` words with empty codes,
    in the dtypes the kernel is compiled for (the one place they are spelled for placeholders)."""
    return np.zeros((n, 0), np.uint8), np.zeros((n, 0), np.int32), np.zeros(n, np.int32)


def no_sampler() -> tuple[np.ndarray, np.ndarray]:
    """``(threshold, alias)`` of a run without negative sampling: a one-entry alias table, never read."""
    return np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int32)


class Settings(NamedTuple):
    """The objective's options and the learning-rate schedule (scalars)."""

    cbow_mean: bool
    negative: int
    window: int
    batched: bool
    group: int              # CBOW targets trained together (1: the C tool's update)
    alpha0: np.float32
    min_alpha: np.float32
    total_words: float      # epochs * n_tokens: the linear schedule's length


class Scratch(NamedTuple):
    """One worker's RNG state and buffers, allocated once and reused by every chunk."""

    rng: np.ndarray            # uint64[1], advanced in place
    sentence: np.ndarray       # int32[max sentence length]: the subsampled sentence
    contexts: np.ndarray       # int32[2 window]
    out_rows: np.ndarray       # int32[max(code length, negative + 1)]
    labels: np.ndarray         # float32[same]
    grad: np.ndarray           # float32[max(2 window, G), d]: dL/dh of each hidden row (times -alpha)
    gains: np.ndarray          # float32[2 x same rows]: two output rows' gains (logistic_rows)
    group_contexts: np.ndarray  # int32[G, 2 window]: CBOW group (see cbow_group)
    group_sizes: np.ndarray    # int32[G]
    group_targets: np.ndarray  # int32[G]
    hidden_rows: np.ndarray    # int32[G], holds 0 .. G-1
    neu1: np.ndarray           # float32[G, d]: the group's hidden rows
    top_rows: np.ndarray       # float32[K, d]: this worker's copy of syn1's last K rows (K = 0: none)
    top_base: np.ndarray       # float32[K, d]: those rows as they were at the last merge


def logistic_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(sigmoid, nll)``, float32[TABLE_SIZE], at the bucket centres ``x_i``.

    ``sigmoid[i] = 1 / (1 + exp(-x_i))`` and ``nll[i] = -log sigmoid(x_i) =
    log(1 + exp(-x_i))`` with ``x_i = ((i + 0.5) / TABLE_SIZE * 2 - 1) * MAX_EXP``.
    """
    x = ((np.arange(TABLE_SIZE) + 0.5) / TABLE_SIZE * 2.0 - 1.0) * MAX_EXP
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32), np.log1p(np.exp(-x)).astype(np.float32)


@jit
def logistic(f, label, sigmoid, nll) -> tuple:
    """``(sigma(f), -log p(label | f))`` from the tables; label is 1.0 or 0.0.

    Uses ``-log(1 - sigma(f)) = f - log sigma(f)`` so one table serves both labels.
    Outside the table: sigma is 0 or 1 and the loss is linear (0 or |f|).
    """
    index = np.int64((f + _MAX_EXP32) * _SCALE)  # NaN or huge |f| -> out of range, handled below
    if index >= TABLE_SIZE:
        s = np.float32(1.0)
        minus_log_s = np.float32(0.0)
    elif index < 0:
        s = np.float32(0.0)
        minus_log_s = -f
    else:
        s = sigmoid[index]
        minus_log_s = nll[index]
    if label > np.float32(0.5):
        return s, minus_log_s
    return s, minus_log_s + f


@jit_finite
def is_finite(x) -> bool:
    """Whether ``x`` is neither NaN nor infinite (compiled without fastmath's no-NaN assumption)."""
    return x - x == 0.0


@jit
def learning_rate(alpha, min_alpha, done, total):
    """Linear decay ``alpha - (alpha - min_alpha) * done / total``, floored at ``min_alpha``."""
    progress = min(done / max(total, 1.0), 1.0)
    return np.float32(alpha - (alpha - min_alpha) * progress)


@jit_inline
def add_to_row(matrix, row, source, dims) -> None:
    """``matrix[row] += source`` (float32 rows of ``d = len(dims)``): an input vector taking the error
    its context position accumulated in ``scratch.grad``."""
    target = row_view(matrix, row)
    for k in range(len(dims)):
        target[k] += source[k]


@jit_inline
def add_hidden_terms(out_row, hidden, hidden_rows, first, n_hidden, gains, gains_first, dims) -> None:
    """``out_row += sum_i gains[gains_first + i] * hidden[hidden_rows[first + i]]`` for i < n_hidden.

    Two hidden rows per pass over ``out_row`` (float32[d]): half its read-modify-writes (paired
    runs, 1 thread: SG-HS +7%, SG-NS +11%; four per pass lost 21% on CBOW-NS's groups).
    """
    d = len(dims)
    i = 0
    while i + 1 < n_hidden:                  # two hidden rows per pass: half the read-modify-writes of u
        g0, g1 = gains[gains_first + i], gains[gains_first + i + 1]
        row0 = row_view(hidden, hidden_rows[first + i])
        row1 = row_view(hidden, hidden_rows[first + i + 1])
        for k in range(d):
            out_row[k] += g0 * row0[k] + g1 * row1[k]
        i += 2
    if i < n_hidden:
        g = gains[gains_first + i]
        if g != 0.0:
            hidden_row = row_view(hidden, hidden_rows[first + i])
            for k in range(d):
                out_row[k] += g * hidden_row[k]


@jit_inline
def add_gain_terms(grad_row, out_row, hidden_row, g, dims) -> None:
    """``grad_row += g * out_row`` with the old ``out_row``, then ``out_row += g * hidden_row``, in one pass
    (float32[d] each): one hidden row's update against one output row."""
    for k in range(len(dims)):
        u = out_row[k]
        grad_row[k] += g * u
        out_row[k] = u + g * hidden_row[k]


@jit_inline
def gain(hidden_row, out_row, label, alpha, sigmoid, nll, dims) -> tuple:
    """``(g, -log p(label))`` of one hidden row against one output row (float32[d] each):
    ``g = alpha * (label - sigma(h . u))``, the factor of both rows' updates."""
    f = np.float32(0.0)
    for k in range(len(dims)):
        f += hidden_row[k] * out_row[k]
    s, nll_value = logistic(f, label, sigmoid, nll)
    return (label - s) * alpha, nll_value


@jit_inline
def add_hidden_terms_pair(out_row, out_row1, hidden, hidden_rows, first, n_hidden, gains, dims) -> None:
    """:func:`add_hidden_terms` for two output rows at once, ``out_row`` with ``gains[:n_hidden]`` and
    ``out_row1`` with ``gains[n_hidden:2 n_hidden]``: each pass reads its two hidden rows once for both
    (the same operations on each row, vectors bit-identical; paired runs, 1 thread: SG-HS +5%, SG-NS +4%,
    CBOW-NS +0-6%)."""
    d = len(dims)
    i = 0
    while i + 1 < n_hidden:
        g0, g1 = gains[i], gains[i + 1]
        h0, h1 = gains[n_hidden + i], gains[n_hidden + i + 1]
        row0 = row_view(hidden, hidden_rows[first + i])
        row1 = row_view(hidden, hidden_rows[first + i + 1])
        for k in range(d):
            a = row0[k]
            b = row1[k]
            out_row[k] += g0 * a + g1 * b
            out_row1[k] += h0 * a + h1 * b
        i += 2
    if i < n_hidden:
        add_hidden_terms(out_row, hidden, hidden_rows, first + i, 1, gains, i, dims)
        add_hidden_terms(out_row1, hidden, hidden_rows, first + i, 1, gains, n_hidden + i, dims)


@jit_inline
def output_row(out, private, row):
    """Row ``row`` of ``out``, or for ``row < 0`` row ``-1 - row`` of the worker's ``private`` rows."""
    if row >= 0:
        return row_view(out, row)
    return row_view(private, -1 - row)


@jit_inline
def one_hidden_row(hidden, hidden_rows, first, out, private, out_rows, labels, n_out, alpha, grad, sigmoid, nll,
                   dims) -> float:
    """:func:`logistic_rows` for one hidden row ``h`` and distinct output rows (a Huffman path), software
    pipelined: for each output row ``u`` in order, ``f = h . u`` (computed the pass before), then one
    pass that adds ``g u`` (the old ``u``) to ``grad``, ``g h`` to ``u`` and computes the next row's
    ``f``, which this row's update does not change.  The same update as :func:`logistic_rows`, one pass
    over the path fewer per node; the dot products' vector lanes are summed in another order.  For
    CBOW-HS (paired runs, 1 thread: +13-18%; BENCHMARKS.md, 2026-12-04 20:13)."""
    d = len(dims)
    hidden_row = row_view(hidden, hidden_rows[first])
    grad_row = row_view(grad, first)
    out_row = output_row(out, private, out_rows[0])
    f = np.float32(0.0)
    for k in range(d):
        f += hidden_row[k] * out_row[k]
    loss = 0.0
    for j in range(n_out):
        s, nll_value = logistic(f, labels[j], sigmoid, nll)
        loss += nll_value
        g = (labels[j] - s) * alpha
        if j + 1 == n_out:   # the last row: its update alone
            if g != 0.0:
                add_gain_terms(grad_row, out_row, hidden_row, g, dims)
            break
        next_row = output_row(out, private, out_rows[j + 1])
        f = np.float32(0.0)
        if g != 0.0:
            for k in range(d):
                u = out_row[k]
                f += hidden_row[k] * next_row[k]
                grad_row[k] += g * u
                out_row[k] = u + g * hidden_row[k]
        else:
            for k in range(d):
                f += hidden_row[k] * next_row[k]
        out_row = next_row
    return loss


@jit_kernel
def logistic_rows(hidden, hidden_rows, first, n_hidden, out, private, out_rows, labels, n_out, alpha,
                  grad, gains, sigmoid, nll, dims) -> float:
    """The binary-logistic update of ``n_hidden`` hidden rows against ``n_out`` output rows.

    hidden: float32[*, d], rows ``hidden_rows[first:first + n_hidden]`` (int32)
    out: float32[*, d] (syn1 or syn1neg), rows ``out_rows[:n_out]`` with ``labels[:n_out]``; a row
    ``r < 0`` is row ``-1 - r`` of ``private`` (float32[K, d], the worker's top rows of syn1)
    grad: float32[>= first + n_hidden, d]: ``grad[first + i]`` accumulates ``dL/dh`` (times -alpha)
    of hidden row ``i``
    gains: float32[>= 2 n_hidden] scratch; dims: tuple of d zeros (d = len(dims), see above).
    Returns the summed negative log-likelihood.  The innermost call, once per window or target:
    it takes the arrays it uses one by one rather than the records, whose every array would be
    passed along on each call.  Callers pass ``first``, ``n_out`` and ``n_hidden`` as int64
    (``np.int64(...)``, not a literal or an int32), so a kernel compiles it once (CBOW-NS's positive
    took the int64 signature at 0.999x in 16 paired rounds, and its kernel compiles in 8.0 s instead
    of 10.9; CBOW's Huffman paths, which had a literal 1 of their own, now take :func:`one_hidden_row`).
    Seven signatures had become three (SG-NS's cold compile 16.7 -> 9.6 s, CBOW-HS 21.7 -> 11.8 s); the
    third, ``n_hidden`` a literal 0 (from an ``update`` call site under numba's inlining, gone once
    skip-gram's and the CBOW group's counts were int64), cost another 19.7 -> 16.1 s (the whole kernel,
    vector size 100).

    For each output row ``u`` in order: all ``f_i = h_i . u`` and ``grad_i += g_i u``
    with the old ``u``, then ``u += sum_i g_i h_i`` (:func:`add_hidden_terms`).
    With one hidden row this is exactly the C tool's per-pair update, and both
    updates of ``u``'s row share one pass (``grad += g u`` with the old ``u``,
    then ``u += g h``, element by element: the same operations, weights
    bit-identical; paired runs, 1 thread: CBOW-HS +4%, CBOW-NS +12%; CBOW's
    Huffman paths now take :func:`one_hidden_row`, which also computes the next
    row's dot product in that pass).  Terms with ``g_i == 0`` (sigma saturated
    on the side of the label) are skipped where it is one row's term: adding
    zero changes nothing.

    With several hidden rows (skip-gram's window), two consecutive output rows
    that differ share one pass over the hidden rows: each ``h_i`` is read once
    for both dot products and ``grad_i`` is written once for both.  Neither
    row's update changes the other's dot products (the hidden rows change only
    after the call), so this is the sequential update (measured: trained vectors bit-identical).
    Measured (paired runs, 1 thread): SG-HS +10-13%, SG-NS +17%; CBOW's single
    hidden row is faster without it (-3%).  Within a pair, ``grad_{i-1}`` is
    written in the pass that computes ``h_i``'s dot products (one pass over the
    two rows fewer per hidden row: SG-HS +5%, SG-NS +4%, CBOW-NS's groups
    unchanged).  The same operations, but LLVM then sums the dot products'
    vector lanes in another order: trained vectors differ in their last bits,
    the quality protocol's scores do not (BENCHMARKS.md, 2026-12-04 19:52).
    """
    d = len(dims)
    loss = 0.0
    j = 0
    while j < n_out:
        out_row = output_row(out, private, out_rows[j])
        label = labels[j]
        if n_hidden > 1 and j + 1 < n_out and out_rows[j + 1] != out_rows[j]:  # a pair (docstring)
            out_row1 = output_row(out, private, out_rows[j + 1])
            label1 = labels[j + 1]
            g = np.float32(0.0)
            g1 = np.float32(0.0)
            for i in range(n_hidden):
                hidden_row = row_view(hidden, hidden_rows[first + i])
                f = np.float32(0.0)
                f1 = np.float32(0.0)
                if i == 0:
                    for k in range(d):
                        f += hidden_row[k] * out_row[k]
                        f1 += hidden_row[k] * out_row1[k]
                else:   # the previous hidden row's gradient in the same pass
                    grad_row = row_view(grad, first + i - 1)
                    for k in range(d):
                        u0 = out_row[k]
                        u1 = out_row1[k]
                        f += hidden_row[k] * u0
                        f1 += hidden_row[k] * u1
                        grad_row[k] += g * u0 + g1 * u1
                s, nll_value = logistic(f, label, sigmoid, nll)
                s1, nll_value1 = logistic(f1, label1, sigmoid, nll)
                loss += nll_value
                loss += nll_value1
                g = (label - s) * alpha
                g1 = (label1 - s1) * alpha
                gains[i] = g
                gains[n_hidden + i] = g1
            grad_row = row_view(grad, first + n_hidden - 1)
            for k in range(d):
                grad_row[k] += g * out_row[k] + g1 * out_row1[k]
            add_hidden_terms_pair(out_row, out_row1, hidden, hidden_rows, first, n_hidden, gains, dims)
            j += 2
            continue
        if n_hidden == 1:   # both updates in one pass (docstring)
            hidden_row = row_view(hidden, hidden_rows[first])
            g, nll_value = gain(hidden_row, out_row, label, alpha, sigmoid, nll, dims)
            loss += nll_value
            if g != 0.0:
                add_gain_terms(row_view(grad, first), out_row, hidden_row, g, dims)
            j += 1
            continue
        for i in range(n_hidden):
            hidden_row = row_view(hidden, hidden_rows[first + i])
            g, nll_value = gain(hidden_row, out_row, label, alpha, sigmoid, nll, dims)
            loss += nll_value
            gains[i] = g
            if g != 0.0:                     # saturated on the right side: nothing to add
                grad_row = row_view(grad, first + i)
                for k in range(d):
                    grad_row[k] += g * out_row[k]
        add_hidden_terms(out_row, hidden, hidden_rows, first, n_hidden, gains, 0, dims)
        j += 1
    return loss


@jit_inline
def hs_outputs(target, syn1, tables, scratch) -> int:
    """Put ``target``'s Huffman path into ``scratch.out_rows`` / ``scratch.labels`` (see :func:`hs_path`) and
    prefetch its rows below the top levels; returns the path's length."""
    length = tables.code_lengths[target]
    top_first = syn1.shape[0] - scratch.top_rows.shape[0]
    for j in range(length):
        node = tables.points[target, j]
        scratch.out_rows[j] = node if node < top_first else -1 - (node - top_first)
        scratch.labels[j] = np.float32(1.0) - np.float32(tables.codes[target, j])
        if j >= HS_PREFETCH_FROM and node < top_first:
            prefetch_row(syn1, node)
    return length


@jit_inline
def hs_path(hidden, hidden_rows, first, n_hidden, target, syn1, alpha, tables, scratch, dims) -> float:
    """Hierarchical softmax: train the hidden rows on ``target``'s Huffman path.

    The path's inner nodes (rows of ``syn1``) go into ``scratch.out_rows`` with
    labels ``1 - code``; rows below the top ``HS_PREFETCH_FROM`` levels are
    prefetched first.  A node among the worker's private top rows (``SHARED_TOP_ROWS``) is
    written as ``-1 - t`` for its row ``t`` there, and not prefetched.  Then
    :func:`logistic_rows`; returns its loss.
    """
    length = hs_outputs(target, syn1, tables, scratch)
    return logistic_rows(hidden, hidden_rows, np.int64(first), n_hidden, syn1, scratch.top_rows, scratch.out_rows,
                         scratch.labels, np.int64(length), alpha, scratch.grad, scratch.gains, tables.sigmoid,
                         tables.nll, dims)


@jit_inline
def update(hidden, hidden_rows, first, n_hidden, target, weights, tables, sampler, negative, alpha, state, scratch,
           hs, ns, dims) -> tuple:
    """Predict ``target`` from the hidden rows with HS (``hs``) and/or NS (``ns``, ``negative`` draws).

    ``hs`` and ``ns``: 0 (on) or None (off), see :func:`train_sentences`.  ``sampler``: the alias table
    ``(threshold, alias)`` of this sentence's negatives (int64[V], int32[V]).  Zeroes and fills
    ``scratch.grad[first:first + n_hidden]``.  Returns ``(state, loss)``.
    """
    d = len(dims)
    for i in range(first, first + n_hidden):
        for k in range(d):
            scratch.grad[i, k] = 0.0
    loss = 0.0
    if hs is not None:
        loss += hs_path(hidden, hidden_rows, first, n_hidden, target, weights.syn1, alpha, tables, scratch, dims)
    if ns is not None:
        scratch.out_rows[0] = target
        scratch.labels[0] = 1.0
        for j in range(1, negative + 1):
            drawn = target
            while drawn == target:
                state, drawn = draw_alias(state, sampler[0], sampler[1])
            scratch.out_rows[j] = drawn
            scratch.labels[j] = 0.0
            prefetch_row(weights.syn1neg, drawn)   # all rows requested before the first is used
        loss += logistic_rows(hidden, hidden_rows, np.int64(first), n_hidden, weights.syn1neg, scratch.top_rows,
                              scratch.out_rows, scratch.labels, negative + 1, alpha, scratch.grad, scratch.gains,
                              tables.sigmoid, tables.nll, dims)
    return state, loss


@jit_kernel
def in_group(word, targets, n) -> bool:
    """Whether ``word`` is one of ``targets[:n]``."""
    for g in range(n):
        if targets[g] == word:
            return True
    return False


@jit_inline
def cbow_group(weights, tables, sampler, n_group, cbow_mean, negative, alpha, state, scratch, hs, ns, dims) -> tuple:
    """The CBOW update of ``n_group`` consecutive targets of a sentence.  Returns ``(state, loss)``.

    Target ``g`` is ``scratch.group_targets[g]`` with context words
    ``scratch.group_contexts[g, :scratch.group_sizes[g]]``; its hidden row
    ``scratch.neu1[g]`` is their sum (or mean).  Each target is trained
    on its own outputs -- its Huffman path (HS) and itself as the NS positive --
    and then all targets of the group share one set of ``negative`` negatives,
    each redrawn while it equals any target of the group (a group's targets
    are distinct and fewer than the words that ``sampler``, the alias table
    ``(threshold, alias)``, can draw, so a draw can always succeed).  Finally
    every context row gets its target's error (the C tool adds it unscaled,
    also for the mean).

    With ``n_group == 1`` this is exactly the C tool's CBOW update; a group
    of several is the batched update: one set of negative rows fetched and
    updated per group instead of per target (the output-row fetches are
    where the time goes; Ji et al. 2016 share negatives the same way).
    ``hs`` and ``ns``: the losses, 0 (on) or None (off) (:func:`train_sentences`).
    """
    d = len(dims)
    syn0, syn1, syn1neg = weights.syn0, weights.syn1, weights.syn1neg
    contexts, sizes, targets = scratch.group_contexts, scratch.group_sizes, scratch.group_targets
    neu1, grad, hidden_rows = scratch.neu1, scratch.grad, scratch.hidden_rows
    for g in range(n_group):
        hidden_row = row_view(neu1, g)
        first_row = row_view(syn0, contexts[g, 0])   # a target joins a group with at least one context word
        for k in range(d):
            hidden_row[k] = first_row[k]
            grad[g, k] = 0.0
        last = sizes[g] - 1 if cbow_mean else sizes[g]
        for c in range(1, last):
            context_row = row_view(syn0, contexts[g, c])
            for k in range(d):
                hidden_row[k] += context_row[k]
        if cbow_mean and last > 0:   # the last context row and the mean in one pass (of one row: itself)
            inverse = np.float32(1.0) / np.float32(sizes[g])
            context_row = row_view(syn0, contexts[g, last])
            for k in range(d):
                hidden_row[k] = (hidden_row[k] + context_row[k]) * inverse
    loss = 0.0
    for g in range(n_group):
        target = targets[g]
        if hs is not None:   # one hidden row: the pipelined update (one_hidden_row)
            length = hs_outputs(target, syn1, tables, scratch)
            loss += one_hidden_row(neu1, hidden_rows, g, syn1, scratch.top_rows, scratch.out_rows, scratch.labels,
                                   length, alpha, grad, tables.sigmoid, tables.nll, dims)
        if ns is not None:
            scratch.out_rows[0] = target
            scratch.labels[0] = 1.0
            loss += logistic_rows(neu1, hidden_rows, np.int64(g), np.int64(1), syn1neg, scratch.top_rows,
                                  scratch.out_rows, scratch.labels, np.int64(1), alpha, grad, scratch.gains,
                                  tables.sigmoid, tables.nll, dims)
    if ns is not None:
        for j in range(negative):
            drawn = targets[0]
            while in_group(drawn, targets, n_group):
                state, drawn = draw_alias(state, sampler[0], sampler[1])
            scratch.out_rows[j] = drawn
            scratch.labels[j] = 0.0
            prefetch_row(syn1neg, drawn)
        loss += logistic_rows(neu1, hidden_rows, np.int64(0), np.int64(n_group), syn1neg, scratch.top_rows,
                              scratch.out_rows, scratch.labels, negative, alpha, grad, scratch.gains, tables.sigmoid,
                              tables.nll, dims)
    for g in range(n_group):
        grad_row = row_view(grad, g)
        for c in range(sizes[g]):
            add_to_row(syn0, contexts[g, c], grad_row, dims)
    return state, loss


@jit_kernel
def merge_private_rows(shared, private, base, dims) -> None:
    """Add the worker's private top rows' change since the last merge to the shared rows, then copy them back.

    shared: float32[n, d] (syn1); private, base: float32[K, d] mirror ``shared[n - K:]``.  Afterwards
    ``private`` and ``base`` hold the shared rows, so the worker sees the other workers' merges too.
    """
    d = len(dims)
    first = shared.shape[0] - private.shape[0]
    for t in range(private.shape[0]):
        shared_row, private_row, base_row = row_view(shared, first + t), row_view(private, t), row_view(base, t)
        for k in range(d):
            shared_row[k] += private_row[k] - base_row[k]
        for k in range(d):
            private_row[k] = shared_row[k]
            base_row[k] = shared_row[k]


@jit_kernel
def train_sentences(ids, id_base, offsets, first_sentence, end_sentence, weights, tables, settings,
                    progress, stats, worker, scratch, dims, cbow, hs, ns) -> None:
    """Train on sentences ``[first_sentence, end_sentence)`` of ``(ids, offsets)``.

    ids: int32[>= the chunk's tokens] holds tokens ``id_base ...`` of the corpus (the whole
    corpus with id_base 0, or one chunk read into a buffer); offsets: int64[n_sentences + 1]
    weights (:class:`Weights`), tables (:class:`Tables`), settings (:class:`Settings`),
    scratch (:class:`Scratch`, this worker's); progress: int64[workers, 8], stats:
    float64[workers, 8] (row ``worker`` is ours).
    dims: a tuple of d zeros, making d a compile-time constant (module docstring).
    cbow, hs, ns: CBOW (else skip-gram), hierarchical softmax, negative sampling: each 0 if on, None if
    off (``lmkit.word2vec.training.switches``).  Being None or not is part of their numba types, so
    each combination is a compiled specialization of its own, and numba drops the branches under a
    switch that is off (``if hs is not None``) before typing them: a first run compiles only the
    code it runs (SG-NS 15.7 -> 6.6 s, BENCHMARKS.md).

    The learning rate is recomputed before each sentence from the words all
    workers have processed (the sum over ``progress``), one schedule for all;
    so is the part of the vocabulary whose alias table gives the sentence's
    negatives (``NEGATIVE_PART_WORDS``; with one table, always that one).
    """
    syn0 = weights.syn0
    keep = tables.keep
    sentence, contexts, grad = scratch.sentence, scratch.contexts, scratch.grad
    group_contexts, group_sizes, group_targets = scratch.group_contexts, scratch.group_sizes, scratch.group_targets
    window, negative, group = settings.window, settings.negative, settings.group
    state = scratch.rng[0]
    loss = 0.0
    examples = 0
    effective = 0
    raw = 0
    n_workers = progress.shape[0]
    n_parts = tables.threshold.shape[0]
    private_rows = scratch.top_rows.shape[0] > 0
    unmerged = MERGE_WORDS   # corpus words since the last merge: the chunk's first sentence starts with one
    for s in range(first_sentence, end_sentence):
        if hs is not None:
            if private_rows and unmerged >= MERGE_WORDS:   # see SHARED_TOP_ROWS
                merge_private_rows(weights.syn1, scratch.top_rows, scratch.top_base, dims)
                unmerged = 0
        start = offsets[s]
        end = offsets[s + 1]
        done = 0.0
        for w in range(n_workers):
            done += progress[w, PROGRESS_WORDS]
        alpha = learning_rate(settings.alpha0, settings.min_alpha, done, settings.total_words)
        part = (worker + np.int64(done) // NEGATIVE_PART_WORDS) % n_parts
        sampler = (row_view(tables.threshold, part), row_view(tables.alias, part))
        n = 0
        n_group = 0
        for t in range(start, end):                       # subsample into the scratch sentence
            word = ids[t - id_base]
            if keep[word] < np.float32(1.0):
                state, r = next_random(state)
                if uniform_float(r) >= keep[word]:
                    continue
            sentence[n] = word
            n += 1
        for i in range(n + 1):   # i == n: the sentence's end, where CBOW trains its last group
            m = 0
            if i < n:
                if i + window + 1 < n:                        # the input row entering the next windows
                    prefetch_row(syn0, sentence[i + window + 1])
                if ns is not None:
                    if i + 1 < n:                             # the next target's output row
                        prefetch_row(weights.syn1neg, sentence[i + 1])
                state, r = next_random(state)
                reach = window - uniform_index(r, window)     # the C tool's reduced window: window - b
                lo = max(0, i - reach)
                hi = min(n, i + reach + 1)
                for j in range(lo, hi):
                    if j != i:
                        contexts[m] = sentence[j]
                        m += 1
                if m == 0:
                    continue
            if cbow is not None:   # the target joins the group, trained first if it is full or holds the target
                if i < n:
                    train_group = n_group == group or in_group(sentence[i], group_targets, n_group)
                else:
                    train_group = n_group > 0
                if train_group:
                    state, value = cbow_group(weights, tables, sampler, n_group, settings.cbow_mean, negative, alpha,
                                              state, scratch, hs, ns, dims)
                    loss += value
                    examples += n_group
                    n_group = 0
                if i < n:
                    for c in range(m):
                        group_contexts[n_group, c] = contexts[c]
                    group_sizes[n_group] = m
                    group_targets[n_group] = sentence[i]
                    n_group += 1
            elif i < n:   # skip-gram, batched: one update of all m context rows; else m updates of one row each
                for c in range(1 if settings.batched else m):
                    first = 0 if settings.batched else c
                    n_hidden = m if settings.batched else 1
                    state, value = update(syn0, contexts, np.int64(first), np.int64(n_hidden), sentence[i], weights,
                                          tables, sampler, negative, alpha, state, scratch, hs, ns, dims)
                    loss += value
                    for h in range(first, first + n_hidden):
                        add_to_row(syn0, contexts[h], row_view(grad, h), dims)
                examples += m
        effective += n
        raw += end - start
        unmerged += end - start
        progress[worker, PROGRESS_WORDS] += end - start
        if not is_finite(loss):  # diverged: stop here, so the driver can say where
            break
    if hs is not None:
        if private_rows:
            merge_private_rows(weights.syn1, scratch.top_rows, scratch.top_base, dims)
    scratch.rng[0] = state
    stats[worker, STATS_LOSS] += loss
    stats[worker, STATS_EXAMPLES] += examples
    stats[worker, STATS_EFFECTIVE] += effective
    stats[worker, STATS_RAW] += raw

