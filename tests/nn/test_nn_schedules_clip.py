"""Learning-rate schedules at known steps, ReduceOnPlateau's patience, and
clipping by global norm."""
import logging
import math

import numpy as np
import pytest

from lmkit.nn.clip import clip_grad_norm, global_norm
from lmkit.nn.optim import SGD
from lmkit.nn.schedules import (
    Cooldown,
    ExponentialDecay,
    InverseTimeDecay,
    LinearDecay,
    ReduceOnPlateau,
    StepDecay,
)


def test_linear_decay_word2vec_style():
    s = LinearDecay(0.025, 0.025 * 1e-4, total_steps=1000)
    assert s(0) == 0.025
    assert s(500) == pytest.approx(0.025 - (0.025 - 2.5e-6) * 0.5)
    assert s(1000) == pytest.approx(2.5e-6)
    assert s(5000) == pytest.approx(2.5e-6)  # floor, never 0
    assert all(s(t) >= s(t + 1) for t in range(0, 1100, 7))


def test_inverse_time_decay_bengio_style():
    s = InverseTimeDecay(1e-3, 1e-8)
    assert s(0) == 1e-3
    assert s(10**8) == pytest.approx(5e-4)  # halved after 1/r updates
    assert InverseTimeDecay(0.1, 0.5)(4) == pytest.approx(0.1 / 3)


def test_cooldown_ramps_the_base_schedule_down_to_its_floor():
    base = InverseTimeDecay(0.1, 0.01)
    s = Cooldown(base, start=100, end=300, floor=0.01)
    assert [s(t) for t in (0, 57, 100)] == [base(0), base(57), base(100)]  # untouched before start
    assert s(200) == pytest.approx(base(200) * (1 - 0.99 * 0.5))
    assert s(300) == pytest.approx(base(300) * 0.01)
    assert s(1000) == pytest.approx(base(1000) * 0.01)  # floor, never 0
    assert all(s(t) > s(t + 1) for t in range(100, 400, 3))


def test_step_and_exponential_decay():
    s = StepDecay(0.1, 0.5, every=3)
    assert [s(t) for t in range(7)] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    e = ExponentialDecay(2.0, 0.9)
    assert e(0) == 2.0 and e(3) == pytest.approx(2.0 * 0.729)


def test_reduce_on_plateau_waits_for_patience(caplog):
    s = ReduceOnPlateau(1.0, factor=0.5, patience=2)
    assert s.observe(10.0) == 1.0  # first value is an improvement
    assert s.observe(9.0) == 1.0
    assert s.observe(9.5) == 1.0  # bad 1
    assert s.observe(9.0) == 1.0  # bad 2 (equal is not better)
    with caplog.at_level(logging.INFO, logger="lmkit.nn.schedules"):
        assert s.observe(9.2) == 0.5  # bad 3 > patience: halve
    assert "lr 1 -> 0.5" in caplog.text
    assert s(12345) == 0.5 and s.reductions == 1
    assert s.observe(8.0) == 0.5  # improvement resets the count
    assert [s.observe(8.0) for _ in range(3)] == [0.5, 0.5, 0.25]


def test_reduce_on_plateau_patience_zero_threshold_and_max_mode():
    s = ReduceOnPlateau(0.1, patience=0, threshold=0.01)
    s.observe(100.0)
    assert s.observe(99.5) == 0.05  # < 1 % better: no improvement, halve at once
    assert s.observe(98.0) == 0.05  # > 1 %: improvement
    m = ReduceOnPlateau(1.0, factor=0.1, mode="max", min_lr=0.05)
    m.observe(0.5)
    assert m.observe(0.4) == pytest.approx(0.1)
    assert m.observe(0.3) == 0.05  # floored at min_lr
    with pytest.raises(ValueError, match="metric"):
        m.observe(float("nan"))


def test_schedule_drives_an_optimizer():
    opt, s = SGD(lr=1.0), StepDecay(1.0, 0.1, every=1)
    p = np.zeros(1)
    for t in range(3):
        opt.lr = s(t)
        opt.step([p], [np.ones(1)])
    assert p[0] == pytest.approx(-(1.0 + 0.1 + 0.01))


def test_schedule_errors():
    with pytest.raises(ValueError, match="lr0"):
        LinearDecay(0.0, 0.0, 10)
    with pytest.raises(ValueError, match="lr_min"):
        LinearDecay(0.1, 0.2, 10)
    with pytest.raises(ValueError, match="total_steps"):
        LinearDecay(0.1, 0.01, 0)
    with pytest.raises(ValueError, match="step"):
        LinearDecay(0.1, 0.01, 10)(-1)
    with pytest.raises(ValueError, match=r"^r must"):
        InverseTimeDecay(0.1, -1.0)
    with pytest.raises(ValueError, match="factor"):
        StepDecay(0.1, 2.0, 1)
    with pytest.raises(ValueError, match="every"):
        StepDecay(0.1, 0.5, 0)
    with pytest.raises(ValueError, match="gamma"):
        ExponentialDecay(0.1, 1.5)
    with pytest.raises(ValueError, match="end must"):
        Cooldown(InverseTimeDecay(0.1, 0.0), 10, 10, 0.01)
    with pytest.raises(ValueError, match="start must"):
        Cooldown(InverseTimeDecay(0.1, 0.0), -1, 10, 0.01)
    with pytest.raises(ValueError, match="floor"):
        Cooldown(InverseTimeDecay(0.1, 0.0), 0, 10, 1.5)
    with pytest.raises(ValueError, match="factor"):
        ReduceOnPlateau(0.1, factor=1.0)
    with pytest.raises(ValueError, match="patience"):
        ReduceOnPlateau(0.1, patience=-1)
    with pytest.raises(ValueError, match="mode"):
        ReduceOnPlateau(0.1, mode="up")


def test_clip_grad_norm_scales_to_max_norm():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    expected = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    direction = [g / expected for g in grads]
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(expected, rel=1e-12)  # the norm before clipping
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)
    for g, d in zip(grads, direction):  # direction kept
        np.testing.assert_allclose(g, d, rtol=1e-6)
        assert g.dtype == np.float32


def test_clip_grad_norm_is_a_no_op_below_max_norm():
    grads = [np.array([0.3, 0.4])]
    before = grads[0].copy()
    assert clip_grad_norm(grads, 1.0) == pytest.approx(0.5)
    assert np.array_equal(grads[0], before)
    assert clip_grad_norm([np.array([3.0, 4.0])], 5.0) == 5.0  # at the limit: untouched


def test_clip_grad_norm_nonfinite_and_errors():
    g = [np.array([np.inf, 1.0])]
    assert math.isinf(clip_grad_norm(g, 1.0))
    assert g[0][1] == 1.0  # left alone
    with pytest.raises(ValueError, match="inf or NaN"):
        clip_grad_norm(g, 1.0, error_if_nonfinite=True)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm([np.ones(2)], bad)
    with pytest.raises(ValueError, match=r"grads\[0\]"):
        clip_grad_norm([np.ones(2, dtype=np.int64)], 1.0)
