"""scripts/denoising_autoencoder.py, shortened: on held-out digits the DAE removes most of the
noise and beats PCA with the same code size; a linear autoencoder finds PCA's subspace."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def result(load_script, need_module):
    need_module("sklearn")  # the digits ship with scikit-learn: lmkit[examples]
    return load_script("denoising_autoencoder").run(sigma=0.3, code=16, hidden=128, epochs=60)  # ~2 s of training


def test_dae_beats_the_noisy_input_and_pca_on_held_out_digits(result):
    methods = [method for method, _, _ in result["rows"]]
    assert [m.split(" ")[0] for m in methods] == ["noisy", "PCA,", "linear", "linear", "denoising"]
    noisy, pca, _, linear_dae, dae = (on_noisy for _, on_noisy, _ in result["rows"])
    assert 0.085 < noisy < 0.095  # sigma^2 = 0.09 per pixel
    assert dae < 0.3 * noisy  # measured 0.020 vs 0.090
    assert dae < 0.8 * pca  # measured 0.020 vs 0.034
    assert linear_dae < pca  # denoising training shrinks instead of projecting: 0.027


def test_a_linear_autoencoder_finds_the_pca_subspace(result):
    _, pca, linear, _, _ = (on_clean for _, _, on_clean in result["rows"])
    assert pca <= linear < 1.2 * pca  # measured 0.0123 vs 0.0114 (PCA is the optimum)


def test_outputs_table_and_picture(result, tmp_path, load_script, need_module):
    script = load_script("denoising_autoencoder")
    ex = result["examples"]
    assert ex["DAE"].shape == ex["x_test"].shape == ex["noisy"].shape and ex["DAE"].dtype == np.float32
    assert ex["DAE"].min() >= 0 and ex["DAE"].max() <= 1  # sigmoid output
    table = script.markdown(result)
    assert table.count("\n| ") == 6 and "| noisy input (no denoising) |" in table
    need_module("matplotlib")
    script.plot_examples(result, tmp_path / "dae.png")
    assert (tmp_path / "dae.png").stat().st_size > 10_000
