"""Layers: the parts of :mod:`lmkit.nn` composed into a network.

::

    rng = np.random.default_rng(0)
    model = Sequential([
        Dense(64, 128, rng=rng), BatchNorm(128), ReLU(), Dropout(0.2, rng),
        Dense(128, 10, rng=rng),
    ])
    logits = model.forward(x, train=True)            # x: float32[B, 64]
    loss, dlogits = softmax_cross_entropy(logits, y)
    model.backward(dlogits)                          # fills model.grads()
    Adam().step(list(model.params().values()), list(model.grads().values()))

(:func:`lmkit.training.fit` runs that loop: minibatches, validation,
clipping, callbacks.)  A :class:`Sequential` takes :class:`Dense` and
:class:`Embedding`, defined here, and the existing parts as they are: any
activation (``ReLU()``, ``Tanh()``, ``PReLU(units)``, ``Maxout(k)``, ...),
``BatchNorm(n)`` and ``Dropout(rate, rng)``.  It wraps each part in a thin
adapter (:class:`ActivationLayer`, :class:`BatchNormLayer`,
:class:`DropoutLayer`) so every item of ``model.layers`` answers the same
:class:`Layer` interface; the part itself is the adapter's ``part``.

Names.  Layer ``i`` of kind ``k`` is ``f"{k}{i}"`` (``dense0``, ``bn1``,
``relu2``; an activation's kind is its name).  ``params()`` / ``grads()``
name arrays ``"<layer>/<array>"``: ``dense0/W``, ``dense0/b``,
``bn1/gamma``, ``bn1/beta``, ``prelu2/alpha``, ``embedding0/C``;
``buffers()`` the saved but unlearned ones, ``bn1/running_mean``,
``bn1/running_var``.  ``params()`` and ``grads()`` return the live arrays
(the gradients are overwritten by each ``backward``), so an optimizer can
hold on to them.

Default initialization.  ``Dense(n_in, n_out)`` without ``init`` takes the
scheme :func:`~lmkit.nn.activations.recommended_init` gives for the
activation that follows it in the Sequential (skipping batch norm and
dropout): He for the ReLU family and maxout, Xavier for tanh, sigmoid and a
linear output.  Its weights are drawn when it is built (for a linear
layer) and drawn again, from its own ``rng``, when the Sequential finds a
different recommendation.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from lmkit.nn import optim_kernels as K
from lmkit.nn.activations import ACTIVATIONS, Activation, get_activation, recommended_init
from lmkit.nn.batchnorm import BatchNorm
from lmkit.nn.dropout import Dropout
from lmkit.nn.init import SCHEMES, init_weights

KIND = "sequential"
MODEL_VERSION = 1


def _as_rng(rng) -> np.random.Generator:
    """A Generator from a Generator, an int seed, or ``None`` (fresh entropy: not reproducible)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def resolve_init(init, following: Activation | None = None) -> tuple[str, float]:
    """``(scheme, gain)`` for a weight matrix: ``init`` may be a scheme of
    :data:`~lmkit.nn.init.SCHEMES` (gain 1), an activation name (its
    ``recommended_init``), a ``(scheme, gain)`` pair, or ``None``: the
    recommendation for ``following`` (an activation object; ``None`` = a
    linear layer, Xavier)."""
    if init is None:
        if following is None:
            return recommended_init("identity")
        return recommended_init(following.name, **_init_params(following))
    if isinstance(init, str):
        if init in SCHEMES:
            return init, 1.0
        if init in ACTIVATIONS:
            return recommended_init(init)
        raise ValueError(f"unknown init {init!r}: use a scheme ({', '.join(SCHEMES)}), an activation name "
                         f"({', '.join(ACTIVATIONS)}), a (scheme, gain) pair or None")
    if isinstance(init, (tuple, list)) and len(init) == 2 and init[0] in SCHEMES:
        gain = float(init[1])
        if not (math.isfinite(gain) and gain > 0):
            raise ValueError(f"the gain of init={init!r} must be a positive finite number")
        return str(init[0]), gain
    raise ValueError(f"init must be a scheme name, an activation name, a (scheme, gain) pair or None; got {init!r}")


