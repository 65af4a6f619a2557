"""`--config FILE` of the trainers: the file's fields under the flags typed on the command line."""
from __future__ import annotations

import json

import pytest

from lmkit.cli import build_parser, main
from lmkit.cli.lm import nplm_config
from lmkit.cli.word2vec import word2vec_config


def _args(argv):
    args = build_parser().parse_args(argv)
    args._argv = argv
    return args


@pytest.fixture()
def config_file(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"lr": 0.01, "hidden": 7, "dropout_hidden": 0.2, "time_limit": 30.0}))
    return str(path)


def test_the_file_sets_fields_and_typed_flags_win(config_file):
    common = ["train", "nplm", "--input", "x", "--output", "m", "--config", config_file]
    config = nplm_config(_args(common))
    assert (config.lr, config.hidden, config.dropout_hidden, config.time_limit) == (0.01, 7, 0.2, 30.0)
    assert config.features == 60  # not in the file: the flag's default
    # typed at its default value, abbreviated, with '=', or through a flag that sets several fields
    config = nplm_config(_args(common + ["--lr", "0.001", "--hid=9", "--dropout", "0.1"]))
    assert (config.lr, config.hidden, config.dropout_hidden, config.dropout_features) == (0.001, 9, 0.1, 0.1)


def test_bad_config_files_are_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lr": 0.01, "learning_rate": 1}))
    assert main(["train", "nplm", "--input", "x", "--output", str(tmp_path / "m"), "--config", str(bad)]) == 2
    assert "--config " + str(bad) + ": unknown NPLMConfig option(s): learning_rate" in capsys.readouterr().err
    bad.write_text("{\n\"lr\": 0.01,\n}")
    assert main(["train", "nplm", "--input", "x", "--output", str(tmp_path / "m"), "--config", str(bad)]) == 2
    assert "bad.json: line 3: not valid JSON" in capsys.readouterr().err


def test_word2vec_config_file(tmp_path):
    path = tmp_path / "w2v.json"
    path.write_text(json.dumps({"architecture": "skipgram", "window": 3, "vector_size": 40,
                                "tokenizer": {"lowercase": True}}))
    config = word2vec_config(_args(["train", "skipgram", "--input", "x", "--output", "v", "--config", str(path),
                                    "--size", "100"]))
    assert (config.window, config.vector_size, config.tokenizer.lowercase) == (3, 100, True)
    with pytest.raises(ValueError, match="holds a skipgram config, not cbow"):
        word2vec_config(_args(["train", "cbow", "--input", "x", "--output", "v", "--config", str(path)]))
