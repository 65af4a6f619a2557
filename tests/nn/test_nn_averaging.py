"""Weight averaging: the compiled running average against the formula in float64."""
from __future__ import annotations

import numpy as np
import pytest

from lmkit.nn.averaging import WeightAverage


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exponential_average_matches_the_formula(dtype):
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(5, 7)).astype(dtype), "b": rng.normal(size=3).astype(dtype)}
    average = WeightAverage(params, decay=0.9)
    expected = {name: a.astype(np.float64) for name, a in params.items()}
    for _ in range(20):
        for a in params.values():
            a += rng.normal(size=a.shape).astype(dtype)
        average.update(params)
        expected = {name: 0.9 * expected[name] + 0.1 * params[name] for name in expected}
    for name in params:
        np.testing.assert_allclose(average.averages[name], expected[name], rtol=1e-5 if dtype == np.float32 else 1e-12)
        assert average.averages[name] is not params[name]
    average.reset(params)
    for name in params:
        np.testing.assert_array_equal(average.averages[name], params[name])


def test_bad_input():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage({"W": np.zeros(3, np.float32)}, decay=1.0)
    with pytest.raises(ValueError, match="W: .*float"):
        WeightAverage({"W": np.zeros(3, np.int32)}, decay=0.5)
    with pytest.raises(ValueError, match="W: .*non-contiguous"):
        WeightAverage({"W": np.zeros((4, 4), np.float32)[:, ::2]}, decay=0.5)
    average = WeightAverage({"W": np.zeros(3, np.float32)}, decay=0.5)
    with pytest.raises(ValueError, match="W: shape"):
        average.update({"W": np.zeros(4, np.float32)})