def _init_params(act: Activation) -> dict:
    """The slope ``recommended_init`` needs for a leaky unit."""
    if act.name == "leaky_relu":
        return {"slope": act.slope}
    if act.name == "prelu":
        return {"init": float(np.mean(act.alpha))}
    return {}


class Layer:
    """The interface of every item of a :class:`Sequential`.

    ``forward(x, train)`` caches what ``backward`` needs; ``backward(dy)``
    returns ``dL/dx`` (``None`` for a layer whose input is integer ids) and
    overwrites the arrays of ``grads()``.  ``params()`` / ``grads()`` /
    ``buffers()``: the layer's own arrays by short name (``W``, ``gamma``,
    ...); ``decayed``: the names weight decay applies to (weights, not
    biases or normalization); ``spec()``: a JSON-able description that
    :func:`layer_from_spec` rebuilds the layer from (arrays aside).
    """

    kind = "layer"
    decayed: tuple[str, ...] = ()

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def grads(self) -> dict[str, np.ndarray]:
        return {}

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def spec(self) -> dict:
        raise NotImplementedError


class Dense(Layer):
    """A fully connected layer ``y = x W^T + b``: ``x: float[B, n_in]`` to ``float[B, n_out]``.

    ``W: float[n_out, n_in]`` (the ``dense`` layout of
    :func:`~lmkit.nn.init.fan_in_fan_out`), ``b: float[n_out]`` (zeros; none
    with ``bias=False``).  ``init``: see :func:`resolve_init`; ``None`` lets
    the Sequential choose from the next activation (see the module
    docstring).  ``rng``: a Generator (share one between layers for a
    reproducible network), an int seed, or ``None`` (fresh entropy).
    ``backward`` sets ``grad_W = dy^T x`` and ``grad_b = sum(dy)``.
    """

    kind = "dense"
    decayed = ("W",)

    def __init__(self, n_in: int, n_out: int, init=None, *, bias: bool = True, rng=None,
                 dtype=np.float32) -> None:
        self.n_in = _positive_int("n_in", n_in)
        self.n_out = _positive_int("n_out", n_out)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a floating type, got {self.dtype}")
        self.init = init
        self.scheme, self.gain = resolve_init(init)
        self.rng = _as_rng(rng)
        self.W = np.empty((self.n_out, self.n_in), self.dtype)
        self.b = np.zeros(self.n_out, self.dtype) if bias else None
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b) if bias else None
        self._x: np.ndarray | None = None
        self.reset()

    def reset(self, scheme: str | None = None, gain: float | None = None) -> None:
        """Draw ``W`` anew (with ``scheme``/``gain`` if given, which then stay) and zero ``b``."""
        if scheme is not None:
            self.scheme, self.gain = resolve_init((scheme, 1.0 if gain is None else gain))
        self.W[...] = init_weights(self.W.shape, self.scheme, self.rng, gain=self.gain, dtype=self.dtype)
        if self.b is not None:
            self.b[...] = 0

    def forward(self, x, train=False):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Dense({self.n_in}, {self.n_out}) needs x of shape (B, {self.n_in}), got {x.shape}")
        x = x.astype(self.dtype, copy=False)
        self._x = x
        y = x @ self.W.T
        if self.b is not None:
            y += self.b
        return y

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward")
        if dy.shape != (self._x.shape[0], self.n_out):
            raise ValueError(f"dy has shape {dy.shape}, the last forward gave {(self._x.shape[0], self.n_out)}")
        dy = dy.astype(self.dtype, copy=False)
        np.matmul(dy.T, self._x, out=self.grad_W)
        if self.b is not None:
            np.sum(dy, axis=0, out=self.grad_b)
        return dy @ self.W

    def params(self):
        return {"W": self.W} if self.b is None else {"W": self.W, "b": self.b}

    def grads(self):
        return {"W": self.grad_W} if self.b is None else {"W": self.grad_W, "b": self.grad_b}

    def spec(self):
        init = list(self.init) if isinstance(self.init, tuple) else self.init
        return {"type": "dense", "n_in": self.n_in, "n_out": self.n_out, "bias": self.b is not None,
                "init": init, "scheme": self.scheme, "gain": self.gain}

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, init={self.scheme!r}" + \
            (f" x {self.gain:g}" if self.gain != 1 else "") + (", bias=False)" if self.b is None else ")")


