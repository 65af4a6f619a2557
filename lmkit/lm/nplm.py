"""The neural probabilistic language model of Bengio, Ducharme, Vincent & Jauvin (2003).

"A Neural Probabilistic Language Model", JMLR 3:1137-1155, eq. (1)::

    x = (C[w_{t-n+1}], ..., C[w_{t-1}])            feature vectors, (B, k*m), k = n - 1
    a = act(BN(d + H x))                            hidden layer, (B, h)   (h = 0: none)
    y = b + W x + U a                               logits, (B, V)         (W: "direct")
    p(w_t | context) = softmax(y)[w_t]

``C: float32[V + 1, m]`` (row ``V`` is the padding symbol, see
:mod:`lmkit.lm.examples`), ``H: [h, k*m]``, ``d: [h]``, ``U: [V, h]``,
``W: [V, k*m]``, ``b: [V]``.  ``U`` and ``W`` are kept side by side in one
output matrix ``O = [U | W]: [V, h + k*m]`` fed ``z = [a | x]``, so the
output layer -- nearly all the work -- is one BLAS product each way.
Dropout (optional) acts on ``x`` and on ``a``; batch normalization
(optional) on the hidden pre-activation.

Float32 models use the numba kernels of :mod:`lmkit.lm.kernels`; float64
models (gradient checks) use the plain-numpy losses of :mod:`lmkit.nn`.
Training lives in :mod:`lmkit.lm.train`; its cheaper sampled-softmax objective
in :mod:`lmkit.lm.sampled` (and :meth:`NPLM.forward_backward_sampled`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path

import numpy as np

from lmkit.lm.config import NPLMConfig  # noqa: F401  (lmkit.lm.nplm.NPLMConfig stays where users import it)
from lmkit.threads import blas_threads, even_bounds, run_parts, single_threaded_blas
from lmkit.nn.activations import get_activation, recommended_init
from lmkit.nn.batchnorm import BatchNorm
from lmkit.nn.dropout import Dropout
from lmkit.nn.init import init_weights
from lmkit.nn.layers import ActivationLayer, BatchNormLayer, Dense, Sequential
from lmkit.nn.losses import log_softmax

logger = logging.getLogger(__name__)

MODEL_VERSION = 1
EVAL_ELEMENTS = 1 << 25  # logits scored at once (128 MB of float32): big batches keep BLAS efficient
# Floats of one thread's column tile of the logits when scoring (NPLM._score_rows): 8 MB, read back by the
# log-sum-exp right after the product wrote it, where whole rows (~67 MB a thread) went out and came back.
# Measured (2 threads, 50,000 Brown predictions, V = 17,905; predictions/s over whole rows, MLP1 / MLP9 /
# repro): 1 MB 0.94 / 1.08 / 0.97, 2 MB 0.98 / 1.10 / 1.07, 4 MB 1.08 / 1.17 / 1.09, 8 MB 1.10 / 1.23 / 1.14,
# 16 MB 1.09 / 1.21 / 1.10.
SCORE_TILE_FLOATS = 1 << 21


class NPLM:
    """Bengio et al.'s neural language model (see the module docstring).

    Build with :meth:`build` (random weights for a vocabulary), train with
    :meth:`fit`, or :meth:`load` a saved one.  Follows the language-model
    protocol of :mod:`lmkit.lm.perplexity` (``vocab``, ``context_size``,
    ``boundaries``, ``score``).
    """

    kind = "nplm"

    def __init__(self, config: NPLMConfig | None = None):
        self.config = (config or NPLMConfig()).validate()
        self.vocab = None
        self.tokenizer = None
        self.dtype = np.dtype(np.float32)
        self.history: list[dict] = []  # per-epoch records of the last fit
        self.hidden: Sequential | None = None  # the hidden layer (built by build())
        self.hidden_pre: np.ndarray | None = None  # the last training batch's hidden pre-activation (B, h)
        self._workspace: dict[str, np.ndarray | dict] = {}  # reused buffers (_buffers, _score_rows)

    @property
    def context_size(self) -> int:
        return self.config.context

    @property
    def boundaries(self) -> str:
        return self.config.boundaries

    # ------------------------------------------------------------------ parameters
    def build(self, vocab, *, tokenizer=None, rng: np.random.Generator | None = None,
              dtype=np.float32, unigram_counts: np.ndarray | None = None) -> "NPLM":
        """Fresh weights for ``vocab`` (a :class:`~lmkit.corpus.vocab.Vocab`).

        ``C`` rows ~ N(0, 1) (an embedding's LeCun init), ``H`` by the
        activation's recommended scheme (Xavier for tanh, He for the ReLU
        family), ``O`` Xavier-uniform, ``d = 0`` and ``b`` the log unigram
        frequencies (+1 smoothed) of ``unigram_counts: int[V]`` (default
        ``vocab.counts``; the trainer passes the training split's), the best
        context-free start.
        """
        cfg = self.config
        rng = np.random.default_rng(cfg.seed) if rng is None else rng
        self.vocab, self.tokenizer, self.dtype = vocab, tokenizer, np.dtype(dtype)
        v, m, h = len(vocab), cfg.features, cfg.hidden
        self.C = init_weights((v + 1, m), "lecun", rng, dtype=dtype, layout="embedding")
        self.hidden = self._hidden_layers(rng, dtype) if h else None
        self.O = init_weights((v, self.n_inputs), "xavier_uniform", rng, dtype=dtype)
        counts = np.asarray(vocab.counts if unigram_counts is None else unigram_counts, dtype=np.float64) + 1.0
        self.b = np.log(counts / counts.sum()).astype(dtype)
        self.dropout_x = Dropout(cfg.dropout_features, rng)
        self._workspace = {}
        return self

    def _hidden_layers(self, rng: np.random.Generator, dtype) -> Sequential:
        """The hidden layer, built from :mod:`lmkit.nn`'s layers: ``Dense(k*m -> h*pieces)`` with the
        activation's recommended init (``H``, ``d``), batch norm if asked, the activation (maxout
        takes ``pieces`` columns to one unit), dropout.  Its arrays are the model's ``H``, ``d``,
        ``bn_gamma``... (see :meth:`dense_params`)."""
        cfg = self.config
        width = cfg.hidden * (cfg.maxout_pieces if cfg.activation == "maxout" else 1)
        act_params = {"prelu": {"units": cfg.hidden, "dtype": dtype},
                      "maxout": {"k": cfg.maxout_pieces}}.get(cfg.activation, {})
        act = get_activation(cfg.activation, **act_params)
        dense = Dense(cfg.context * cfg.features, width, init=recommended_init(cfg.activation), rng=rng,
                      dtype=dtype)
        norm = [BatchNorm(width, dtype=dtype)] if cfg.batch_norm else []
        return Sequential([dense, *norm, act, Dropout(cfg.dropout_hidden, rng)])

    @property
    def H(self) -> np.ndarray:
        """``[h * pieces, k*m]`` hidden weights (the hidden Dense layer's ``W``)."""
        return self.hidden[0].W if self.hidden is not None else np.zeros((0, self.config.context * self.config.features),
                                                                         self.dtype)

    @property
    def d(self) -> np.ndarray:
        """``[h * pieces]`` hidden biases."""
        return self.hidden[0].b if self.hidden is not None else np.zeros(0, self.dtype)

    @property
    def act(self):
        """The hidden activation (an :class:`lmkit.nn.activations.Activation`), or None without a hidden layer."""
        return self._hidden_part("activation")

    @property
    def bn(self):
        """The hidden layer's :class:`~lmkit.nn.batchnorm.BatchNorm`, or None."""
        return self._hidden_part("bn")

    def _hidden_part(self, what: str):
        if self.hidden is None:
            return None
        for layer in self.hidden.layers:
            if (what == "bn" and isinstance(layer, BatchNormLayer)) or (what == "activation"
                                                                        and isinstance(layer, ActivationLayer)):
                return layer.part
        return None

    @property
    def n_inputs(self) -> int:
        """Columns of ``O``: ``h`` (if any) + ``k*m`` (if direct)."""
        cfg = self.config
        return cfg.hidden + (cfg.context * cfg.features if cfg.direct else 0)

    @property
    def U(self) -> np.ndarray:
        """``[V, h]`` hidden-to-output weights (a view of ``O``)."""
        return self.O[:, :self.config.hidden]

    @property
    def W(self) -> np.ndarray:
        """``[V, k*m]`` direct connections (a view of ``O``; empty when off)."""
        return self.O[:, self.config.hidden:]

    def dense_params(self) -> dict[str, np.ndarray]:
        """Every learned array but ``C``, by name (``H``, ``O`` decay; the rest do not)."""
        params = {"O": self.O, "b": self.b}
        if self.config.hidden:
            params.update(H=self.H, d=self.d)
        if self.act is not None:
            params.update({f"act{i}": p for i, p in enumerate(self.act.params)})
        if self.bn is not None:
            params.update(bn_gamma=self.bn.gamma, bn_beta=self.bn.beta)
        return params

    # ------------------------------------------------------------------ forward / backward
    def _buffers(self, batch: int) -> dict[str, np.ndarray]:
        """Preallocated ``x``, ``z``, ``logits`` and ``losses`` for ``batch`` rows; ``dz``, ``grad_O``,
        ``grad_b`` and ``ones`` (the bias gradient's summing vector) of the output layer stay in the
        workspace."""
        ws = self._workspace
        if ws.get("batch", 0) < batch:
            cfg = self.config
            ws.update(batch=batch,
                      x=np.empty((batch, cfg.context * cfg.features), self.dtype),
                      z=np.empty((batch, self.n_inputs), self.dtype),
                      logits=np.empty((batch, len(self.vocab)), self.dtype),
                      dz=np.empty((batch, self.n_inputs), self.dtype),
                      grad_O=np.empty_like(self.O),
                      grad_b=np.empty_like(self.b),
                      ones=np.ones(batch, self.dtype),
                      losses=np.empty(batch, np.float64))
        return {name: ws[name][:batch] for name in ("x", "z", "logits", "losses")}

    def _forward(self, contexts: np.ndarray, train: bool) -> dict[str, np.ndarray]:
        """Compute the output layer's input ``z`` of ``contexts: int32[B, k]`` into the workspace (the
        output layer itself: :meth:`_output_layer`)."""
        from lmkit.lm.kernels import gather_features

        cfg = self.config
        buf = self._buffers(len(contexts))
        x = buf["x"]
        if self.dtype == np.float32:
            gather_features(self.C, contexts, x)
        else:
            x[...] = self.C[contexts].reshape(len(contexts), -1)
        x = self.dropout_x.forward(x, train)
        z, h = buf["z"], cfg.hidden
        if h:
            z[:, :h] = self.hidden.forward(x, train)
            if train:  # the activation's input, (B, h * pieces): what a monitor reads (a reference)
                self.hidden_pre = next(iter(self.hidden.activations().values()))[0]
        if cfg.direct:
            z[:, h:] = x
        buf["x_used"] = x
        return buf

    def forward_backward(self, contexts: np.ndarray, targets: np.ndarray) -> float:
        """One training forward and backward pass; returns the mean cross-entropy.

        Leaves the gradients in ``self.grads`` (same names as
        :meth:`dense_params`) and those of the used rows of ``C`` in
        ``self.c_rows: int[B*k]`` / ``self.c_grad_rows: float[B*k, m]``
        (repeated rows not merged).  A NaN/inf loss is returned as is.

        Float32 with ``W = blas_threads() > 1``: BLAS runs single-threaded and
        ``W`` threads split the output layer -- by rows of ``O`` for the logits,
        by rows of the batch for the softmax, by rows of ``O`` again for
        ``dz = dL/dlogits O``, ``dL/dO`` and ``dL/db``
        (:meth:`_exact_output_layer`) -- so no idle BLAS pool spins beside the
        softmax (see :mod:`lmkit.threads`).
        """
        workers = self.worker_threads()
        with single_threaded_blas() if workers > 1 else contextlib.nullcontext():
            return self._forward_backward(contexts, targets, workers)

    def forward_backward_sampled(self, contexts: np.ndarray, candidates: np.ndarray, positions: np.ndarray,
                                 correction: np.ndarray) -> float:
        """:meth:`forward_backward` with the sampled softmax of :mod:`lmkit.lm.sampled`.

        The softmax runs over the words ``candidates: int[K]`` (unique) only,
        each logit lowered by ``correction: float[K]``; the target of example
        ``i`` is ``candidates[positions[i]]``.  Returns the mean sampled
        cross-entropy (not the model's).  ``grads["O"]`` and ``grads["b"]`` are
        full-size and zero outside the candidates' rows.  BLAS keeps its
        threads and the output layer runs in this thread: the products are
        small enough that splitting them by hand would not pay.
        """
        return self._forward_backward(contexts, positions, 1, (candidates, correction))

    def worker_threads(self) -> int:
        """Threads that split the output layer and the optimizer's dense steps: BLAS's count for float32
        (which then runs single-threaded, see :mod:`lmkit.threads`), 1 for float64 models (gradient
        checks)."""
        return max(blas_threads(), 1) if self.dtype == np.float32 else 1

    def _forward_backward(self, contexts: np.ndarray, targets: np.ndarray, workers: int, sample=None) -> float:
        cfg, n = self.config, len(targets)
        buf = self._forward(contexts, train=True)
        z, x = buf["z"], buf["x_used"]
        if sample is None:
            grads, dz = self._exact_output_layer(z, targets, buf["logits"], workers)
        else:
            grads, dz = self._sampled_output_layer(z, targets, *sample)
        loss = float(buf["losses"][:n].mean())
        h = cfg.hidden
        dx = dz[:, h:] if cfg.direct else np.zeros_like(x)
        if h:
            dx = dx + self.hidden.backward(np.ascontiguousarray(dz[:, :h]))
            dense = self.hidden[0]
            grads.update(H=dense.grad_W, d=dense.grad_b)
            if self.bn is not None:
                grads.update(bn_gamma=self.bn.grad_gamma, bn_beta=self.bn.grad_beta)
            grads.update({f"act{i}": g for i, g in enumerate(self.act.grads)})
        dx = self.dropout_x.backward(dx)
        self.grads = grads
        self.c_rows = contexts.reshape(-1)
        self.c_grad_rows = np.ascontiguousarray(dx).reshape(n * cfg.context, cfg.features)
        return loss

    # ------------------------------------------------------------------ the output layer
    def _exact_output_layer(self, z: np.ndarray, targets: np.ndarray, logits: np.ndarray, workers: int):
        """The exact softmax's output layer when training: ``({"O": dL/dO, "b": dL/db}, dz)``.

        One worker: :meth:`_output_layer`, then :meth:`_output_grads`.  Several: three phases, each
        split the way its work runs fastest: the logits ``z O^T`` by words (each thread all ``B`` rows
        against its rows of ``O``: BLAS runs that 5-18% faster than half the rows against every word),
        the softmax by batch rows (a row needs all its logits), then by words again, each thread its
        words' share of ``dz = dL/dlogits O`` (the shares summed after), ``dL/dO`` and ``dL/db``.
        Measured with the products and softmax alone, 2 threads, B = 256, V = 17,905: 1.07-1.09x over
        splitting by rows first (BENCHMARKS.md).
        """
        if workers == 1:
            dlogits, dz = self._output_layer(z, self.O, self.b, targets, logits, True, 1)
            return self._output_grads(dlogits, z, 0, len(self.vocab)), dz
        n = len(targets)
        logits = logits[:n]
        ws = self._workspace
        if ws.get("dz_shares") is None or ws["dz_shares"].shape[:2] != (workers, len(ws["dz"])):
            ws["dz_shares"] = np.empty((workers, *ws["dz"].shape), self.dtype)
        shares = ws["dz_shares"][:, :n]
        words, rows = even_bounds(len(self.vocab), workers), even_bounds(n, workers)

        def products(part: int) -> None:
            lo, hi = words[part], words[part + 1]
            np.matmul(z, self.O[lo:hi].T, out=logits[:, lo:hi])

        def softmax(part: int) -> None:
            self._softmax_rows(logits, self.b, targets, 1.0 / n, True, rows[part], rows[part + 1])

        def gradients(part: int) -> None:
            lo, hi = words[part], words[part + 1]
            np.matmul(logits[:, lo:hi], self.O[lo:hi], out=shares[part])
            self._output_grads(logits, z, lo, hi)

        for phase in (products, softmax, gradients):
            run_parts(workers, phase)
        dz = ws["dz"][:n]
        np.sum(shares, axis=0, out=dz)
        return {"O": ws["grad_O"], "b": ws["grad_b"]}, dz

    def _output_layer(self, z: np.ndarray, weights: np.ndarray, bias: np.ndarray, targets: np.ndarray,
                      logits: np.ndarray, train: bool, workers: int):
        """The output layer split by batch rows: one training thread's exact softmax, the sampled
        softmax's, and float64 models' scoring (float32 scoring: :meth:`_score_rows`).

        ``z: [B, n_inputs]``, ``weights: [K, n_inputs]`` (``O``, or the sampled
        candidates' rows), ``bias: [K]`` (``b``, or the candidates' minus their
        corrections), ``targets: int[B]`` in ``[0, K)``, ``logits: [>= B, K]``
        scratch.  Splits the batch's rows over ``workers`` threads (1: this
        thread); each computes its ``logits = z weights^T``, then
        :meth:`_softmax_rows` (losses into the workspace's ``losses``) and,
        when training, ``dz = dL/dlogits weights``.  Returns ``(dL/dlogits in
        place of the logits, dz)``; ``dz`` is None unless training.
        """
        n = len(targets)
        logits = logits[:n]
        dz = self._workspace["dz"][:n] if train else None
        scale = 1.0 / n if train else 1.0
        bounds = even_bounds(n, workers)

        def rows(part: int) -> None:
            lo, hi = bounds[part], bounds[part + 1]
            np.matmul(z[lo:hi], weights.T, out=logits[lo:hi])
            self._softmax_rows(logits, bias, targets, scale, train, lo, hi)
            if train:
                np.matmul(logits[lo:hi], weights, out=dz[lo:hi])

        run_parts(workers, rows)
        return logits, dz

    def _softmax_rows(self, logits: np.ndarray, bias: np.ndarray, targets: np.ndarray, scale: float,
                      train: bool, lo: int, hi: int) -> None:
        """The one place the output bias is added: rows ``[lo, hi)`` of ``logits + bias`` through the
        softmax; ``-log p(target)`` into the workspace's ``losses`` and, when training,
        ``scale * (softmax - onehot)`` in place of the logits.  Float32: the fused kernel
        (:func:`lmkit.lm.kernels.softmax_rows`, NaN loss for a row holding NaN/inf); float64: numpy."""
        from lmkit.lm.kernels import softmax_rows

        losses = self._workspace["losses"]
        if self.dtype == np.float32:
            softmax_rows(logits, bias, targets, np.float32(scale), train, losses, lo, hi)
            return
        rows, t = logits[lo:hi], targets[lo:hi]
        rows += bias
        logp = log_softmax(rows)
        losses[lo:hi] = -logp[np.arange(len(t)), t]
        if train:
            np.exp(logp, out=rows)
            rows *= scale
            rows[np.arange(len(t)), t] -= scale

    def _output_grads(self, dlogits: np.ndarray, z: np.ndarray, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Rows ``[lo, hi)`` of the workspace's ``{"O": dL/dO = dlogits^T z, "b": column sums}`` (the whole
        arrays are returned).  The column sums are a product with a vector of ones: BLAS's gemv reads the
        ``[B, V]`` gradient 2-3x faster than ``np.sum(axis=0)`` (~0.7 ms of the ~55 ms of an MLP9 step on
        1 thread)."""
        ws = self._workspace
        grad_O, grad_b = ws["grad_O"], ws["grad_b"]
        np.matmul(dlogits[:, lo:hi].T, z, out=grad_O[lo:hi])
        np.matmul(ws["ones"][:len(dlogits)], dlogits[:, lo:hi], out=grad_b[lo:hi])
        return {"O": grad_O, "b": grad_b}

    def _sampled_output_layer(self, z: np.ndarray, positions: np.ndarray, candidates: np.ndarray,
                              correction: np.ndarray):
        """:meth:`_output_layer` over the rows of ``candidates`` (see :meth:`forward_backward_sampled`).
        Returns ``({"O": dL/dO, "b": dL/db}, dz: [B, n_inputs])``; the gradients live in the
        workspace, and only the rows written by the previous call are cleared."""
        n, k = len(positions), len(candidates)
        ws = self._workspace
        if ws.get("sampled_grad_O") is None:
            ws.update(sampled_grad_O=np.zeros_like(self.O), sampled_grad_b=np.zeros_like(self.b),
                      sampled_rows=np.zeros(0, np.int64))
        if len(ws.get("sampled_O", ())) < k:  # K varies from batch to batch: grow with 10% to spare
            ws.update(sampled_O=np.empty((k + k // 10, self.n_inputs), self.dtype),
                      sampled_logits=np.empty(n * (k + k // 10), self.dtype))
        if ws["sampled_logits"].size < n * k:  # a larger batch than before
            ws["sampled_logits"] = np.empty(n * k, self.dtype)
        rows = np.take(self.O, candidates, axis=0, out=ws["sampled_O"][:k])  # (K, n_inputs)
        bias = (self.b[candidates] - correction).astype(self.dtype, copy=False)
        logits = ws["sampled_logits"][:n * k].reshape(n, k)
        dlogits, dz = self._output_layer(z, rows, bias, positions, logits, True, 1)
        grad_O, grad_b = ws["sampled_grad_O"], ws["sampled_grad_b"]
        grad_O[ws["sampled_rows"]] = 0
        grad_b[ws["sampled_rows"]] = 0
        grad_O[candidates] = dlogits.T @ z
        grad_b[candidates] = ws["ones"][:n] @ dlogits
        ws["sampled_rows"] = candidates
        return {"O": grad_O, "b": grad_b}, dz

    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``float64[n]``: ``log p(targets[i] | contexts[i])``, exact softmax, evaluation mode.

        ``contexts: int32[n, >= k]`` (oldest first; extra leading columns ignored).
        BLAS stays single-threaded for the whole pass when the output layer is
        split over threads (the small hidden layer too): OpenBLAS threads left
        spinning after a product would take cores from the row-split threads.
        Float32 models score in column tiles (:meth:`_score_rows`); float64
        models (gradient checks) through :meth:`_output_layer`.
        """
        self._check_built()
        contexts = np.ascontiguousarray(contexts[:, contexts.shape[1] - self.context_size:], dtype=np.int32)
        targets = np.ascontiguousarray(targets, dtype=np.int32)
        out = np.empty(len(targets), dtype=np.float64)
        rows = max(64, min(4096, EVAL_ELEMENTS // len(self.vocab)))
        workers = self.worker_threads()
        with single_threaded_blas() if workers > 1 else contextlib.nullcontext():
            for start in range(0, len(targets), rows):
                c, t = contexts[start:start + rows], targets[start:start + rows]
                buf = self._forward(c, train=False)
                if self.dtype == np.float32:
                    self._score_rows(buf["z"], t, out[start:start + len(t)], workers)
                else:
                    self._output_layer(buf["z"], self.O, self.b, t, buf["logits"], False, workers)
                    out[start:start + len(t)] = -buf["losses"][:len(t)]
        return out

    def _score_rows(self, z: np.ndarray, targets: np.ndarray, out: np.ndarray, workers: int) -> None:
        """``out[i] = log p(targets[i])`` for the output layer's input ``z: float32[B, n_inputs]``: each of
        ``workers`` threads takes its rows and walks the vocabulary in column tiles of ``SCORE_TILE_FLOATS``
        floats, one product ``z O[cols]^T`` and one :func:`~lmkit.lm.kernels.logsumexp_tile` each, so the
        tile is read back while still in cache: 1.10-1.23x the predictions/s of whole rows' product and
        softmax (BENCHMARKS.md).  NaN for a row whose logits hold NaN or inf."""
        from lmkit.lm.kernels import logsumexp_tile

        n, v = len(targets), len(self.vocab)
        running_max, running_sum, target_logit = np.full(n, -np.inf), np.zeros(n), np.zeros(n)
        bounds = even_bounds(n, workers)
        tiles = self._workspace.setdefault("score_tiles", {})   # each thread's tile buffer, by part

        def rows(part: int) -> None:
            lo, hi = bounds[part], bounds[part + 1]
            if hi == lo:
                return
            width = min(max(8, SCORE_TILE_FLOATS // (hi - lo)), v)
            tile = tiles.get(part)
            if tile is None or tile.size < (hi - lo) * width:   # kept: a fresh 8 MB would fault its pages in
                tile = tiles[part] = np.empty((hi - lo) * width, self.dtype)
            for first in range(0, v, width):
                last = min(first + width, v)
                block = tile[:(hi - lo) * (last - first)].reshape(hi - lo, last - first)
                np.matmul(z[lo:hi], self.O[first:last].T, out=block)
                logsumexp_tile(block, self.b[first:last], targets, first, lo, running_max, running_sum,
                               target_logit)

        run_parts(workers, rows)
        with np.errstate(invalid="ignore"):  # the log of a NaN/inf row's flag, -1: its score is NaN
            np.subtract(target_logit, running_max + np.log(running_sum), out=out)

    def logits(self, contexts: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``float32[n, V]``: the output layer's ``y = b + O z`` after each context, evaluation mode:
        ``log p(w | contexts[i])`` up to a constant per row.

        What a log-linear mixture (:mod:`lmkit.lm.loglinear`) needs: a product of
        experts is renormalized over the whole vocabulary, which cancels each
        member's own normalizer, so it cannot work from :meth:`score`'s one
        probability per prediction.  ``n x V`` floats: pass blocks of rows;
        ``out``: a ``float32[n, V]`` to write them into.
        The product's rows are split over threads as in :meth:`score`.
        """
        self._check_built()
        contexts = np.ascontiguousarray(contexts[:, contexts.shape[1] - self.context_size:], dtype=np.int32)
        if out is None:
            out = np.empty((len(contexts), len(self.vocab)), dtype=np.float32)
        elif out.shape != (len(contexts), len(self.vocab)) or out.dtype != np.float32:
            raise ValueError(f"out must be float32[{len(contexts)}, {len(self.vocab)}], "
                             f"got {out.dtype}{list(out.shape)}")
        rows = max(64, min(4096, EVAL_ELEMENTS // len(self.vocab)))
        workers = self.worker_threads()
        with single_threaded_blas() if workers > 1 else contextlib.nullcontext():
            for start in range(0, len(contexts), rows):
                block = out[start:start + rows]
                z = self._forward(contexts[start:start + rows], train=False)["z"]
                bounds = even_bounds(len(block), workers)

                def product(part: int) -> None:
                    lo, hi = bounds[part], bounds[part + 1]
                    np.matmul(z[lo:hi], self.O.T, out=block[lo:hi])
                    block[lo:hi] += self.b

                run_parts(workers, product)
        return out

    # ------------------------------------------------------------------ training
    def fit(self, corpus, valid=None, *, output=None, resume: bool = False, verbose: bool = True,
            callbacks=(), log_dir=None, monitor_every: int | None = None) -> "NPLM":
        """Train on ``corpus`` (an encoded training split); see :func:`lmkit.lm.train.fit`."""
        from lmkit.lm.train import fit

        return fit(self, corpus, valid, output=output, resume=resume, verbose=verbose, callbacks=callbacks,
                   log_dir=log_dir, monitor_every=monitor_every)

    def _check_built(self) -> None:
        if self.vocab is None:
            raise ValueError("this NPLM has no weights: call fit(corpus), build(vocab) or NPLM.load(path)")

    # ------------------------------------------------------------------ save / load
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every array that defines the model (weights and batch-norm statistics)."""
        arrays = {"C": self.C, **self.dense_params()}
        if self.bn is not None:
            arrays.update(bn_mean=self.bn.running_mean, bn_var=self.bn.running_var)
        return arrays

    def meta(self) -> dict:
        return {"model_version": MODEL_VERSION, "config": dataclasses.asdict(self.config),
                "vocab": self.vocab.to_dict(),
                "tokenizer": self.tokenizer.to_json() if self.tokenizer is not None else None}

    def save(self, path) -> Path:
        """Write weights, config, vocabulary and tokenizer as an lmkit model of kind ``nplm``."""
        from lmkit.io import save_model

        self._check_built()
        return save_model(path, self.kind, self.state_arrays(), self.meta())

    @classmethod
    def from_parts(cls, arrays: dict, meta: dict, path="model") -> "NPLM":
        """Rebuild a model from :meth:`state_arrays` and :meth:`meta` (also used by checkpoints)."""
        from lmkit.corpus.vocab import Vocab

        if meta.get("model_version") != MODEL_VERSION:
            raise ValueError(f"{path}: NPLM model version {meta.get('model_version')!r} is not supported "
                             f"(this lmkit reads version {MODEL_VERSION})")
        model = cls(NPLMConfig.from_dict(meta["config"]))
        vocab = Vocab.from_dict(meta["vocab"])
        tokenizer = None
        if meta.get("tokenizer"):
            from lmkit.corpus.tokenizer import Tokenizer

            tokenizer = Tokenizer.from_json(meta["tokenizer"])
        if arrays["C"].dtype not in (np.float32, np.float64):
            raise ValueError(f"{path}: array C is {arrays['C'].dtype}, expected float32 or float64")
        model.build(vocab, tokenizer=tokenizer, rng=np.random.default_rng(0), dtype=arrays["C"].dtype)
        model.load_state_arrays(arrays, path)
        return model

    def load_state_arrays(self, arrays: dict, path="model") -> None:
        """Copy saved arrays into this model's (checking names and shapes)."""
        own = self.state_arrays()
        missing = sorted(set(own) - set(arrays))
        if missing:
            raise ValueError(f"{path}: NPLM arrays missing: {', '.join(missing)}")
        for name, target in own.items():
            if arrays[name].shape != target.shape or arrays[name].dtype != target.dtype:
                raise ValueError(f"{path}: array {name} is {arrays[name].dtype}{list(arrays[name].shape)}, "
                                 f"the config implies {target.dtype}{list(target.shape)}")
            target[...] = arrays[name]

    @classmethod
    def load(cls, path) -> "NPLM":
        from lmkit.io import load_model

        arrays, meta = load_model(path, cls.kind)
        return cls.from_parts(arrays, meta, path)

    def export_vectors(self, path, binary: bool = False) -> Path:
        """Write the feature matrix ``C`` (padding row excluded) as word2vec vectors."""
        from lmkit.vectors import KeyedVectors

        self._check_built()
        vectors = KeyedVectors(list(self.vocab.tokens), np.ascontiguousarray(self.C[:len(self.vocab)]))
        vectors.save_word2vec_format(path, binary=binary)
        return Path(path)
