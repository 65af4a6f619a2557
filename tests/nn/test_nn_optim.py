"""Optimizers: each update against its formula written out here (not the
implementation's code), convergence on an ill-conditioned quadratic, Adam's
bias correction, the two weight decays, the sparse row updates (lazy
semantics, duplicates, equality with the dense step), argument errors."""
import math

import numpy as np
import pytest

from lmkit.nn.optim import OPTIMIZERS, SGD, SPLIT_MIN_SIZE, Adam, _as_table, _pieces, make_optimizer
from lmkit.nn.schedules import ExponentialDecay

# Non-default hyperparameters, so a mixed-up constant shows.
HYPER = {
    "sgd": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.8),
    "nesterov": dict(lr=0.1, momentum=0.7),
    "adagrad": dict(lr=0.3, eps=1e-3),
    "rmsprop": dict(lr=0.05, rho=0.8, eps=1e-3),
    "adadelta": dict(lr=0.9, rho=0.85, eps=1e-3),
    "adam": dict(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-3),
}


def reference_update(name, hp, p, g, st):
    """One step of optimizer ``name`` in float64, from the papers' formulas.
    ``st`` (a dict of arrays shaped like ``p`` and the count ``t``) is
    updated; returns the new ``p``."""
    lr = hp["lr"]
    g = g + hp.get("weight_decay", 0.0) * p  # coupled L2
    shrink = lr * hp.get("decoupled_weight_decay", 0.0) * p  # AdamW
    if name == "sgd":
        step = -lr * g
    elif name == "momentum":  # Sutskever et al. 2013, eq. 1-2
        st["v"] = hp["momentum"] * st["v"] - lr * g
        step = st["v"]
    elif name == "nesterov":  # Bengio et al. 2013, eq. 7
        v_prev = st["v"].copy()
        st["v"] = hp["momentum"] * st["v"] - lr * g
        step = -hp["momentum"] * v_prev + (1 + hp["momentum"]) * st["v"]
    elif name == "adagrad":  # Duchi et al. 2011
        st["a"] = st["a"] + g**2
        step = -lr * g / (np.sqrt(st["a"]) + hp["eps"])
    elif name == "rmsprop":  # Tieleman & Hinton 2012
        st["a"] = hp["rho"] * st["a"] + (1 - hp["rho"]) * g**2
        step = -lr * g / (np.sqrt(st["a"]) + hp["eps"])
    elif name == "adadelta":  # Zeiler 2012, Algorithm 1
        rho, eps = hp["rho"], hp["eps"]
        st["a"] = rho * st["a"] + (1 - rho) * g**2
        dx = -np.sqrt(st["b"] + eps) / np.sqrt(st["a"] + eps) * g
        st["b"] = rho * st["b"] + (1 - rho) * dx**2
        step = lr * dx
    elif name == "adam":  # Kingma & Ba 2015, Algorithm 1
        b1, b2 = hp["beta1"], hp["beta2"]
        st["t"] += 1
        st["a"] = b1 * st["a"] + (1 - b1) * g
        st["b"] = b2 * st["b"] + (1 - b2) * g**2
        m_hat = st["a"] / (1 - b1 ** st["t"])
        v_hat = st["b"] / (1 - b2 ** st["t"])
        step = -lr * m_hat / (np.sqrt(v_hat) + hp["eps"])
    else:
        raise AssertionError(name)
    return p + step - shrink


def fresh_state(shape):
    return {"v": np.zeros(shape), "a": np.zeros(shape), "b": np.zeros(shape), "t": 0}