class Embedding(Layer):
    """A lookup table ``C: float[n_rows, dim]``, the NPLM's ``C``: integer ids to their rows.

    ``forward(ids)``: ``int[B]`` to ``float[B, dim]``, or ``int[B, k]`` to the
    concatenated rows ``float[B, k*dim]`` (the NPLM's ``x``).  Its gradient
    is sparse: ``backward(dy)`` sets ``rows: int64[n]`` (the distinct ids
    used, increasing) and ``grad_rows: float[n, dim]`` (the summed gradient
    of each), for an optimizer's ``step_rows``, and returns ``None``: an
    Embedding is the first layer of a network.  ``grads()["C"]`` scatters
    them into a dense ``float[n_rows, dim]`` (for gradient checks and
    monitors; it costs a pass over the table).  ``init``: ``"lecun"`` with the
    ``embedding`` layout, i.e. ``N(0, 1)`` rows, as the NPLM's ``C``.
    """

    kind = "embedding"
    decayed = ("C",)
    sparse = True

    def __init__(self, n_rows: int, dim: int, init="lecun", *, rng=None, dtype=np.float32) -> None:
        self.n_rows = _positive_int("n_rows", n_rows)
        self.dim = _positive_int("dim", dim)
        self.dtype = np.dtype(dtype)
        self.init = init
        self.scheme, self.gain = resolve_init(init)
        self.rng = _as_rng(rng)
        self.C = init_weights((self.n_rows, self.dim), self.scheme, self.rng, gain=self.gain,
                              dtype=self.dtype, layout="embedding")
        self.rows = np.zeros(0, np.int64)
        self.grad_rows = np.zeros((0, self.dim), self.dtype)
        self._dense_grad: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    def forward(self, ids, train=False):
        ids = np.asarray(ids)
        if ids.ndim not in (1, 2) or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"Embedding needs integer ids of shape (B,) or (B, k), got {ids.dtype}{list(ids.shape)}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_rows):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"ids contains {bad}, outside [0, {self.n_rows})")
        self._ids = ids
        return self.C[ids].reshape(ids.shape[0], -1)

    def backward(self, dy):
        if self._ids is None:
            raise RuntimeError("Embedding.backward called before forward")
        ids = self._ids
        if dy.shape != (ids.shape[0], ids.shape[1] * self.dim if ids.ndim == 2 else self.dim):
            raise ValueError(f"dy has shape {dy.shape}, the last forward gave {(ids.shape[0], -1)}")
        flat = np.ascontiguousarray(ids.reshape(-1), dtype=np.int64)
        per_use = np.ascontiguousarray(dy.reshape(flat.size, self.dim), dtype=self.dtype)
        unique = np.empty_like(flat)
        summed = np.empty_like(per_use)
        n = K.sum_duplicate_rows(flat, per_use, unique, summed) if flat.size else 0
        self.rows, self.grad_rows = unique[:n], summed[:n]
        return None

    def dense_grad(self) -> np.ndarray:
        """The last gradient as a dense table (zeros outside ``rows``), in a buffer reused by each call."""
        if self._dense_grad is None:
            self._dense_grad = np.zeros_like(self.C)
        else:
            self._dense_grad[...] = 0
        self._dense_grad[self.rows] = self.grad_rows
        return self._dense_grad

    def params(self):
        return {"C": self.C}

    def grads(self):
        return {"C": self.dense_grad()}

    def spec(self):
        init = list(self.init) if isinstance(self.init, tuple) else self.init
        return {"type": "embedding", "n_rows": self.n_rows, "dim": self.dim, "init": init}

    def __repr__(self):
        return f"Embedding({self.n_rows}, {self.dim})"


