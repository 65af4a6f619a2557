"""Search spaces: parsing, the checks on every range, the built-in spaces, drawing values."""
from __future__ import annotations

import json
import random

import pytest

from lmkit.lm.nplm import NPLMConfig
from lmkit.tune.space import DEFAULT_SPACES, default_space, grid, load_space, parse_space, suggest
from lmkit.word2vec.model import Word2VecConfig

BASE = {}


def test_a_space_file_is_read_with_kinds_from_the_config(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"lr": {"low": 1e-4, "high": 1e-2, "scale": "log"}, "hidden": {"low": 10, "high": 50},
                                "activation": {"choice": ["tanh", "relu"]}}))
    params = {p.name: p for p in load_space(path, NPLMConfig, BASE)}
    assert (params["lr"].kind, params["lr"].scale) == ("float", "log")
    assert (params["hidden"].kind, params["hidden"].low, params["hidden"].high) == ("int", 10, 50)
    assert params["activation"].choices == ("tanh", "relu")


@pytest.mark.parametrize("document, message", [
    ({"learning_rate": {"low": 0.1, "high": 1}}, r"unknown option 'learning_rate'; valid options: .*\blr\b"),
    ({"threads": {"low": 1, "high": 4}}, r"unknown option 'threads'"),
    ({"lr": {"low": 0.1, "high": 0.01}}, r"lr: low must be < high"),
    ({"lr": {"low": 0.0, "high": 0.1, "scale": "log"}}, r"log scale needs low > 0"),
    ({"lr": {"low": 0.01, "high": 0.1, "scale": "exp"}}, r"scale must be one of linear, log"),
    ({"lr": {"low": 0.01}}, r"a range needs low and high"),
    ({"hidden": {"low": 1.5, "high": 10}}, r"hidden: is an integer option"),
    ({"activation": {"low": 0, "high": 1}}, r"activation: is a str option: give a choice list"),
    ({"activation": {"choice": []}}, r"choice must be a non-empty list"),
    ({"activation": {"choice": ["tanh", "softsign"]}}, r"activation: the value 'softsign' is not a valid setting"),
    ({"dropout_hidden": {"low": 0.0, "high": 1.5}}, r"dropout_hidden: the value 1.5 is not a valid setting"),
    ({"lr": [0.1, 0.2]}, r"lr: must be"),
    ({}, r"at least one option"),
])
def test_bad_spaces_are_refused_naming_the_file_and_option(tmp_path, document, message):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message) as error:
        load_space(path, NPLMConfig, BASE)
    assert str(error.value).startswith(f"--space {path}")


def test_a_file_that_is_not_json_names_its_line(tmp_path):
    path = tmp_path / "space.json"
    path.write_text('{\n  "lr": {"low": 1e-4,, "high": 1}\n}\n')
    with pytest.raises(ValueError, match=r"space.json: line 2: not valid JSON"):
        load_space(path, NPLMConfig, BASE)
    with pytest.raises(FileNotFoundError, match="--space .*missing.json: no such file"):
        load_space(tmp_path / "missing.json", NPLMConfig, BASE)


def test_default_spaces_are_valid_and_drawn_within_their_ranges():
    class Draw:  # Optuna's define-by-run calls, answered at random
        def suggest_float(self, name, low, high, log=False):
            return random.uniform(low, high)

        def suggest_int(self, name, low, high, log=False):
            return random.randint(low, high)

        def suggest_categorical(self, name, choices):
            return random.choice(choices)

    nplm = default_space("nplm", NPLMConfig, {})
    w2v = default_space("word2vec", Word2VecConfig, {"architecture": "cbow"})
    assert [p.name for p in nplm] == list(DEFAULT_SPACES["nplm"])
    for params, cls in ((nplm, NPLMConfig), (w2v, Word2VecConfig)):
        for _ in range(20):
            values = suggest(Draw(), params)
            cls.from_dict(values)  # every draw is a valid config
    points = grid(nplm, 3)
    assert points["lr"][0] == pytest.approx(3e-4) and points["lr"][2] == pytest.approx(1e-2)
    assert points["lr"][1] == pytest.approx((3e-4 * 1e-2) ** 0.5)  # the log scale's middle
    assert points["batch_size"] == [64, 128, 256, 512]


def test_a_range_is_checked_against_the_fixed_base():
    # hidden=0 is valid by itself but not with direct connections off in the base config
    with pytest.raises(ValueError, match=r"hidden: the value 0 is not a valid setting"):
        parse_space({"hidden": {"low": 0, "high": 10}}, NPLMConfig, {"direct": False})
