"""lmkit plot: the run report and the vector map are PNGs whose panels hold pictures, not blank axes."""
from __future__ import annotations

import numpy as np
import pytest

from lm_reference import train_valid
from lmkit.cli import main
from lmkit.lm.nplm import NPLM, NPLMConfig

SMALL = dict(context=3, features=8, hidden=16, batch_size=16, threads=1)


def _runs(tmp_path):
    train, valid = train_valid()
    folders = []
    for hidden, activation in ((16, "tanh"), (8, "relu")):
        folder = tmp_path / f"h{hidden}"
        NPLM(NPLMConfig(**dict(SMALL, hidden=hidden), activation=activation, epochs=3, patience=5)).fit(
            train, valid, verbose=False, log_dir=folder, monitor_every=2)
        folders.append(folder)
    return folders


def _panel_variances(png, rows: int, cols: int, need_module) -> list[float]:
    """Pixel variance inside each cell of the figure's grid (the title strip cut off)."""
    image = need_module("matplotlib.image").imread(png)[..., :3].mean(axis=2)
    body = image[int(0.04 * image.shape[0]):]
    h, w = body.shape[0] // rows, body.shape[1] // cols
    return [float(body[r * h:(r + 1) * h, c * w:(c + 1) * w].var()) for r in range(rows) for c in range(cols)]


def test_run_report_has_every_panel_drawn(tmp_path, need_module, capsys):
    need_module("matplotlib")
    folders = _runs(tmp_path)
    assert main(["plot", *map(str, folders), "--output", str(tmp_path / "report.png")]) == 0
    assert "plot:" in capsys.readouterr().out
    image = need_module("matplotlib.image").imread(tmp_path / "report.png")
    assert image.shape[0] == 1080 and image.shape[1] == 1280  # 3 x 2 panels of 6.4 x 3.6 in at 100 dpi
    variances = _panel_variances(tmp_path / "report.png", 3, 2, need_module)
    assert min(variances) > 1e-3, variances
    blank = np.ones((100, 100))
    assert blank.var() == 0  # what a blank panel would measure


def test_report_labels_runs_by_their_config_differences(tmp_path, need_module):
    need_module("matplotlib")
    from lmkit.plot import _labels, _RunData

    labels = _labels([_RunData(f) for f in _runs(tmp_path)])
    assert labels == ["activation=tanh, hidden=16", "activation=relu, hidden=8"]


def test_vector_map(tmp_path, need_module):
    need_module("matplotlib")
    from lmkit.vectors import KeyedVectors

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    KeyedVectors(words, rng.normal(size=(50, 10)).astype(np.float32)).save_word2vec_format(tmp_path / "v.txt")
    out = tmp_path / "map.png"
    assert main(["plot", "vectors", str(tmp_path / "v.txt"), "--words", "w1", "w2", "--neighbours", "4",
                 "--output", str(out)]) == 0
    assert _panel_variances(out, 1, 1, need_module)[0] > 1e-3


@pytest.mark.parametrize("argv, message", [
    (["plot", "vectors", "V.txt"], "needs --words"),
    (["plot", "RUN", "--output", "x.png"], "no metrics.jsonl"),
    (["plot", "vectors", "V.txt", "--words", "nope", "--output", "x.png"], "not in the vectors' vocabulary"),
])
def test_plot_errors_are_one_line(tmp_path, capsys, argv, message, need_module, monkeypatch):
    need_module("matplotlib")
    from lmkit.vectors import KeyedVectors

    monkeypatch.chdir(tmp_path)
    KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32)).save_word2vec_format(tmp_path / "V.txt")
    if "--output" not in argv:
        argv = argv + ["--output", "x.png"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch, capsys):
    import sys

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    assert main(["plot", str(tmp_path), "--output", str(tmp_path / "x.png")]) == 2
    assert "pip install 'lmkit[plot]'" in capsys.readouterr().err