class ActivationLayer(Layer):
    """An :class:`~lmkit.nn.activations.Activation` as a layer; keeps its last input as ``pre``
    (the pre-activation a monitor reads).  A PReLU's slope is ``alpha``; other learned arrays
    (none today) would be ``param0``, ``param1``, ..."""

    def __init__(self, act: Activation) -> None:
        if not isinstance(act, Activation):
            raise ValueError(f"act must be a lmkit.nn Activation, got {type(act).__name__}")
        self.part = self.act = act
        self.kind = act.name
        self.pre: np.ndarray | None = None

    def forward(self, x, train=False):
        self.pre = x
        return self.act.forward(x)

    def backward(self, dy):
        return self.act.backward(dy)

    def _names(self) -> list[str]:
        return ["alpha"] if self.act.name == "prelu" else [f"param{i}" for i in range(len(self.act.params))]

    def params(self):
        return dict(zip(self._names(), self.act.params))

    def grads(self):
        return dict(zip(self._names(), self.act.grads))

    def spec(self):
        act = self.act
        args = {"leaky_relu": lambda: {"slope": act.slope}, "elu": lambda: {"alpha": act.alpha},
                "maxout": lambda: {"k": act.k}, "prelu": lambda: {"units": int(act.alpha.size)}}
        return {"type": "activation", "name": act.name, "args": args.get(act.name, dict)()}

    def __repr__(self):
        return repr(self.act)


class BatchNormLayer(Layer):
    """:class:`~lmkit.nn.batchnorm.BatchNorm` as a layer: ``gamma``, ``beta``; buffers
    ``running_mean``, ``running_var``."""

    kind = "bn"

    def __init__(self, bn: BatchNorm) -> None:
        self.part = self.bn = bn

    def forward(self, x, train=False):
        return self.bn.forward(x, train)

    def backward(self, dy):
        return self.bn.backward(dy)

    def params(self):
        return {"gamma": self.bn.gamma, "beta": self.bn.beta}

    def grads(self):
        return {"gamma": self.bn.grad_gamma, "beta": self.bn.grad_beta}

    def buffers(self):
        return {"running_mean": self.bn.running_mean, "running_var": self.bn.running_var}

    def spec(self):
        return {"type": "batchnorm", "n_features": self.bn.n_features, "momentum": self.bn.momentum,
                "eps": self.bn.eps}

    def __repr__(self):
        return repr(self.bn)


class DropoutLayer(Layer):
    """:class:`~lmkit.nn.dropout.Dropout` as a layer (no arrays)."""

    kind = "dropout"

    def __init__(self, dropout: Dropout) -> None:
        self.part = self.dropout = dropout

    def forward(self, x, train=False):
        return self.dropout.forward(x, train)

    def backward(self, dy):
        return self.dropout.backward(dy)

    def spec(self):
        return {"type": "dropout", "rate": self.dropout.rate}

    def __repr__(self):
        return repr(self.dropout)


def as_layer(item) -> Layer:
    """``item`` itself if it is a :class:`Layer`, else the adapter of an existing part."""
    if isinstance(item, Layer):
        return item
    if isinstance(item, Activation):
        return ActivationLayer(item)
    if isinstance(item, BatchNorm):
        return BatchNormLayer(item)
    if isinstance(item, Dropout):
        return DropoutLayer(item)
    raise ValueError(f"a layer must be a Layer (Dense, Embedding), an Activation, BatchNorm or Dropout; "
                     f"got {type(item).__name__}")


