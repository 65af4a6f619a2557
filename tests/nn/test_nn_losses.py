"""Losses: gradients by finite differences (float64), values against naive
formulas, stability for huge inputs, argument errors."""
import numpy as np
import pytest

from lmkit.nn.gradcheck import check_gradient
from lmkit.nn.losses import log_softmax, mse, softmax_cross_entropy


def naive_cross_entropy(logits, targets):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(targets)), targets])))


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 7)) * 2
    targets = np.array([0, 6, 3, 3, 1])
    loss, d = softmax_cross_entropy(logits, targets)
    assert loss == pytest.approx(naive_cross_entropy(logits, targets), rel=1e-12)
    assert d.shape == logits.shape and d.dtype == np.float64
    check_gradient(lambda: softmax_cross_entropy(logits, targets)[0], logits, d, tol=1e-6)
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)  # rows of p - onehot sum to 0


def test_softmax_cross_entropy_in_place_output():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 9)).astype(np.float32)
    targets = np.array([1, 2, 3, 8], dtype=np.int32)
    loss_ref, d_ref = softmax_cross_entropy(logits.copy(), targets)
    buf = logits.copy()
    loss, d = softmax_cross_entropy(buf, targets, out=buf)
    assert d is buf and loss == loss_ref
    np.testing.assert_array_equal(d, d_ref)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e30, 0.0, -1e30], [5e4, 5e4 + 2.0, 5e4 - 1.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = softmax_cross_entropy(logits, np.array([1, 2]))
    shifted = np.array([[0.0, -1e30, -2e30], [0.0, 2.0, -1.0]])
    row2 = -(-1.0 - np.log(np.exp(shifted[1]).sum()))
    assert loss == pytest.approx((1e30 + row2) / 2, rel=1e-6)
    assert np.all(np.isfinite(d))
    ls = log_softmax(logits)
    assert np.all(np.isfinite(ls[1])) and ls[0, 0] == 0.0


def test_log_softmax_matches_naive_and_keeps_dtype():
    x = np.random.default_rng(2).standard_normal((2, 3, 6)).astype(np.float32)
    out = log_softmax(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    x64 = x.astype(np.float64)
    naive = x64 - np.log(np.exp(x64).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, naive, rtol=1e-5, atol=1e-6)


def test_mse_value_and_gradient():
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss, d = mse(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2))
    check_gradient(lambda: mse(pred, target)[0], pred, d, tol=1e-6)


def test_loss_errors():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match="targets"):
        softmax_cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="targets"):
        softmax_cross_entropy(logits, np.array([0, -1]))
    with pytest.raises(ValueError, match="targets"):
        softmax_cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="targets"):
        softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="logits"):
        softmax_cross_entropy(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="out"):
        softmax_cross_entropy(logits, np.array([0, 1]), out=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="target"):
        mse(np.zeros(3), np.zeros(4))
