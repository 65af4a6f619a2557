"""First-order optimizers that update float arrays in place.

Every optimizer has the same interface::

    opt = Adam(lr=1e-3)
    opt.step([W, b], [dW, db])                  # dense: every element
    opt.step_rows(2, C, rows, dC_rows)          # sparse: only rows of a table
    opt.lr = schedule(step)                     # schedules set the rate

``g`` below is the gradient after coupled weight decay, ``g = grad + wd * p``
(plain L2 regularization folded into the gradient, as Bengio et al. 2003
did); decoupled weight decay (Loshchilov & Hutter 2019, "AdamW") instead
shrinks the parameter directly, ``p <- p - lr * dwd * p``, outside the
adaptive scaling.  With both at 0 (the default) neither costs anything.

Each update is computed in the parameter's precision: a float32 array in
float32 arithmetic (as torch's optimizers do), a float64 one in float64, every
operation correctly rounded (:mod:`lmkit.nn.optim_kernels`).

=============  ==============================================================
optimizer      update (state starts at 0)
=============  ==============================================================
SGD            ``p -= lr g``
Momentum       ``v = mu v - lr g;  p += v`` (Polyak 1964; Sutskever et al. 2013)
Nesterov       ``v = mu v - lr g;  p += mu v - lr g`` (Nesterov 1983, in the
               form of Sutskever et al. 2013 / Bengio et al. 2013: the
               gradient at the current point stands in for the look-ahead one)
AdaGrad        ``a += g^2;  p -= lr g / (sqrt(a) + eps)`` (Duchi et al. 2011)
RMSProp        ``s = rho s + (1-rho) g^2;  p -= lr g / (sqrt(s) + eps)``
               (Tieleman & Hinton 2012, lecture 6.5)
AdaDelta       ``Eg = rho Eg + (1-rho) g^2;  dx = sqrt(Edx + eps) / sqrt(Eg + eps) g;
               Edx = rho Edx + (1-rho) dx^2;  p -= lr dx`` (Zeiler 2012; lr = 1
               is the paper)
Adam           ``m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
               p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`` (Kingma &
               Ba 2015; ``t`` counts this parameter's steps, from 1)
=============  ==============================================================

State is kept per *parameter index*: the position of the array in the list
given to ``step``, or the ``param_index`` given to ``step_rows``; the two
share one index space, so give an embedding table updated with
``step_rows`` an index that ``step``'s list does not use (e.g. the next one).

Sparse updates (``step_rows``) are *lazy*, like TensorFlow's LazyAdam and
PyTorch's SparseAdam: rows not given are left exactly as they are -- their
momentum/second-moment state is not decayed, they do not keep moving along
their velocity, and weight decay (either kind) is not applied to them.  For
SGD and AdaGrad without weight decay this equals the dense step with a zero
gradient on the other rows; for the others it is a deliberate approximation
that keeps the cost proportional to the rows touched.  Adam's step count
``t`` is per table: it advances once per ``step_rows`` call, so call it once
per table per training step.  Repeated ids in ``rows`` are merged first by
summing their gradients (the gradient of a row used twice is the sum of both
uses), so a row is updated once per call.
"""
from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Sequence

import numpy as np

from lmkit.nn import optim_kernels as K
from lmkit.threads import run_parts


def _check_positive(name: str, value: float) -> float:
    if not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_unit_interval(name: str, value: float) -> float:
    if not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value!r}")
    return float(value)