def layer_from_spec(spec: dict, *, rng: np.random.Generator, dtype) -> Layer:
    """The layer ``spec`` (from :meth:`Layer.spec`) describes, with fresh arrays."""
    kind = spec.get("type")
    if kind == "dense":
        init = spec.get("init")
        init = tuple(init) if isinstance(init, list) else init
        layer = Dense(spec["n_in"], spec["n_out"], init, bias=spec.get("bias", True), rng=rng, dtype=dtype)
        if "scheme" in spec:  # keep the scheme the Sequential chose, so the spec round-trips
            layer.scheme, layer.gain = spec["scheme"], float(spec["gain"])
        return layer
    if kind == "embedding":
        init = spec.get("init", "lecun")
        return Embedding(spec["n_rows"], spec["dim"], tuple(init) if isinstance(init, list) else init,
                         rng=rng, dtype=dtype)
    if kind == "activation":
        args = dict(spec.get("args", {}))
        if spec["name"] == "prelu":
            args["dtype"] = dtype
        return ActivationLayer(get_activation(spec["name"], **args))
    if kind == "batchnorm":
        return BatchNormLayer(BatchNorm(spec["n_features"], momentum=spec["momentum"], eps=spec["eps"], dtype=dtype))
    if kind == "dropout":
        return DropoutLayer(Dropout(spec["rate"], rng))
    raise ValueError(f"unknown layer type {kind!r} in a network spec")


