"""Activations: values against their formulas, gradients against finite
differences (float64, relative error < 1e-6), stability, errors."""
import numpy as np
import pytest

from lmkit.nn.activations import ACTIVATIONS, get_activation, recommended_init
from lmkit.nn.gradcheck import check_gradient
from lmkit.nn.init import leaky_relu_gain

PARAMS = {
    "sigmoid": {},
    "tanh": {},
    "relu": {},
    "leaky_relu": {"slope": 0.1},
    "prelu": {"units": 6, "dtype": np.float64},
    "elu": {"alpha": 1.3},
    "maxout": {"k": 3},
    "identity": {},
}


def away_from_kinks(shape, seed):
    """Random float64 inputs with |x| >= 0.05 (ReLU-family kinks at 0 are
    where finite differences straddle two slopes)."""
    x = np.random.default_rng(seed).standard_normal(shape) * 2.0
    return np.where(np.abs(x) < 0.05, 0.05 + np.abs(x), x)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradient_matches_finite_differences(name):
    act = get_activation(name, **PARAMS[name])
    in_units = 18 if name == "maxout" else 6
    x = away_from_kinks((4, in_units), seed=1)
    y = act.forward(x)
    w = np.random.default_rng(2).standard_normal(y.shape)  # loss = sum(w * y)
    dx = act.backward(w)
    assert dx.shape == x.shape and dx.dtype == np.float64
    check_gradient(lambda: float(np.sum(w * act.forward(x))), x, dx, tol=1e-6)


def test_prelu_gradient_wrt_alpha_and_any_leading_axes():
    act = get_activation("prelu", units=5, dtype=np.float64)
    act.alpha[...] = np.random.default_rng(3).uniform(0.05, 0.5, 5)
    x = away_from_kinks((2, 3, 5), seed=4)
    w = np.random.default_rng(5).standard_normal((2, 3, 5))
    act.forward(x)
    dx = act.backward(w)
    grad_alpha = act.grad_alpha.copy()
    assert act.grads[0] is act.grad_alpha and act.params[0] is act.alpha
    f = lambda: float(np.sum(w * act.forward(x)))  # noqa: E731
    check_gradient(f, act.alpha, grad_alpha, tol=1e-6)
    check_gradient(f, x, dx, tol=1e-6)
    np.testing.assert_allclose(grad_alpha, np.sum(w * np.minimum(x, 0), axis=(0, 1)))


def test_values_against_formulas_float32():
    x = np.linspace(-4, 4, 33, dtype=np.float32).reshape(3, 11)
    expect = {
        "sigmoid": 1 / (1 + np.exp(-x.astype(np.float64))),
        "tanh": np.tanh(x),
        "relu": np.maximum(x, 0),
        "leaky_relu": np.where(x > 0, x, 0.1 * x),
        "elu": np.where(x > 0, x, 1.3 * (np.exp(x.astype(np.float64)) - 1)),
        "identity": x,
    }
    for name, ref in expect.items():
        y = get_activation(name, **PARAMS[name]).forward(x)
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-7, err_msg=name)


def test_maxout_groups_adjacent_pieces():
    x = np.array([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])  # units 2, k 3
    act = get_activation("maxout", k=3)
    np.testing.assert_array_equal(act.forward(x), [[5.0, -1.0]])
    np.testing.assert_array_equal(act.backward(np.array([[10.0, 20.0]])),
                                  [[0, 10.0, 0, 20.0, 0, 0]])
    with pytest.raises(ValueError, match="k=3"):
        act.forward(np.zeros((1, 4)))


def test_sigmoid_is_stable_for_huge_inputs():
    act = get_activation("sigmoid")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act.forward(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [0.0, np.exp(-100.0), 0.5, 1.0, 1.0], rtol=1e-6, atol=1e-40)
    assert y[0] >= 0 and y[-1] <= 1
    elu = get_activation("elu")
    with np.errstate(over="raise", invalid="raise"):
        assert np.isfinite(elu.forward(np.array([1e4, -1e4]))).all()


def test_parameter_free_activations_have_no_params():
    for name in ACTIVATIONS:
        act = get_activation(name, **PARAMS[name])
        assert (act.params == []) == (name != "prelu")
        assert len(act.params) == len(act.grads)


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match="name") as e:
        get_activation("swish")
    assert "relu" in str(e.value)  # lists the valid ones
    with pytest.raises(ValueError, match="slope"):
        get_activation("leaky_relu", slope=-1.0)
    with pytest.raises(ValueError, match="gain"):
        get_activation("tanh", gain=2.0)
    with pytest.raises(ValueError, match="units"):
        get_activation("prelu", units=0)
    with pytest.raises(ValueError, match="alpha"):
        get_activation("elu", alpha=0.0)
    with pytest.raises(ValueError, match="k"):
        get_activation("maxout", k=0)
    with pytest.raises(RuntimeError, match="before forward"):
        get_activation("tanh").backward(np.zeros(3))
    act = get_activation("relu")
    act.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dy"):
        act.backward(np.zeros((3, 2)))


def test_recommended_init():
    assert recommended_init("tanh") == ("xavier_uniform", 1.0)
    assert recommended_init("sigmoid")[0].startswith("xavier")
    assert recommended_init("relu") == ("he_normal", 1.0)
    assert recommended_init("leaky_relu", slope=0.2) == ("he_normal", leaky_relu_gain(0.2))
    assert recommended_init("prelu") == ("he_normal", leaky_relu_gain(0.25))
    with pytest.raises(ValueError, match="name"):
        recommended_init("nope")
