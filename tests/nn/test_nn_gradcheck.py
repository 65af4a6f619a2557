"""The finite-difference checker itself: exact on known gradients, restores
its input, and fails loudly on a wrong gradient."""
import numpy as np
import pytest

from lmkit.nn.gradcheck import check_gradient, max_relative_error, numerical_gradient


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((3, 4))
    f = lambda: float(np.sum(w * x**3) + np.sin(x).sum())  # noqa: E731
    expected = 3 * w * x**2 + np.cos(x)
    got = numerical_gradient(f, x)
    assert max_relative_error(got, expected) < 1e-8


def test_input_restored_bit_for_bit_even_when_f_raises():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5)
    before = x.copy()
    numerical_gradient(lambda: float(np.sum(x**2)), x)
    assert np.array_equal(x, before)

    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(boom, x)
    assert np.array_equal(x, before)


def test_check_gradient_passes_and_fails():
    x = np.array([0.5, -1.5, 2.0])
    f = lambda: float(np.sum(x**2))  # noqa: E731
    assert check_gradient(f, x, 2 * x) < 1e-8
    wrong = 2 * x
    wrong[1] *= 1.001
    with pytest.raises(AssertionError, match=r"index \(1,\)"):
        check_gradient(f, x, wrong)
    with pytest.raises(AssertionError):
        check_gradient(f, x, np.full(3, np.nan))


def test_max_relative_error_floor_and_shapes():
    assert max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert max_relative_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 1.1)
    # both ~0: compared against the floor
    assert max_relative_error(np.array([1e-12]), np.array([0.0]), floor=1e-8) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="shape"):
        max_relative_error(np.zeros(2), np.zeros(3))


def test_rejects_integer_input():
    with pytest.raises(ValueError, match="x"):
        numerical_gradient(lambda: 0.0, np.arange(3))