def _check_nonnegative(name: str, value: float) -> float:
    if not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value >= 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: validation, per-index state, weight decay, the two entry
    points.  Subclasses define ``_state_names`` and ``_rows``, the compiled
    update of given rows of a table, which also makes the dense step (the
    whole array seen as one row, or every row of a strided 2-D array)."""

    name = "optimizer"
    _state_names: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0, decoupled_weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.decoupled_weight_decay = _check_nonnegative("decoupled_weight_decay", decoupled_weight_decay)
        self.state: dict[int, dict[str, Any]] = {}

    @property
    def lr(self) -> float:
        """The learning rate (> 0); schedules assign it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_positive("lr", value)

    # -- entry points --------------------------------------------------------

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], threads: int = 1) -> None:
        """Update each ``params[i]`` in place from ``grads[i]`` (same shape;
        any float dtype, any shape).  ``grads`` are read, never modified.

        ``threads > 1`` splits each large C-contiguous array (at least
        :data:`SPLIT_MIN_SIZE` elements) into that many contiguous pieces
        updated at once on :func:`lmkit.threads.worker_pool` (the kernels
        release the GIL).  Every element's update reads only that element, so
        the result is bit-identical to ``threads=1``; it pays for output
        layers of millions of weights (an NPLM's ``O``), where one thread's
        pass over parameter, gradient and state left the other core idle.
        """
        if len(params) != len(grads):
            raise ValueError(f"grads has {len(grads)} arrays but params has {len(params)}")
        if not isinstance(threads, numbers.Integral) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        for i, (p, g) in enumerate(zip(params, grads)):
            _check_param(f"params[{i}]", p)
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                shape = getattr(g, "shape", type(g).__name__)
                raise ValueError(f"grads[{i}] has shape {shape}, params[{i}] has {p.shape}")
            st = self._state_for(i, p, f"params[{i}]")
            table, rows, grad_rows, view = _as_table(p, g, st, self._state_names, f"params[{i}]")
            pieces = _pieces(table, grad_rows, view, self._state_names, threads)
            run_parts(len(pieces), lambda part: self._rows(pieces[part][0], rows, *pieces[part][1:]))
            st["t"] = pieces[0][2]["t"]  # each piece advanced its own copy of the step count alike

    def step_rows(self, param_index: int, param: np.ndarray, rows: np.ndarray, grad_rows: np.ndarray) -> None:
        """Update only rows ``rows`` of the table ``param: float[V, d]`` in place.

        ``rows: int[k]`` row ids in ``[0, V)``, repeats allowed (their
        gradients are summed first); ``grad_rows: float[k, d]``, row ``j`` the
        gradient for ``param[rows[j]]``.  State lives under ``param_index``
        (see the module docstring for the lazy semantics).
        """
        _check_param("param", param)
        if param.ndim != 2:
            raise ValueError(f"param must be a 2-D table (V, d), got shape {param.shape}")
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError(f"rows must be a 1-D integer array, got {rows.dtype}{list(rows.shape)}")
        grad_rows = np.asarray(grad_rows)
        if grad_rows.dtype.kind != "f":
            raise ValueError(f"grad_rows must be a floating array, got {grad_rows.dtype}")
        if grad_rows.shape != (rows.shape[0], param.shape[1]):
            raise ValueError(
                f"grad_rows has shape {grad_rows.shape}, expected (len(rows), d) = "
                f"({rows.shape[0]}, {param.shape[1]})"
            )
        if rows.size == 0:
            return
        lo, hi = int(rows.min()), int(rows.max())
        if lo < 0 or hi >= param.shape[0]:
            bad = lo if lo < 0 else hi
            raise ValueError(f"rows contains {bad}, outside [0, {param.shape[0]}) of param")
        st = self._state_for(int(param_index), param, f"param (param_index={param_index})")
        rows64 = np.ascontiguousarray(rows, dtype=np.int64)
        unique = np.empty_like(rows64)
        summed = np.empty((rows64.shape[0], param.shape[1]), dtype=param.dtype)
        n = K.sum_duplicate_rows(rows64, grad_rows, unique, summed)
        self._rows(param, unique[:n], summed[:n], st)

    # -- checkpoints ----------------------------------------------------------

    def state_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """The state as ``({"<index>/<name>": array}, {"<index>": step count})``.

        Plain arrays and integers, so a checkpoint stores them with
        :func:`lmkit.io.save_model` (no pickle); :meth:`load_state_arrays`
        restores them into a fresh optimizer of the same kind.
        """
        arrays = {f"{index}/{name}": st[name] for index, st in self.state.items() for name in self._state_names}
        steps = {str(index): int(st["t"]) for index, st in self.state.items()}
        return arrays, steps

    def load_state_arrays(self, arrays: dict[str, np.ndarray], steps: dict[str, int]) -> None:
        """Replace the state with one saved by :meth:`state_arrays`."""
        state: dict[int, dict[str, Any]] = {}
        for key, t in steps.items():
            try:
                moments = {name: np.array(arrays[f"{key}/{name}"], order="C") for name in self._state_names}
            except KeyError as error:
                raise ValueError(f"{type(self).__name__} state for index {key} lacks {error.args[0]!r}") from None
            shapes = {m.shape for m in moments.values()}
            if len(shapes) > 1:
                raise ValueError(f"{type(self).__name__} state for index {key} has mismatched shapes {shapes}")
            first = next(iter(moments.values()), None)
            state[int(key)] = {"t": int(t), "shape": first.shape if first is not None else None,
                               "dtype": first.dtype if first is not None else None, **moments}
        self.state = state

    # -- helpers shared by subclasses ---------------------------------------

    def _state_for(self, index: int, p: np.ndarray, what: str) -> dict[str, Any]:
        st = self.state.get(index)
        if st is None:
            st = {"t": 0, "shape": p.shape, "dtype": p.dtype}
            for name in self._state_names:
                st[name] = np.zeros(p.shape, p.dtype)  # C-contiguous, whatever p's layout
            self.state[index] = st
        elif st["shape"] is None:  # restored state of an optimizer without moment arrays
            st["shape"], st["dtype"] = p.shape, p.dtype
        elif st["shape"] != p.shape or st["dtype"] != p.dtype:
            raise ValueError(
                f"{what} has shape {p.shape} and dtype {p.dtype}, but the optimizer state at "
                f"index {index} was made for shape {st['shape']} and dtype {st['dtype']}"
            )
        return st

    def _decay_factor(self) -> float:
        return 1.0 - self._lr * self.decoupled_weight_decay

    def _rows(self, p: np.ndarray, rows: np.ndarray, g: np.ndarray, st: dict[str, Any]) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in _init_args(type(self)))
        return f"{type(self).__name__}({args})"


