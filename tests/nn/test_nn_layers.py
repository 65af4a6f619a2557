"""Layers and Sequential: every backward against finite differences (float64), names, the
default initialization by activation, and the save/load round trip."""
import json

import numpy as np
import pytest

from lmkit.io import load_model
from lmkit.nn import (
    ELU,
    BatchNorm,
    Dense,
    Dropout,
    Embedding,
    LeakyReLU,
    Maxout,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    as_layer,
    check_gradient,
    leaky_relu_gain,
    softmax_cross_entropy,
)

F64 = np.float64


def check_layer(layer, x, *, seed=0, tol=1e-5, check_input=True):
    """Finite differences for the input and each parameter of ``layer`` (train mode).
    Relative error < 1e-5, or absolute < 1e-9 for gradients under 1e-4 (``floor``): the central
    difference's rounding noise is ~1e-10 for a loss of a few units; a wrong gradient is off by O(1)."""
    y = layer.forward(x, train=True)
    w = np.random.default_rng(seed).standard_normal(y.shape)
    dx = layer.backward(w)
    grads = {k: g.copy() for k, g in layer.grads().items()}
    loss = lambda: float(np.sum(w * layer.forward(x, train=True)))  # noqa: E731
    if check_input:
        check_gradient(loss, x, dx, tol=tol, floor=1e-4)
    for name, p in layer.params().items():
        check_gradient(loss, p, grads[name], tol=tol, floor=1e-4)
    return dx, grads


def test_dense_backward():
    rng = np.random.default_rng(1)
    layer = Dense(5, 3, rng=rng, dtype=F64)
    layer.b[...] = rng.standard_normal(3)
    x = rng.standard_normal((4, 5))
    dx, grads = check_layer(layer, x)
    assert set(grads) == {"W", "b"} and dx.shape == (4, 5)
    no_bias = Dense(5, 3, bias=False, rng=rng, dtype=F64)
    assert set(no_bias.params()) == {"W"}
    check_layer(no_bias, x)


def test_dense_casts_its_input_and_checks_shapes():
    layer = Dense(3, 2, rng=0)
    y = layer.forward(np.ones((2, 3)))  # float64 in, float32 layer
    assert y.dtype == np.float32 and layer.W.dtype == np.float32
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        layer.forward(np.ones((2, 4), np.float32))
    with pytest.raises(RuntimeError):
        Dense(3, 2, rng=0).backward(np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="n_out"):
        Dense(3, 0)


def test_embedding_sparse_gradient_with_repeated_ids():
    rng = np.random.default_rng(2)
    emb = Embedding(7, 3, rng=rng, dtype=F64)
    ids = np.array([[1, 4], [4, 4], [0, 6]])  # row 4 used three times, 2, 3 and 5 never
    y = emb.forward(ids)
    assert y.shape == (3, 6)
    np.testing.assert_array_equal(y[1], np.r_[emb.C[4], emb.C[4]])
    w = rng.standard_normal(y.shape)
    assert emb.backward(w) is None
    np.testing.assert_array_equal(emb.rows, [0, 1, 4, 6])
    dense = emb.grads()["C"].copy()
    np.testing.assert_allclose(emb.grad_rows[2], w[0, 3:] + w[1, :3] + w[1, 3:])
    assert not dense[[2, 3, 5]].any()
    check_gradient(lambda: float(np.sum(w * emb.forward(ids))), emb.C, dense, tol=1e-6)
    one = emb.forward(np.array([3, 3]))  # 1-D ids: one row each
    assert one.shape == (2, 3)
    with pytest.raises(ValueError, match="outside"):
        emb.forward(np.array([7]))


def test_embedding_rows_are_n01_like_the_nplm_c():
    c = Embedding(20000, 50, rng=0).C
    assert c.dtype == np.float32 and abs(c.std() - 1.0) < 0.01


@pytest.mark.parametrize("act,units", [(Tanh(), 6), (Sigmoid(), 6), (ELU(1.3), 6), (LeakyReLU(0.1), 6),
                                       (PReLU(6, dtype=F64), 6), (Maxout(3), 18)])
