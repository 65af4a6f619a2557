"""Initializers: the moments of a large draw match each formula, the fan and
gain conventions, reproducibility, and argument errors."""
import math

import numpy as np
import pytest

from lmkit.nn.init import SCHEMES, fan_in_fan_out, init_weights, leaky_relu_gain, scheme_std

SHAPE = (400, 2500)  # dense (out, in): fan_in 2500, fan_out 400; 1e6 draws
FAN_IN, FAN_OUT = 2500, 400

# (scheme, gain) -> variance written out from the papers, not from the module
EXPECTED_VARIANCE = {
    ("small", 1.0): 0.01**2,
    ("lecun", 1.0): 1.0 / FAN_IN,
    ("lecun", 1.5): 1.5**2 / FAN_IN,
    ("xavier_normal", 1.0): 2.0 / (FAN_IN + FAN_OUT),
    ("xavier_uniform", 1.0): (math.sqrt(6.0 / (FAN_IN + FAN_OUT))) ** 2 / 3,
    ("xavier_uniform", 2.0): (2 * math.sqrt(6.0 / (FAN_IN + FAN_OUT))) ** 2 / 3,
    ("he_normal", 1.0): 2.0 / FAN_IN,
    ("he_normal", 0.5): 0.25 * 2.0 / FAN_IN,
    ("he_uniform", 1.0): (math.sqrt(6.0 / FAN_IN)) ** 2 / 3,
}


@pytest.mark.parametrize("scheme,gain", sorted(EXPECTED_VARIANCE))
def test_moments_of_a_large_draw(scheme, gain):
    w = init_weights(SHAPE, scheme, np.random.default_rng(0), gain=gain)
    assert w.shape == SHAPE and w.dtype == np.float32
    var = EXPECTED_VARIANCE[(scheme, gain)]
    n = w.size
    w64 = w.astype(np.float64)
    assert abs(w64.mean()) < 5 * math.sqrt(var / n)
    assert w64.var() == pytest.approx(var, rel=0.01)  # sampling error ~0.14 %
    assert scheme_std(scheme, FAN_IN, FAN_OUT, gain) == pytest.approx(math.sqrt(var))
    if scheme.endswith("uniform"):
        bound = math.sqrt(3 * var)
        assert np.abs(w64).max() <= bound * (1 + 1e-6)
        assert np.abs(w64).max() > 0.999 * bound  # fills the interval
        hist, _ = np.histogram(w64, bins=10, range=(-bound, bound))
        assert hist.min() > 0.95 * n / 10  # flat
    else:  # Gaussian: kurtosis 3
        assert np.mean(w64**4) / w64.var() ** 2 == pytest.approx(3.0, rel=0.03)


def test_constant_schemes_and_dtype():
    rng = np.random.default_rng(0)
    assert not init_weights((3, 4), "zeros", rng).any()
    c = init_weights((3, 4), "constant", rng, value=0.5, dtype=np.float64)
    assert c.dtype == np.float64 and np.all(c == 0.5)
    assert init_weights((3, 4), "he_normal", rng, dtype=np.float64).dtype == np.float64


def test_same_seed_same_weights():
    a = init_weights((50, 30), "xavier_uniform", np.random.default_rng(7))
    b = init_weights((50, 30), "xavier_uniform", np.random.default_rng(7))
    c = init_weights((50, 30), "xavier_uniform", np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_fan_convention():
    assert fan_in_fan_out((300, 100)) == (100, 300)  # (out, in)
    assert fan_in_fan_out((7,)) == (7, 7)
    assert fan_in_fan_out((8, 3, 5, 5)) == (75, 200)
    assert fan_in_fan_out((10000, 60), layout="embedding") == (1, 60)
    emb = init_weights((2000, 500), "lecun", np.random.default_rng(1), layout="embedding")
    assert emb.var() == pytest.approx(1.0, rel=0.01)  # one-hot input: N(0, 1) rows


def test_leaky_relu_gain_gives_he_et_al_variance():
    for slope in (0.0, 0.01, 0.25, 1.0):
        gain = leaky_relu_gain(slope)
        std = scheme_std("he_normal", FAN_IN, FAN_OUT, gain)
        assert std**2 * FAN_IN == pytest.approx(2.0 / (1.0 + slope**2))  # He et al. eq. 15
    assert leaky_relu_gain(0.0) == 1.0


def test_errors_name_the_parameter():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="scheme") as e:
        init_weights((3, 3), "glorot", rng)
    for valid in SCHEMES:
        assert valid in str(e.value)
    with pytest.raises(ValueError, match="rng"):
        init_weights((3, 3), "lecun", 0)
    with pytest.raises(ValueError, match="gain"):
        init_weights((3, 3), "lecun", rng, gain=0.0)
    with pytest.raises(ValueError, match="dtype"):
        init_weights((3, 3), "lecun", rng, dtype=np.int32)
    with pytest.raises(ValueError, match="shape"):
        init_weights((3, 0), "lecun", rng)
    with pytest.raises(ValueError, match="layout"):
        fan_in_fan_out((3, 3), layout="conv")
    with pytest.raises(ValueError, match="slope"):
        leaky_relu_gain(-0.1)