_ONE_ROW = np.zeros(1, dtype=np.int64)


def _as_table(p: np.ndarray, g: np.ndarray, st: dict[str, Any], names: tuple[str, ...], what: str):
    """``(table, rows, grad_rows, state)``: ``p``, its gradient and state moments as 2-D tables,
    so the row kernels make the dense step.  A C-contiguous ``p`` becomes one row of ``p.size``;
    a strided 2-D one keeps its rows, a strided 1-D one has one element per row.  Each reshape
    of ``p`` and of the (always C-contiguous) moments is a view, updated in place; ``state`` is a
    new dict whose ``"t"`` the caller copies back."""
    if p.flags.c_contiguous:
        shape, rows, g = (1, p.size), _ONE_ROW, np.ascontiguousarray(g)
    elif p.ndim in (1, 2):
        shape, rows = (p.shape[0], -1), np.arange(p.shape[0], dtype=np.int64)
    else:
        raise ValueError(f"{what} must be C-contiguous or at most 2-D, got a strided array of shape {p.shape}")
    state = dict(st) | {name: st[name].reshape(shape) for name in names}
    return p.reshape(shape), rows, g.reshape(shape), state


SPLIT_MIN_SIZE = 1 << 17  # elements: below this, handing pieces to threads costs more than it saves
_PIECE_ALIGN = 64  # elements: pieces start on 256-byte boundaries (float32), so each vectorizes alike


