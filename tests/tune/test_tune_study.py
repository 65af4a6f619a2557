"""`lmkit tune`: a study finds the better region, prunes, resumes, and is shared by worker processes."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lm_reference import make_corpus
from lmkit.cli import main
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.tune.space import parse_space

V = 20
BASE = {"context": 2, "features": 8, "hidden": 16, "batch_size": 32, "epochs": 3, "threads": 1}


def _markov(seed: int, n: int) -> list[list[int]]:
    """Sentences where each word is, 9 times in 10, a fixed function of the previous one: much to learn."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        word = int(rng.integers(V - 1))
        sentence = [word]
        for _ in range(int(rng.integers(3, 9))):
            word = (word * 7 + 3) % (V - 1) if rng.random() < 0.9 else int(rng.integers(V - 1))
            sentence.append(word)
        out.append(sentence)
    return out


def _corpora():
    train, valid = make_corpus(_markov(0, 200), V), make_corpus(_markov(1, 50), V)
    valid.vocab = train.vocab
    return train, valid


@pytest.fixture()
def study(need_module, tmp_path):
    need_module("optuna")
    from lmkit.tune import study as studies

    def make(space: dict, **options):
        params = parse_space(space, NPLMConfig, BASE)
        return studies.StudySpec(model="nplm", objective="ppl", params=params, base=dict(BASE),
                                 study_dir=tmp_path / "study", **options)

    return studies, make


def _best_ppl(lr: float, train, valid) -> float:
    model = NPLM(NPLMConfig(**{**BASE, "lr": lr})).fit(train, valid, verbose=False)
    return min(r["valid_ppl"] for r in model.history)


def test_search_finds_the_rate_between_too_slow_and_divergent(study):
    studies, make = study
    train, valid = _corpora()
    low, high = 1e-5, 3.0
    spec = make({"lr": {"low": low, "high": high, "scale": "log"}}, pruner="none", seed=3,
                extra={"startup_trials": 4})
    studies.run_trials(spec, train, valid, 12)
    best = studies.open_study(spec).best_trial
    ends = _best_ppl(low, train, valid), _best_ppl(high, train, valid)
    assert best.value < 0.5 * min(ends)  # far better than either end of the range
    assert low * 10 < best.params["lr"] < high / 10
    summary = studies.summarize(spec, NPLMConfig, plot=False)
    assert summary["counts"]["complete"] == 12 and summary["best"]["trial"] == best.number


def test_hopeless_trials_are_pruned_and_their_epochs_counted(study):
    studies, make = study
    train, valid = _corpora()
    spec = make({"lr": {"low": 1e-5, "high": 0.1, "scale": "log"}}, pruner="median")
    optuna_study = studies.open_study(spec)
    for lr in (1e-2, 1.2e-2, 1e-5):  # two good runs set the median; the third learns nothing in epoch 1
        optuna_study.enqueue_trial({"lr": lr})
    studies.run_trials(spec, train, valid, 3)
    trials = studies.open_study(spec).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert list(trials[2].intermediate_values) == [1]  # stopped after its first epoch
    summary = studies.summarize(spec, NPLMConfig, plot=False)
    row = summary["rows"][2]
    assert (row["state"], row["stop"], row["epochs"], row["epochs_saved"]) == ("pruned", "pruned", 1, 2)
    assert summary["epochs_saved"] == 2 and summary["epochs_planned"] == 9
    assert not (spec.study_dir / "models" / "trial-2.npz").exists()  # a pruned trial leaves no model


def test_a_trial_validating_every_other_epoch_reports_and_scores_those_epochs(study):
    studies, make = study
    train, valid = _corpora()
    spec = make({"lr": {"low": 1e-5, "high": 0.1, "scale": "log"}}, pruner="median")
    spec = dataclasses.replace(spec, base={**BASE, "validate_every": 2})
    studies.open_study(spec).enqueue_trial({"lr": 1e-2})
    studies.run_trials(spec, train, valid, 1)
    trial = studies.open_study(spec).get_trials()[0]
    alone = NPLM(NPLMConfig(**BASE, lr=1e-2, validate_every=2)).fit(train, valid, verbose=False)
    scored = {r["epoch"]: r["valid_ppl"] for r in alone.history if "valid_ppl" in r}
    assert list(scored) == [2, 3] and trial.intermediate_values == pytest.approx(scored)
    assert trial.value == pytest.approx(min(scored.values()))


def test_orphaned_running_trials_are_marked_failed(study):
    studies, make = study
    spec = make({"lr": {"low": 1e-3, "high": 1e-2}})
    optuna_study = studies.open_study(spec)
    trial = optuna_study.ask()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    assert studies.fail_orphans(optuna_study) == 1
    assert optuna_study.get_trials()[0].state.name == "FAIL"
    assert studies.finished(optuna_study) == 1


def test_a_study_folder_keeps_its_model_and_objective(study):
    studies, make = study
    spec = make({"lr": {"low": 1e-3, "high": 1e-2}})
    studies.open_study(spec)
    spec.objective = "loss"
    with pytest.raises(ValueError, match="holds a study of objective 'ppl', not 'loss'"):
        studies.open_study(spec)


# ------------------------------------------------------------------------------------------ the command


def _write(path: Path, sentences) -> str:
    path.write_text("".join(" ".join(f"w{w}" for w in s) + "\n" for s in sentences))
    return str(path)