class Sequential:
    """Layers applied in order.  ``forward(x, train)``, ``backward(grad)``; ``params()``,
    ``grads()``, ``buffers()``, ``state_arrays()`` by name (see the module docstring);
    ``activations()``, each activation layer's last input; ``predict(x)`` in evaluation mode;
    ``save(path)`` / ``Sequential.load(path)`` in lmkit's model format.

    ``layers``: :class:`Layer` objects and existing parts (activations,
    ``BatchNorm``, ``Dropout``), kept in ``self.layers`` as layers (an
    adapter's ``part`` is the object given).  An :class:`Embedding` may only
    come first.  Every ``Dense`` built without ``init`` gets the scheme
    recommended for the activation that follows it.
    """

    def __init__(self, layers: Iterable) -> None:
        self.layers: list[Layer] = [as_layer(item) for item in layers]
        if not self.layers:
            raise ValueError("a Sequential needs at least one layer")
        for i, layer in enumerate(self.layers[1:], start=1):
            if isinstance(layer, Embedding):
                raise ValueError(f"an Embedding must be the first layer (it takes ids), found at position {i}")
        self.names = [f"{layer.kind}{i}" for i, layer in enumerate(self.layers)]
        dtypes = {a.dtype for a in self.state_arrays().values()}
        if len(dtypes) > 1:
            raise ValueError(f"the layers mix dtypes {sorted(str(d) for d in dtypes)}; build them all with one dtype")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        self.history: list[dict] = []  # per-epoch records of the last lmkit.training.fit
        self._choose_inits()

    def _choose_inits(self) -> None:
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Dense) or layer.init is not None:
                continue
            following = None
            for nxt in self.layers[i + 1:]:
                if isinstance(nxt, ActivationLayer):
                    following = nxt.act
                    break
                if isinstance(nxt, (Dense, Embedding)):
                    break
            scheme, gain = resolve_init(None, following)
            if (scheme, gain) != (layer.scheme, layer.gain):
                layer.reset(scheme, gain)

    # -- computation ------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """``x`` (``float[B, n_in]``, or ids for an Embedding) through every layer."""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        """``dL/doutput`` of the last forward back to ``dL/dx`` (``None`` after an Embedding);
        sets every layer's gradients."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """The output for ``x`` in evaluation mode (running statistics, no dropout), ``batch_size`` rows at a time."""
        batch_size = _positive_int("batch_size", batch_size)
        if len(x) <= batch_size:
            return self.forward(x, train=False)
        return np.concatenate([self.forward(x[start:start + batch_size], train=False)
                               for start in range(0, len(x), batch_size)])

    # -- arrays by name ------------------------------------------------------------
    def named_layers(self) -> list[tuple[str, Layer]]:
        return list(zip(self.names, self.layers))

    def params(self) -> dict[str, np.ndarray]:
        """The learned arrays (live), ``"dense0/W"`` style."""
        return {f"{name}/{key}": a for name, layer in self.named_layers() for key, a in layer.params().items()}

    def grads(self) -> dict[str, np.ndarray]:
        """The last backward's gradients, same names and shapes as :meth:`params`."""
        return {f"{name}/{key}": a for name, layer in self.named_layers() for key, a in layer.grads().items()}

    def buffers(self) -> dict[str, np.ndarray]:
        """Saved arrays that are not learned (batch norm's running statistics)."""
        return {f"{name}/{key}": a for name, layer in self.named_layers() for key, a in layer.buffers().items()}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every array that defines the network: :meth:`params` and :meth:`buffers`."""
        return self.params() | self.buffers()

    def load_state_arrays(self, arrays: dict[str, np.ndarray], path: Any = "arrays") -> None:
        """Copy ``arrays`` (named as :meth:`state_arrays`) into the network, checking names and shapes."""
        own = self.state_arrays()
        missing = sorted(set(own) - set(arrays))
        extra = sorted(set(arrays) - set(own))
        if missing or extra:
            raise ValueError(f"{path}: arrays do not match the network: missing {missing or 'none'}, "
                             f"unexpected {extra or 'none'}")
        for name, target in own.items():
            if arrays[name].shape != target.shape:
                raise ValueError(f"{path}: array {name} has shape {arrays[name].shape}, the network has {target.shape}")
            target[...] = arrays[name]

    def activations(self) -> dict[str, tuple[np.ndarray, str]]:
        """``{layer name: (pre-activation of the last forward, activation name)}`` for every
        activation layer that has seen a batch."""
        return {name: (layer.pre, layer.kind) for name, layer in self.named_layers()
                if isinstance(layer, ActivationLayer) and layer.pre is not None}

    # -- description, save, load -------------------------------------------------
    def spec(self) -> dict:
        """A JSON-able description of the network (shapes, activations, rates; no arrays)."""
        return {"dtype": str(self.dtype), "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict, rng=None) -> "Sequential":
        """A network of the shape ``spec`` describes, with fresh weights; ``rng`` (default seed 0)
        drives its dropout masks and the draws."""
        rng = _as_rng(0 if rng is None else rng)
        dtype = np.dtype(spec.get("dtype", "float32"))
        return cls([layer_from_spec(s, rng=rng, dtype=dtype) for s in spec["layers"]])

    def save(self, path) -> Path:
        """Write the network as an lmkit model of kind ``sequential`` (``.npz`` + JSON, no pickle)."""
        from lmkit.io import save_model  # a leaf module: numpy, json, zipfile

        return save_model(path, KIND, self.state_arrays(), {"model_version": MODEL_VERSION, "network": self.spec()})

    @classmethod
    def load(cls, path, rng=None) -> "Sequential":
        """Read a network written by :meth:`save`; ``rng`` drives the dropout masks of further training."""
        from lmkit.io import load_model

        arrays, meta = load_model(path, KIND)
        if meta.get("model_version") != MODEL_VERSION:
            raise ValueError(f"{path}: sequential model version {meta.get('model_version')!r} is not supported "
                             f"(this lmkit reads version {MODEL_VERSION})")
        model = cls.from_spec(meta["network"], rng)
        model.load_state_arrays(arrays, path)
        return model

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {name}: {layer!r}" for name, layer in self.named_layers())
        return f"Sequential(\n{inner}\n)"

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]