def _pieces(table: np.ndarray, grad_rows: np.ndarray, state: dict[str, Any], names: tuple[str, ...],
            threads: int) -> list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
    """``[(table, grad_rows, state)]``: the whole of a dense step's table, or, for a one-row table
    (a C-contiguous parameter, see :func:`_as_table`) of at least :data:`SPLIT_MIN_SIZE` elements,
    ``threads`` column ranges of it, each with the same columns of the gradient and of the state
    moments (views, updated in place) and its own copy of the step count."""
    size = table.shape[1]
    if threads == 1 or table.shape[0] != 1 or size < SPLIT_MIN_SIZE:
        return [(table, grad_rows, state)]
    bounds = [min(size, -(-size * part // threads // _PIECE_ALIGN) * _PIECE_ALIGN) for part in range(threads)]
    bounds.append(size)
    return [(table[:, lo:hi], grad_rows[:, lo:hi], state | {name: state[name][:, lo:hi] for name in names})
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def _in_dtype(p: np.ndarray, *values: float) -> tuple:
    """``values`` as numpy scalars of ``p``'s dtype, for the kernels of :mod:`lmkit.nn.optim_kernels`:
    they then compute in the parameter's precision (float32 tables in float32 arithmetic, as torch's
    optimizers do; see that module's docstring for why)."""
    scalar = p.dtype.type
    return tuple(scalar(v) for v in values)


def _check_param(name: str, p: Any) -> None:
    if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
        what = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
        raise ValueError(f"{name} must be a floating numpy array, got {what}")
    if not p.flags.writeable:
        raise ValueError(f"{name} is read-only; the optimizer updates it in place")


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p -= lr * g``."""

    name = "sgd"

    def _rows(self, p, rows, g, st):
        K.sgd_rows(p, rows, g, *_in_dtype(p, self._lr, self.weight_decay, self._decay_factor()))


class Momentum(Optimizer):
    """Heavy-ball momentum: ``v = mu v - lr g;  p += v``."""

    name = "momentum"
    _state_names = ("velocity",)

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 decoupled_weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay, decoupled_weight_decay)
        self.momentum = _check_unit_interval("momentum", momentum)

    def _rows(self, p, rows, g, st):
        K.momentum_rows(p, rows, g, st["velocity"],
                        *_in_dtype(p, self._lr, self.momentum, self.weight_decay, self._decay_factor()))


class Nesterov(Momentum):
    """Nesterov momentum: ``v = mu v - lr g;  p += mu v - lr g``."""

    name = "nesterov"

    def _rows(self, p, rows, g, st):
        K.nesterov_rows(p, rows, g, st["velocity"],
                        *_in_dtype(p, self._lr, self.momentum, self.weight_decay, self._decay_factor()))


class AdaGrad(Optimizer):
    """Per-coordinate rates from the sum of squared gradients:
    ``a += g^2;  p -= lr g / (sqrt(a) + eps)``."""

    name = "adagrad"
    _state_names = ("sum_sq",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0,
                 decoupled_weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay, decoupled_weight_decay)
        self.eps = _check_positive("eps", eps)

    def _rows(self, p, rows, g, st):
        K.adagrad_rows(p, rows, g, st["sum_sq"],
                       *_in_dtype(p, self._lr, self.eps, self.weight_decay, self._decay_factor()))


class RMSProp(Optimizer):
    """AdaGrad with a leaky average: ``s = rho s + (1-rho) g^2;
    p -= lr g / (sqrt(s) + eps)``."""

    name = "rmsprop"
    _state_names = ("mean_sq",)

    def __init__(self, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay, decoupled_weight_decay)
        self.rho = _check_unit_interval("rho", rho)
        self.eps = _check_positive("eps", eps)

    def _rows(self, p, rows, g, st):
        K.rmsprop_rows(p, rows, g, st["mean_sq"], *_in_dtype(
            p, self._lr, self.rho, 1.0 - self.rho, self.eps, self.weight_decay, self._decay_factor()))


class AdaDelta(Optimizer):
    """Unit-consistent steps from two leaky averages (Zeiler 2012):
    ``Eg = rho Eg + (1-rho) g^2;  dx = sqrt(Edx + eps) / sqrt(Eg + eps) g;
    Edx = rho Edx + (1-rho) dx^2;  p -= lr dx``.

    With a constant ``lr`` it does not settle at a minimum: as the gradient
    vanishes ``Eg`` shrinks faster than ``Edx`` and the ratio grows, kicking
    the parameters out again (measured on a quadratic in the tests); give it
    a decaying ``lr`` to converge."""

    name = "adadelta"
    _state_names = ("mean_sq_grad", "mean_sq_step")

    def __init__(self, rho: float = 0.95, eps: float = 1e-6, lr: float = 1.0,
                 weight_decay: float = 0.0, decoupled_weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay, decoupled_weight_decay)
        self.rho = _check_unit_interval("rho", rho)
        self.eps = _check_positive("eps", eps)

    def _rows(self, p, rows, g, st):
        K.adadelta_rows(p, rows, g, st["mean_sq_grad"], st["mean_sq_step"], *_in_dtype(
            p, self._lr, self.rho, 1.0 - self.rho, self.eps, self.weight_decay, self._decay_factor()))


class Adam(Optimizer):
    """Bias-corrected moment estimates (Kingma & Ba 2015):
    ``m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    At ``t = 1`` the step is ``lr * g / (|g| + eps)``: about ``lr`` per
    coordinate, whatever the gradient's scale."""

    name = "adam"
    _state_names = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay, decoupled_weight_decay)
        self.beta1 = _check_unit_interval("beta1", beta1)
        self.beta2 = _check_unit_interval("beta2", beta2)
        self.eps = _check_positive("eps", eps)

    def _corrections(self, st) -> tuple[float, float]:
        st["t"] += 1
        return 1.0 - self.beta1 ** st["t"], 1.0 - self.beta2 ** st["t"]

    def _rows(self, p, rows, g, st):
        bc1, bc2 = self._corrections(st)
        K.adam_rows(p, rows, g, st["m"], st["v"], *_in_dtype(
            p, self._lr, self.beta1, 1.0 - self.beta1, self.beta2, 1.0 - self.beta2, self.eps, bc1, bc2,
            self.weight_decay, self._decay_factor()))


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam)
}


def _init_args(cls: type[Optimizer]) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """A new optimizer by ``name`` (``sgd``, ``momentum``, ``nesterov``,
    ``adagrad``, ``rmsprop``, ``adadelta``, ``adam``) with its keyword
    arguments (``lr=...``, ``weight_decay=...``, ...)."""
    cls = OPTIMIZERS.get(name)
    if cls is None:
        raise ValueError(f"unknown optimizer name={name!r}; valid names: {', '.join(OPTIMIZERS)}")
    accepted = _init_args(cls)
    unexpected = sorted(set(kwargs) - set(accepted))
    if unexpected:
        raise ValueError(
            f"unexpected argument(s) {', '.join(unexpected)} for optimizer {name!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    missing = [a for a, prm in inspect.signature(cls.__init__).parameters.items()
               if a != "self" and prm.default is inspect.Parameter.empty and a not in kwargs]
    if missing:
        raise ValueError(f"optimizer {name!r} needs {', '.join(missing)}")
    return cls(**kwargs)
