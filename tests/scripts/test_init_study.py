"""scripts/init_study.py on narrower networks: the facts its figures show, measured with the same
code (lmkit's Dense, BatchNorm and activations), and its table and figures written."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def study(load_script):
    script = load_script("init_study")
    return script, script.run_study(depth=10, width=200, batch=300)


def by_label(results):
    return {case.label: m for case, m in results.items()}


def test_tanh_collapse_saturation_and_xavier(study):
    _, results = study
    r = by_label(results)
    small, normal, xavier = r["tanh, 0.01·N(0,1)"], r["tanh, N(0,1)"], r["tanh, Xavier"]
    assert small.std[-1] < 1e-5 and np.all(np.diff(small.std) < 0)  # x0.14 per layer: collapse
    assert small.grad_out[0] < 1e-4 * small.grad_out[-1]  # and the gradient vanishes toward the input
    saturated = np.mean(np.abs(normal.outputs[-1]) > 0.9)
    assert saturated > 0.7 and normal.std[-1] > 0.9
    assert normal.grad_out[0] > 100 * normal.grad_out[-1]  # the large weights win over 1 - y^2: explodes
    assert 0.1 < xavier.std[-1] < 0.6 and 0.1 < xavier.grad_out[0] / xavier.grad_out[-1] < 10


def test_relu_xavier_halves_he_keeps_and_batchnorm_heals(study):
    _, results = study
    r = by_label(results)
    xavier, he = r["relu, Xavier"], r["relu, He"]
    second_moment = lambda m: m.std ** 2 + m.mean ** 2  # noqa: E731
    per_layer = (second_moment(xavier)[-1] / second_moment(xavier)[0]) ** (1 / 9)
    assert 0.4 < per_layer < 0.65  # Xavier under ReLU: x ~1/2 per layer
    assert 0.5 < second_moment(he)[-1] / second_moment(he)[0] < 2
    for label, m in r.items():
        if label.endswith("+ BN"):
            assert np.all((m.std > 0.4) & (m.std < 0.8)), label
    # normalization undoes the scale of W: the same draws, scaled by 100, give the same activations
    # (up to batch norm's eps = 1e-5, beside a pre-activation variance of ~0.02 under 0.01 * N(0, 1))
    np.testing.assert_allclose(r["tanh, 0.01·N(0,1) + BN"].outputs[-1], r["tanh, N(0,1) + BN"].outputs[-1],
                               atol=0.01)


def test_table_and_figures(study, tmp_path, need_module):
    script, results = study
    table = script.markdown(results, 10, 200, 300)
    assert table.count("## ") == 4 and table.count("| tanh, N(0,1) |") == 4
    need_module("matplotlib")
    script.plot_layer_stats(results, tmp_path / "stats.png", 200)
    script.plot_histograms(results, "tanh", tmp_path / "tanh.png", 200)
    assert (tmp_path / "stats.png").stat().st_size > 20_000 and (tmp_path / "tanh.png").stat().st_size > 20_000