def test_activation_layers_backward(act, units):
    rng = np.random.default_rng(3)
    layer = as_layer(act)
    x = rng.standard_normal((4, units)) * 2
    x = np.where(np.abs(x) < 0.05, 0.05 + np.abs(x), x)  # away from the kinks
    if act.name == "prelu":
        act.alpha[...] = rng.uniform(0.05, 0.5, units)
    _, grads = check_layer(layer, x)
    assert layer.kind == act.name and layer.part is act
    assert set(grads) == ({"alpha"} if act.name == "prelu" else set())
    assert layer.pre is x  # the monitor's pre-activation


def test_batchnorm_layer_backward_and_buffers():
    rng = np.random.default_rng(4)
    layer = as_layer(BatchNorm(5, dtype=F64))
    layer.bn.gamma[...] = rng.uniform(0.5, 2, 5)
    layer.bn.beta[...] = rng.standard_normal(5)
    check_layer(layer, rng.standard_normal((8, 5)) * 3 + 1)
    assert set(layer.params()) == {"gamma", "beta"}
    assert set(layer.buffers()) == {"running_mean", "running_var"}
    x = rng.standard_normal((3, 5))
    y = layer.forward(x, train=False)
    np.testing.assert_allclose(y, (x - layer.bn.running_mean) / np.sqrt(layer.bn.running_var + layer.bn.eps)
                               * layer.bn.gamma + layer.bn.beta)


def test_dropout_layer_backward_with_a_fixed_mask():
    x = np.random.default_rng(5).standard_normal((6, 4))
    drop = Dropout(0.4, np.random.default_rng(9))
    layer = as_layer(drop)
    w = np.random.default_rng(6).standard_normal(x.shape)

    def loss():
        drop.rng = np.random.default_rng(9)
        return float(np.sum(w * layer.forward(x, train=True)))

    loss()
    dx = layer.backward(w)
    check_gradient(loss, x, dx, tol=1e-6)
    assert layer.forward(x, train=False) is x


def three_layer_net(rng, dtype=F64):
    """Dense-BN-tanh-dropout, Dense-BN-PReLU-dropout, Dense: three Dense layers with batch norm and dropout."""
    return Sequential([
        Dense(6, 8, rng=rng, dtype=dtype), BatchNorm(8, dtype=dtype), Tanh(), Dropout(0.3, np.random.default_rng(11)),
        Dense(8, 7, rng=rng, dtype=dtype), BatchNorm(7, dtype=dtype), PReLU(7, dtype=dtype),
        Dropout(0.2, np.random.default_rng(12)),
        Dense(7, 4, rng=rng, dtype=dtype),
    ])


def test_sequential_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    model = three_layer_net(rng)
    for name, p in model.params().items():  # move off the initial gammas, betas and biases
        if not name.endswith("/W"):
            p += rng.uniform(-0.3, 0.3, p.shape)
    x = rng.standard_normal((10, 6))
    y = rng.integers(0, 4, 10)
    drops = [layer.part for layer in model.layers if layer.kind == "dropout"]

    def forward():
        for drop, seed in zip(drops, (11, 12)):
            drop.rng = np.random.default_rng(seed)  # the same masks on every call
        return model.forward(x, train=True)

    def loss():
        return softmax_cross_entropy(forward(), y)[0]

    _, dlogits = softmax_cross_entropy(forward(), y)
    dx = model.backward(dlogits)
    grads = {name: g.copy() for name, g in model.grads().items()}
    assert set(grads) == set(model.params()) == {
        "dense0/W", "dense0/b", "bn1/gamma", "bn1/beta", "dense4/W", "dense4/b", "bn5/gamma", "bn5/beta",
        "prelu6/alpha", "dense8/W", "dense8/b"}
    for name, p in model.params().items():  # dense0/b, before batch norm: a zero gradient
        check_gradient(loss, p, grads[name], tol=1e-5, floor=1e-4)
    check_gradient(loss, x, dx, tol=1e-5, floor=1e-4)
    assert all(drop.mask is not None and not drop.mask.all() for drop in drops)  # dropout was on


def test_names_buffers_state_and_activations():
    model = three_layer_net(np.random.default_rng(0), np.float32)
    assert model.names == ["dense0", "bn1", "tanh2", "dropout3", "dense4", "bn5", "prelu6", "dropout7", "dense8"]
    assert set(model.buffers()) == {"bn1/running_mean", "bn1/running_var", "bn5/running_mean", "bn5/running_var"}
    assert set(model.state_arrays()) == set(model.params()) | set(model.buffers())
    assert model.params()["dense0/W"] is model.layers[0].W  # live arrays
    assert model.activations() == {}
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    model.forward(x, train=True)
    acts = model.activations()
    assert list(acts) == ["tanh2", "prelu6"]
    pre, kind = acts["tanh2"]
    assert kind == "tanh" and pre.shape == (5, 8) and pre.dtype == np.float32
    assert acts["prelu6"][1] == "prelu" and acts["prelu6"][0].shape == (5, 7)


