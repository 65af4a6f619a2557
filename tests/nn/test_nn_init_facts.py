"""Why initialization matters, as measured facts.

- A 20-layer ReLU network keeps the second moment of its activations under
  He init, loses it by orders of magnitude under 0.01 * N(0, 1), and halves
  it at every layer under Xavier (Glorot & Bengio 2010; He et al. 2015).
- Zero or constant init leaves every hidden unit of a layer identical after
  training: nothing breaks the symmetry.
"""
import numpy as np
import pytest

from lmkit.nn.activations import get_activation
from lmkit.nn.init import init_weights, leaky_relu_gain
from lmkit.nn.losses import softmax_cross_entropy
from lmkit.nn.optim import SGD

WIDTH, DEPTH, BATCH = 256, 20, 512


def mean_squares(scheme, *, slope=0.0, gain=1.0, seed=0):
    """Mean square of each layer's post-activation output, for unit-variance
    input, through DEPTH layers of (leaky) ReLU."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    out = []
    for _ in range(DEPTH):
        w = init_weights((WIDTH, WIDTH), scheme, rng, gain=gain)
        z = h @ w.T
        h = np.where(z > 0, z, slope * z)
        out.append(float(np.mean(h.astype(np.float64) ** 2)))
    return np.array(out)


def test_he_init_keeps_the_signal_through_20_relu_layers():
    ms = mean_squares("he_normal")
    assert 0.5 < ms[-1] / ms[0] < 2.0
    assert 0.5 < ms[0] < 2.0  # unit input -> unit output
    assert np.all((ms > 0.25) & (ms < 4))


def test_small_init_collapses_the_signal():
    ms = mean_squares("small")
    # each layer multiplies by fan_in * 1e-4 / 2 = 0.0128
    assert ms[-1] / ms[0] < 1e-20
    per_layer = (ms[-1] / ms[0]) ** (1 / (DEPTH - 1))
    assert per_layer == pytest.approx(WIDTH * 1e-4 / 2, rel=0.2)


def test_xavier_halves_the_signal_at_each_relu_layer():
    ms = mean_squares("xavier_normal")
    ratios = ms[1:] / ms[:-1]
    per_layer = (ms[-1] / ms[0]) ** (1 / (DEPTH - 1))
    assert 0.35 < per_layer < 0.65
    assert 0.35 < ratios.mean() < 0.65
    assert ms[-1] / ms[0] < 1e-4


def test_leaky_relu_needs_the_gain():
    slope = 0.5  # keeps (1 + a^2) / 2 = 0.625 of the second moment, not 1/2
    right = mean_squares("he_normal", slope=slope, gain=leaky_relu_gain(slope))
    wrong = mean_squares("he_normal", slope=slope)
    assert 0.5 < right[-1] / right[0] < 2.0
    assert wrong[-1] / wrong[0] > 20  # 1.25 ** 19 ~ 69: explodes without the gain


def train_two_layer_net(scheme, steps=30, seed=0):
    """x(16, 4) -> sigmoid(W1 x + b1) (5 units) -> W2 h + b2 (3 classes), SGD."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 4))
    y = rng.integers(0, 3, 16)
    kw = {"value": 0.3} if scheme == "constant" else {}
    w1 = init_weights((5, 4), scheme, rng, dtype=np.float64, **kw)
    w2 = init_weights((3, 5), scheme, rng, dtype=np.float64, **kw)
    b1, b2 = np.zeros(5), np.zeros(3)
    act, opt = get_activation("sigmoid"), SGD(lr=0.5)
    losses = []
    for _ in range(steps):
        h = act.forward(x @ w1.T + b1)  # (16, 5)
        loss, dlogits = softmax_cross_entropy(h @ w2.T + b2, y)  # (16, 3)
        losses.append(loss)
        dh = act.backward(dlogits @ w2)  # (16, 5)
        opt.step([w1, b1, w2, b2], [dh.T @ x, dh.sum(0), dlogits.T @ h, dlogits.sum(0)])
    return w1, w2, losses


@pytest.mark.parametrize("scheme", ["zeros", "constant"])
def test_symmetric_init_keeps_hidden_units_identical(scheme):
    w1, w2, losses = train_two_layer_net(scheme)
    assert np.abs(w1).max() > 1e-2  # the weights did move (W2 first, then W1) ...
    assert np.abs(w2).max() > 1e-3
    assert losses[-1] < losses[0]  # ... and the loss fell ...
    # ... but every hidden unit has the same incoming and outgoing weights
    np.testing.assert_allclose(w1, np.broadcast_to(w1[0], w1.shape), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w2, np.broadcast_to(w2[:, :1], w2.shape), rtol=1e-12, atol=1e-14)


def test_random_init_breaks_the_symmetry():
    w1, _, losses = train_two_layer_net("xavier_uniform")
    spread = np.ptp(w1, axis=0)  # differences between hidden units
    assert spread.min() > 1e-2
    assert losses[-1] < losses[0]
