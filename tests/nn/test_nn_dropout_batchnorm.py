"""Dropout and batch normalization: gradients by finite differences
(float64), the expectations they are built on, and argument errors."""
import numpy as np
import pytest

from lmkit.nn.batchnorm import BatchNorm
from lmkit.nn.dropout import Dropout
from lmkit.nn.gradcheck import check_gradient


def test_dropout_gradient_with_a_fixed_mask():
    x = np.random.default_rng(0).standard_normal((5, 7))
    w = np.random.default_rng(1).standard_normal((5, 7))
    drop = Dropout(0.3, np.random.default_rng(42))

    def loss():
        drop.rng = np.random.default_rng(42)  # same mask on every call
        return float(np.sum(w * drop.forward(x, train=True)))

    loss()
    dx = drop.backward(w)
    check_gradient(loss, x, dx, tol=1e-6)
    kept = drop.mask
    assert kept.dtype == bool and 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dx, w * kept / 0.7)


def test_dropout_is_inverted_and_identity_in_eval():
    rng = np.random.default_rng(3)
    x = np.ones((400, 500), dtype=np.float32)
    drop = Dropout(0.25, rng)
    y = drop.forward(x, train=True)
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs(drop.mask.mean() - 0.75) < 0.005  # keep probability 1 - rate
    assert abs(y.mean() - 1.0) < 0.01  # E[y] = x
    assert drop.forward(x, train=False) is x
    dy = np.full_like(x, 2.0)
    assert drop.backward(dy) is dy
    assert Dropout(0.0, rng).forward(x, train=True) is x


def test_dropout_rate_errors():
    rng = np.random.default_rng(0)
    for bad in (-0.1, 1.0, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="rate"):
            Dropout(bad, rng)
    with pytest.raises(ValueError, match="rng"):
        Dropout(0.5, 123)


def test_batchnorm_train_gradients():
    rng = np.random.default_rng(4)
    bn = BatchNorm(6, dtype=np.float64)
    bn.gamma[...] = rng.uniform(0.5, 2.0, 6)
    bn.beta[...] = rng.standard_normal(6)
    x = rng.standard_normal((8, 6)) * 3 + 1
    w = rng.standard_normal((8, 6))
    loss = lambda: float(np.sum(w * bn.forward(x, train=True)))  # noqa: E731
    loss()
    dx = bn.backward(w)
    grad_gamma, grad_beta = bn.grad_gamma.copy(), bn.grad_beta.copy()
    check_gradient(loss, x, dx, tol=1e-6)
    check_gradient(loss, bn.gamma, grad_gamma, tol=1e-6)
    check_gradient(loss, bn.beta, grad_beta, tol=1e-6)
    assert bn.grads[0] is bn.grad_gamma and bn.params[1] is bn.beta


def test_batchnorm_eval_gradient_and_leading_axes():
    rng = np.random.default_rng(5)
    bn = BatchNorm(4, dtype=np.float64)
    bn.running_mean[...] = rng.standard_normal(4)
    bn.running_var[...] = rng.uniform(0.5, 2, 4)
    bn.gamma[...] = rng.uniform(0.5, 2.0, 4)
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((2, 3, 4))
    loss = lambda: float(np.sum(w * bn.forward(x, train=False)))  # noqa: E731
    loss()
    check_gradient(loss, x, bn.backward(w), tol=1e-6)


def test_batchnorm_normalizes_and_tracks_running_statistics():
    rng = np.random.default_rng(6)
    bn = BatchNorm(3, momentum=0.5)
    x = (rng.standard_normal((64, 3)) * [1.0, 5.0, 0.1] + [0.0, -3.0, 10.0]).astype(np.float32)
    y = bn.forward(x, train=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-4)  # float32 centering of mean 10
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-3)
    # running = 0.5 * initial + 0.5 * batch (unbiased variance)
    np.testing.assert_allclose(bn.running_mean, 0.5 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(axis=0, ddof=1), rtol=1e-5)
    for _ in range(40):
        bn.forward(x, train=True)
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=0), rtol=1e-4, atol=1e-5)
    y_eval = bn.forward(x, train=False)  # running stats ~ batch stats now
    np.testing.assert_allclose(y_eval, y, atol=0.05)


def test_batchnorm_errors():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match="batch of size 1"):
        bn.forward(np.zeros((1, 3), dtype=np.float32), train=True)
    bn.forward(np.zeros((1, 3), dtype=np.float32), train=False)  # eval is fine
    with pytest.raises(ValueError, match="x must have shape"):
        bn.forward(np.zeros((4, 2), dtype=np.float32), train=True)
    with pytest.raises(ValueError, match="n_features"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=1.0)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=0.0)
    with pytest.raises(RuntimeError):
        BatchNorm(3).backward(np.zeros((2, 3)))