@pytest.mark.parametrize("strided", [False, True])  # C-contiguous params, or views into larger arrays
@pytest.mark.parametrize("decay", [{}, {"weight_decay": 0.1}, {"decoupled_weight_decay": 0.2}])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_dense_step_matches_the_formula(name, decay, strided):
    hp = {**HYPER[name], **decay}
    rng = np.random.default_rng(0)
    p_base, b_base = rng.standard_normal((3, 8)), rng.standard_normal(10)
    p, b = (p_base[:, ::2], b_base[::2]) if strided else (p_base[:, :4].copy(), b_base[:5].copy())
    untouched = p_base[:, 1::2].copy(), b_base[1::2].copy()
    ref_p, ref_b = p.copy(), b.copy()
    st_p, st_b = fresh_state(p.shape), fresh_state(b.shape)
    opt = make_optimizer(name, **hp)
    for _ in range(5):
        gp, gb = rng.standard_normal(p.shape), rng.standard_normal(b.shape) * 10
        gp_copy = gp.copy()
        opt.step([p, b], [gp, gb])
        assert np.array_equal(gp, gp_copy)  # gradients are read, never written
        ref_p = reference_update(name, hp, ref_p, gp, st_p)
        ref_b = reference_update(name, hp, ref_b, gb, st_b)
        np.testing.assert_allclose(p, ref_p, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, ref_b, rtol=1e-12, atol=1e-14)
    if strided:  # the update went into the views, nowhere else
        np.testing.assert_array_equal(p_base[:, 1::2], untouched[0])
        np.testing.assert_array_equal(b_base[1::2], untouched[1])
        with pytest.raises(ValueError, match=r"params\[0\] must be C-contiguous or at most 2-D"):
            make_optimizer(name, **hp).step([np.zeros((2, 3, 4))[:, :, ::2]], [np.zeros((2, 3, 2))])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_threaded_dense_step_is_bit_identical_to_one_thread(name):
    """Large arrays split over threads; the small, the strided and the 1-D odd-sized alike."""
    hp = {**HYPER[name], "weight_decay": 0.01, "decoupled_weight_decay": 0.02}
    rng = np.random.default_rng(3)
    big_base = rng.standard_normal((SPLIT_MIN_SIZE // 100 + 3, 2 * 101)).astype(np.float32)
    params = [big_base[:, :101].copy(),  # C-contiguous, split
              rng.standard_normal(SPLIT_MIN_SIZE + 37).astype(np.float32),  # 1-D, odd size, split
              big_base[:, ::2],  # strided: updated row by row, not split
              rng.standard_normal(50).astype(np.float32)]  # small: not split
    one, split = make_optimizer(name, **hp), make_optimizer(name, **hp)
    mine = [p.copy() for p in params]
    for _ in range(3):
        grads = [(rng.standard_normal(p.shape) * 3).astype(np.float32) for p in params]
        one.step(params, grads)
        split.step(mine, grads, threads=3)
    for a, b in zip(params, mine):
        assert np.array_equal(a, b)
    for index, st in one.state.items():
        assert st["t"] == split.state[index]["t"]
        for moment in one._state_names:
            assert np.array_equal(st[moment], split.state[index][moment])


def test_dense_step_pieces_cover_the_array_once_on_aligned_bounds():
    size = SPLIT_MIN_SIZE + 37
    p, g = np.zeros(size, np.float32), np.zeros(size, np.float32)
    st = {"t": 0, "m": np.zeros(size, np.float32)}
    table, _, grad_rows, view = _as_table(p, g, st, ("m",), "p")
    pieces = _pieces(table, grad_rows, view, ("m",), 3)
    assert len(pieces) == 3
    starts = [int((piece[0].__array_interface__["data"][0] - p.ctypes.data) // 4) for piece in pieces]
    widths = [piece[0].shape[1] for piece in pieces]
    assert starts[0] == 0 and all(s % 64 == 0 for s in starts)
    assert [a + w for a, w in zip(starts, widths)] == starts[1:] + [size]
    assert all(piece[1].shape == piece[0].shape == piece[2]["m"].shape for piece in pieces)
    assert len(_pieces(table[:, :SPLIT_MIN_SIZE - 1], grad_rows, view, ("m",), 3)) == 1
    with pytest.raises(ValueError, match="threads"):
        Adam().step([p], [g], threads=0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_step_is_in_place_and_close_to_float64(name):
    hp = {**HYPER[name], "weight_decay": 0.01}
    rng = np.random.default_rng(1)
    p = rng.standard_normal((6, 5)).astype(np.float32)
    ref = p.astype(np.float64)
    st = fresh_state(p.shape)
    opt = make_optimizer(name, **hp)
    buffer = p.__array_interface__["data"][0]
    for _ in range(4):
        g = rng.standard_normal(p.shape).astype(np.float32)
        opt.step([p], [g])
        ref = reference_update(name, hp, ref, g.astype(np.float64), st)
    assert p.dtype == np.float32 and p.__array_interface__["data"][0] == buffer
    np.testing.assert_allclose(p, ref, rtol=2e-5, atol=2e-6)


def test_float32_adam_step_is_float32_arithmetic_correctly_rounded():
    """A float32 table is updated in float32 arithmetic, every operation correctly rounded: bit for bit
    the float32 numpy twin below (same order of operations as the kernel).  Computing in float64 and
    rounding once (1.6x slower on a large output layer) or dividing by reciprocal estimates (which differ
    between the vectorized body and the remainder) both fail it."""
    hp = dict(HYPER["adam"], weight_decay=0.01, decoupled_weight_decay=0.02)
    rng = np.random.default_rng(4)
    p = rng.standard_normal(10_007).astype(np.float32)
    twin, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    opt = make_optimizer("adam", **hp)
    f32 = np.float32
    lr, b1, b2, eps, wd = (f32(hp[k]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay"))
    decay = f32(1.0 - hp["lr"] * hp["decoupled_weight_decay"])
    for t in range(1, 4):
        g = (rng.standard_normal(p.shape) * 10.0 ** rng.integers(-4, 2, p.shape)).astype(np.float32)
        opt.step([p], [g])
        bc1, bc2 = f32(1.0 - hp["beta1"] ** t), f32(1.0 - hp["beta2"] ** t)
        g = g + wd * twin
        m = b1 * m + f32(1.0 - hp["beta1"]) * g
        v = b2 * v + f32(1.0 - hp["beta2"]) * g * g
        twin = decay * twin - lr * (m / bc1) / (np.sqrt(v / bc2) + eps)
        assert twin.dtype == np.float32
        np.testing.assert_array_equal(p, twin)


# lr and steps chosen per optimizer; AdaDelta with a constant rate does not
# settle (its step ~ sqrt(Edx + eps) / sqrt(Eg + eps) grows again as the
# gradient vanishes near the minimum), so it runs under a decaying rate.
QUADRATIC = {
    "sgd": (dict(lr=0.015), 500),
    "momentum": (dict(lr=0.005, momentum=0.9), 300),
    "nesterov": (dict(lr=0.005, momentum=0.9), 300),
    "adagrad": (dict(lr=0.5), 200),
    "rmsprop": (dict(lr=0.01), 400),
    "adadelta": (dict(), 2000),
    "adam": (dict(lr=0.05), 400),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_minimizes_an_ill_conditioned_quadratic(name):
    curvature = np.array([1.0, 100.0])  # f = (x^2 + 100 y^2) / 2, condition number 100
    kwargs, steps = QUADRATIC[name]
    opt = make_optimizer(name, **kwargs)
    schedule = ExponentialDecay(1.0, 0.998) if name == "adadelta" else None
    p = np.array([1.0, 1.0])
    f0 = 0.5 * np.sum(curvature * p * p)
    for t in range(steps):
        if schedule is not None:
            opt.lr = schedule(t)
        opt.step([p], [curvature * p])
    assert 0.5 * np.sum(curvature * p * p) < 1e-4 * f0
    assert np.abs(p).max() < 0.01


def test_adam_first_step_is_lr_per_coordinate_whatever_the_scale():
    p = np.zeros(5)
    g = np.array([1e-3, -0.5, 2.0, -1e2, 1e4])
    Adam(lr=0.01).step([p], [g])
    np.testing.assert_allclose(p, -0.01 * np.sign(g), rtol=1e-4)  # bias correction at t = 1
    q = np.zeros(5)
    Adam(lr=0.01, eps=0.0 + 1e-30).step([q], [g])
    np.testing.assert_allclose(q, -0.01 * np.sign(g), rtol=1e-12)


def test_adam_counts_steps_per_parameter():
    opt = Adam(lr=0.1)
    p, q = np.zeros(3), np.zeros(2)
    for _ in range(3):
        opt.step([p, q], [np.ones(3), np.ones(2)])
    assert opt.state[0]["t"] == 3 and opt.state[1]["t"] == 3


def test_coupled_and_decoupled_weight_decay():
    p0 = np.array([1.0, -2.0, 0.5])
    zero = np.zeros(3)
    # SGD: identical -- both shrink p by lr * wd * p
    a, b = p0.copy(), p0.copy()
    SGD(lr=0.1, weight_decay=0.3).step([a], [zero])
    SGD(lr=0.1, decoupled_weight_decay=0.3).step([b], [zero])
    np.testing.assert_allclose(a, p0 * (1 - 0.03))
    np.testing.assert_allclose(b, a)
    # Adam: the coupled decay goes through the normalization, so its first
    # step is lr * sign(p) whatever wd is; the decoupled one is exactly
    # p * (1 - lr * wd) (Loshchilov & Hutter 2019)
    for wd in (1e-3, 1.0):
        c, d = p0.copy(), p0.copy()
        Adam(lr=0.01, weight_decay=wd).step([c], [zero])
        Adam(lr=0.01, decoupled_weight_decay=wd).step([d], [zero])
        np.testing.assert_allclose(c, p0 - 0.01 * np.sign(p0), rtol=1e-5)
        np.testing.assert_allclose(d, p0 * (1 - 0.01 * wd), rtol=1e-12)


# -- sparse rows ---------------------------------------------------------------


def test_sgd_step_rows_with_all_rows_equals_dense_step():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((8, 3)).astype(np.float32)
    grad = rng.standard_normal((8, 3)).astype(np.float32)
    dense, sparse = table.copy(), table.copy()
    SGD(lr=0.1).step([dense], [grad])
    order = rng.permutation(8)
    SGD(lr=0.1).step_rows(0, sparse, order, grad[order])
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("decay", [{}, {"weight_decay": 0.1, "decoupled_weight_decay": 0.2}])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_rows_with_every_row_equals_dense_step(name, decay):
    """When each step touches every row (in shuffled order, some rows split
    into several duplicate pieces) the lazy update is the dense one."""
    hp = {**HYPER[name], **decay}
    rng = np.random.default_rng(3)
    table = rng.standard_normal((10, 4)).astype(np.float32)
    dense, sparse = table.copy(), table.copy()
    opt_dense, opt_sparse = make_optimizer(name, **hp), make_optimizer(name, **hp)
    for _ in range(4):
        grad = rng.standard_normal((10, 4)).astype(np.float32)
        opt_dense.step([dense], [grad])
        rows = np.concatenate([rng.permutation(10), [3, 3, 7]])
        pieces = grad[rows].copy()
        pieces[-3:] = rng.standard_normal((3, 4)).astype(np.float32)
        for j, r in enumerate(rows[:10]):  # rows 3 and 7: the pieces sum to grad
            if r == 3:
                pieces[j] = grad[3] - pieces[-3] - pieces[-2]
            if r == 7:
                pieces[j] = grad[7] - pieces[-1]
        opt_sparse.step_rows(0, sparse, rows, pieces)
    np.testing.assert_allclose(sparse, dense, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_rows_is_lazy_and_matches_the_formula_on_the_touched_rows(name):
    hp = {**HYPER[name], "weight_decay": 0.05, "decoupled_weight_decay": 0.1}
    rng = np.random.default_rng(4)
    vocab, dim = 12, 3
    table = rng.standard_normal((vocab, dim))
    ref = table.copy()
    st = fresh_state(table.shape)
    opt = make_optimizer(name, **hp)
    t_table = 0
    touched = np.zeros(vocab, dtype=bool)
    for _ in range(5):
        rows = rng.choice(vocab, size=4, replace=True)  # repeats likely
        grad_rows = rng.standard_normal((4, dim))
        touched[rows] = True
        untouched = np.flatnonzero(~np.isin(np.arange(vocab), rows))
        before = table[untouched].copy()
        opt.step_rows(1, table, rows, grad_rows)
        assert np.array_equal(table[untouched], before)  # not even decayed
        # reference: sum duplicates, then the dense formula on those rows only
        uniq = np.unique(rows)
        summed = np.zeros((len(uniq), dim))
        for r, g in zip(rows, grad_rows):
            summed[np.searchsorted(uniq, r)] += g
        sub = {k: (v[uniq].copy() if isinstance(v, np.ndarray) else t_table) for k, v in st.items()}
        t_table += 1  # Adam's count is per table, not per row
        ref[uniq] = reference_update(name, hp, ref[uniq], summed, sub)
        for k in ("v", "a", "b"):
            st[k][uniq] = sub[k]
        np.testing.assert_allclose(table, ref, rtol=1e-10, atol=1e-12)
    assert not touched.all()
    for key in ("velocity", "sum_sq", "mean_sq", "mean_sq_grad", "mean_sq_step", "m", "v"):
        if key in opt.state[1]:  # rows never touched keep a zero state
            assert not opt.state[1][key][~touched].any()
            assert opt.state[1][key][touched].any()
    if name == "adam":
        assert opt.state[1]["t"] == 5  # one count per step_rows call


def test_step_rows_sums_duplicates_before_a_nonlinear_update():
    rng = np.random.default_rng(5)
    table = rng.standard_normal((4, 2)).astype(np.float32)
    a, b = table.copy(), table.copy()
    g = rng.standard_normal((3, 2)).astype(np.float32)
    Adam(lr=0.1).step_rows(0, a, np.array([1, 2, 1]), g)
    Adam(lr=0.1).step_rows(0, b, np.array([2, 1]), np.stack([g[1], g[0] + g[2]]))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    c = table.copy()  # applying the two pieces one after the other differs
    opt = Adam(lr=0.1)
    opt.step_rows(0, c, np.array([1]), g[:1])
    opt.step_rows(0, c, np.array([1]), g[2:])
    assert not np.allclose(c[1], a[1], rtol=1e-3)


def test_step_rows_accepts_empty_and_int32_rows():
    table = np.ones((3, 2), dtype=np.float32)
    SGD(lr=0.5).step_rows(0, table, np.array([], dtype=np.int64), np.zeros((0, 2), np.float32))
    assert np.all(table == 1)
    SGD(lr=0.5).step_rows(0, table, np.array([2], dtype=np.int32), np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(table[:, 0], [1, 1, 0.5])


# -- errors ----------------------------------------------------------------------


def test_argument_errors_name_the_parameter():
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lr"):
            SGD(lr=bad)
    opt = SGD(lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = 0.0
    opt.lr = 0.05
    assert opt.lr == 0.05
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("momentum", lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta2=1.5)
    with pytest.raises(ValueError, match="eps"):
        Adam(eps=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(lr=0.1, weight_decay=-1.0)
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        SGD(lr=0.1, decoupled_weight_decay=-1.0)
    with pytest.raises(ValueError, match="name") as e:
        make_optimizer("lbfgs", lr=0.1)
    assert "adam" in str(e.value)
    with pytest.raises(ValueError, match="beta1"):
        make_optimizer("sgd", lr=0.1, beta1=0.9)
    with pytest.raises(ValueError, match="lr"):
        make_optimizer("sgd")


def test_shape_errors():
    opt = Adam()
    p = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"grads\[0\]"):
        opt.step([p], [np.zeros((2, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match="grads"):
        opt.step([p], [])
    with pytest.raises(ValueError, match=r"params\[0\]"):
        opt.step([np.zeros(3, dtype=np.int64)], [np.zeros(3)])
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.step([frozen], [np.zeros(3)])
    opt.step([p], [np.ones((3, 2), dtype=np.float32)])
    with pytest.raises(ValueError, match="index 0"):  # state made for another shape
        opt.step([np.zeros(4, dtype=np.float32)], [np.ones(4, dtype=np.float32)])
    table = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="rows"):
        opt.step_rows(1, table, np.array([0, 5]), np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="rows"):
        opt.step_rows(1, table, np.array([-1]), np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="rows"):
        opt.step_rows(1, table, np.array([0.0]), np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="grad_rows"):
        opt.step_rows(1, table, np.array([0, 1]), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="grad_rows"):
        opt.step_rows(1, table, np.array([0, 1]), np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match="param"):
        opt.step_rows(1, np.zeros(5, np.float32), np.array([0]), np.zeros((1, 1), np.float32))
    assert math.isfinite(opt.lr)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_arrays_round_trip_resumes_identically(name):
    rng = np.random.default_rng(7)
    dense = rng.standard_normal((4, 3)).astype(np.float32)
    table = rng.standard_normal((6, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    rows = [rng.integers(0, 6, 4) for _ in range(5)]
    row_grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    kwargs = {"lr": 0.05} if name != "adadelta" else {}

    def run(opt, p, t, steps):
        for i in steps:
            opt.step([p], [grads[i]])
            opt.step_rows(1, t, rows[i], row_grads[i])

    first = make_optimizer(name, **kwargs)
    p1, t1 = dense.copy(), table.copy()
    run(first, p1, t1, range(5))

    before = make_optimizer(name, **kwargs)
    p2, t2 = dense.copy(), table.copy()
    run(before, p2, t2, range(3))
    arrays, steps = before.state_arrays()
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    after = make_optimizer(name, **kwargs)
    after.load_state_arrays({k: a.copy() for k, a in arrays.items()}, dict(steps))
    run(after, p2, t2, range(3, 5))
    assert np.array_equal(p1, p2) and np.array_equal(t1, t2)


def test_load_state_arrays_reports_missing_moments():
    with pytest.raises(ValueError, match="lacks '0/v'"):
        make_optimizer("adam").load_state_arrays({"0/m": np.zeros(2)}, {"0": 1})