@pytest.fixture()
def texts(need_module, tmp_path, monkeypatch):
    need_module("optuna")
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"low": 1e-4, "high": 3e-2, "scale": "log"}, "hidden": {"low": 4, "high": 24}}))
    base = tmp_path / "base.json"
    base.write_text(json.dumps({k: v for k, v in BASE.items() if k != "threads"}))
    args = ["--input", _write(tmp_path / "train.txt", _markov(0, 200)),
            "--valid", _write(tmp_path / "valid.txt", _markov(1, 50)),
            "--space", str(space), "--config", str(base), "--threads", "1", "--quiet"]
    return tmp_path, args


def _rows(folder: Path) -> list[dict]:
    with open(folder / "trials.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_tune_resumes_a_study_and_writes_its_results(texts, capsys, need_module):
    need_module("matplotlib")
    tmp, args = texts
    folder = tmp / "study"
    assert main(["tune", "nplm", *args, "--study-dir", str(folder), "--trials", "3", "--startup-trials", "2"]) == 0
    first = _rows(folder)
    assert len(first) == 3
    capsys.readouterr()
    assert main(["tune", "nplm", *args, "--study-dir", str(folder), "--trials", "5", "--startup-trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "holds 3 finished trial(s); running 2 more" in out
    rows = _rows(folder)
    assert [r["trial"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [(r["lr"], r["hidden"]) for r in rows[:3]] == [(r["lr"], r["hidden"]) for r in first]  # not rerun
    assert main(["tune", "nplm", *args, "--study-dir", str(folder), "--trials", "5"]) == 0
    assert "running 0 more" in capsys.readouterr().out and len(_rows(folder)) == 5
    best = json.loads((folder / "best.json").read_text())
    complete = [r for r in rows if r["state"] == "complete"]
    winner = min(complete, key=lambda r: float(r["value"]))
    assert best["hidden"] == int(winner["hidden"]) and math.isclose(best["lr"], float(winner["lr"]))
    assert NPLM.load(folder / "best.npz").config.hidden == best["hidden"]
    assert (folder / "study.png").stat().st_size > 10_000
    assert list((folder / "models").glob("*.npz")) == [folder / "models" / f"trial-{winner['trial']}.npz"]
    # the best config trains again with lmkit train nplm --config, flags typed on the command line winning
    model_path = tmp / "again.lmkit"
    assert main(["train", "nplm", "--input", args[1], "--valid", args[3], "--output", str(model_path),
                 "--config", str(folder / "best.json"), "--epochs", "1", "--quiet"]) == 0
    again = NPLM.load(model_path).config
    assert (again.hidden, again.lr, again.epochs, again.features) == (best["hidden"], best["lr"], 1, 8)


def test_two_worker_processes_share_one_study(texts, capsys):
    tmp, args = texts
    folder = tmp / "shared"
    assert main(["tune", "nplm", *args, "--study-dir", str(folder), "--trials", "4", "--parallel", "2",
                 "--startup-trials", "2"]) == 0
    rows = _rows(folder)
    assert sorted(int(r["trial"]) for r in rows) == [0, 1, 2, 3]
    assert all(r["state"] in ("complete", "pruned") for r in rows)
    from lmkit.tune import study as studies

    spec = studies.StudySpec(model="nplm", objective="ppl", params=[], base={}, study_dir=folder)
    pids = {t.user_attrs["pid"] for t in studies.open_study(spec).get_trials()}
    assert len(pids) == 2  # both workers ran trials
    out = capsys.readouterr().out
    assert re.search(r"\d complete, \d pruned, 0 failed", out)


def test_tune_word2vec_on_word_similarity(need_module, tmp_path, monkeypatch, capsys):
    need_module("optuna")
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    train = _write(tmp_path / "train.txt", _markov(0, 300))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("w1\tw10\t9\nw2\tw17\t8\nw3\tw5\t1\nw4\tw9\t2\nw6\tw7\t5\n")
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"min_count": 1, "vector_size": 10, "epochs": 2, "sample": 0}))
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"window": {"low": 1, "high": 4}, "alpha": {"low": 0.01, "high": 0.1,
                                                                            "scale": "log"}}))
    folder = tmp_path / "w2v"
    assert main(["tune", "skipgram", "--input", train, "--similarity", str(pairs), "--space", str(space),
                 "--config", str(base), "--study-dir", str(folder), "--trials", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"best: trial \d, similarity Spearman -?[\d.]+, window=\d, alpha=", out)
    best = json.loads((folder / "best.json").read_text())
    assert best["architecture"] == "skipgram" and best["vector_size"] == 10
    assert main(["tune", "cbow", "--input", train, "--similarity", str(tmp_path / "no.tsv"),
                 "--study-dir", str(folder), "--quiet"]) == 2
    assert "--similarity" in capsys.readouterr().err


def test_tune_refuses_a_bad_space_from_the_command_line(texts, capsys):
    tmp, args = texts
    bad = tmp / "bad.json"
    bad.write_text(json.dumps({"lr": {"low": 1, "high": 0.1}}))
    at = args.index("--space") + 1
    args[at] = str(bad)
    assert main(["tune", "nplm", *args, "--study-dir", str(tmp / "s")]) == 2
    assert re.search(r"lmkit: error: --space .*bad.json: lr: low must be < high", capsys.readouterr().err)