def test_default_init_follows_the_next_activation():
    rng = np.random.default_rng(0)
    model = Sequential([Dense(10, 20, rng=rng), BatchNorm(20), ReLU(), Dropout(0.5, rng),
                        Dense(20, 20, rng=rng), Tanh(),
                        Dense(20, 20, rng=rng), LeakyReLU(0.2),
                        Dense(20, 20, "he_uniform", rng=rng), Sigmoid(),
                        Dense(20, 20, ("small", 100.0), rng=rng), Tanh(),
                        Dense(20, 3, rng=rng)])
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert [(d.scheme, round(d.gain, 6)) for d in dense] == [
        ("he_normal", 1.0), ("xavier_uniform", 1.0), ("he_normal", round(leaky_relu_gain(0.2), 6)),
        ("he_uniform", 1.0), ("small", 100.0), ("xavier_uniform", 1.0)]
    big = Sequential([Dense(2000, 2000, rng=0), ReLU()])[0].W
    assert abs(big.std() - np.sqrt(2 / 2000)) < 2e-4  # He: the draw itself was redone
    assert abs(Dense(2000, 2000, ("small", 100.0), rng=0).W.std() - 1.0) < 0.01  # N(0, 1)
    with pytest.raises(ValueError, match="unknown init"):
        Dense(2, 2, "glorot")


def test_sequential_checks_its_layers():
    with pytest.raises(ValueError, match="at least one"):
        Sequential([])
    with pytest.raises(ValueError, match="first layer"):
        Sequential([Dense(2, 2, rng=0), Embedding(3, 2, rng=0)])
    with pytest.raises(ValueError, match="mix dtypes"):
        Sequential([Dense(2, 2, rng=0), Dense(2, 2, rng=0, dtype=F64)])
    with pytest.raises(ValueError, match="a layer must be"):
        Sequential([Dense(2, 2, rng=0), "relu"])


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    model = Sequential([Embedding(11, 4, rng=rng), Dense(12, 16, rng=rng), BatchNorm(16), PReLU(16),
                        Dropout(0.3, rng), Dense(16, 16, rng=rng), Maxout(2), Dense(8, 5, rng=rng), ELU(0.7),
                        Dense(5, 3, "lecun", rng=rng), LeakyReLU(0.05)])
    ids = rng.integers(0, 11, (32, 3))
    for _ in range(3):  # move the running statistics
        model.forward(ids, train=True)
    model.layers[3].act.alpha[...] = rng.uniform(0, 0.5, 16)
    expected = model.predict(ids)
    path = model.save(tmp_path / "mlp.npz")
    loaded = Sequential.load(path)
    np.testing.assert_array_equal(loaded.predict(ids), expected)
    assert loaded.names == model.names
    assert loaded.spec() == model.spec()
    for name, a in model.state_arrays().items():
        np.testing.assert_array_equal(loaded.state_arrays()[name], a)
        assert loaded.state_arrays()[name].dtype == np.float32
    arrays, meta = load_model(path, "sequential")  # lmkit's format: npz + JSON, no pickle
    assert set(arrays) == set(model.state_arrays())
    json.dumps(meta)
    assert meta["network"]["layers"][4] == {"type": "dropout", "rate": 0.3}
    with pytest.raises(ValueError, match="expected 'nplm'"):
        load_model(path, "nplm")


def test_float64_network_round_trips(tmp_path):
    model = three_layer_net(np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((4, 6))
    loaded = Sequential.load(model.save(tmp_path / "f64.npz"))
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_load_state_arrays_checks_names_and_shapes():
    model = Sequential([Dense(3, 2, rng=0)])
    with pytest.raises(ValueError, match="missing"):
        model.load_state_arrays({"dense0/W": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="shape"):
        model.load_state_arrays({"dense0/W": np.zeros((3, 2)), "dense0/b": np.zeros(2)})
