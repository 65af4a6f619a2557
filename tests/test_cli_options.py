"""The trainers' flags come from the config dataclasses: every field has one, with the same default."""
from __future__ import annotations

import dataclasses
import json

import pytest

from lmkit.cli import build_parser
from lmkit.cli.data import tokenizer_config
from lmkit.cli.lm import nplm_config
from lmkit.cli.options import cli_fields
from lmkit.cli.word2vec import word2vec_config
from lmkit.corpus.tokenizer_config import TokenizerConfig
from lmkit.lm.config import ACTIVATION_NAMES, BOUNDARY_NAMES, OPTIMIZER_NAMES, NPLMConfig
from lmkit.word2vec.config import Word2VecConfig

NPLM = ["train", "nplm", "--input", "x", "--output", "m.npz"]


def _parser_of(argv):
    """The leaf sub-parser that parses ``argv`` (the train MODEL parser)."""
    return build_parser().parse_args(argv)._parser


def _option_strings(parser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


@pytest.mark.parametrize("argv, cls", [
    (NPLM, NPLMConfig),
    (["train", "skipgram", "--input", "x", "--output", "v"], Word2VecConfig),
    (["train", "cbow", "--input", "x", "--output", "v"], Word2VecConfig),
])
def test_every_config_field_has_a_flag(argv, cls):
    options = _option_strings(_parser_of(argv))
    skip = ("cbow_mean",) if argv[1] == "skipgram" else ()
    for field in cli_fields(cls, exclude=skip) + cli_fields(TokenizerConfig):
        flag = field.metadata.get("flag") or "--" + field.name.replace("_", "-")
        flags = (flag,) if isinstance(flag, str) else flag
        assert set(flags) <= options, field.name
    left_out = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("cli", True)]
    assert all(f.metadata["reason"] for f in dataclasses.fields(cls))  # every field says why its default
    assert set(left_out) <= {"architecture", "tokenizer"}  # the subcommand and the tokenization flags set them


def test_no_flags_give_the_config_defaults():
    parser = build_parser()
    assert nplm_config(parser.parse_args(NPLM)) == NPLMConfig()
    for architecture in ("skipgram", "cbow"):
        args = parser.parse_args(["train", architecture, "--input", "x", "--output", "v"])
        assert word2vec_config(args) == Word2VecConfig(architecture=architecture)
    assert tokenizer_config(parser.parse_args(NPLM)) == TokenizerConfig()


def test_typed_flags_reach_the_config_under_their_cli_names():
    parser = build_parser()
    config = nplm_config(parser.parse_args(NPLM + ["--hidden", "7", "--no-direct", "--activation", "maxout",
                                                   "--maxout-pieces", "3", "--dropout", "0.2",
                                                   "--dropout-hidden", "0.1", "--weight-decay", "0.01"]))
    assert (config.hidden, config.direct, config.activation, config.maxout_pieces) == (7, False, "maxout", 3)
    assert (config.dropout_features, config.dropout_hidden, config.weight_decay) == (0.2, 0.1, 0.01)
    args = parser.parse_args(["train", "cbow", "--input", "x", "--output", "v", "--size", "33", "--threads", "2",
                              "--iter", "3", "--cbow-sum", "--lowercase", "--split", "words"])
    config = word2vec_config(args)
    assert (config.vector_size, config.workers, config.epochs, config.cbow_mean) == (33, 2, 3, False)
    assert config.tokenizer == TokenizerConfig(lowercase=True, pre_tokenizer="words")


def test_a_typed_default_still_beats_the_config_file(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"lr": 0.05, "hidden": 9}))
    config = nplm_config(build_parser().parse_args(NPLM + ["--config", str(path), "--lr", "0.001"]))
    assert (config.lr, config.hidden) == (0.001, 9)
    path.write_text(json.dumps({"architecture": "skipgram", "window": 3, "tokenizer": {"lowercase": True}}))
    args = build_parser().parse_args(["train", "skipgram", "--input", "x", "--output", "v", "--config", str(path),
                                      "--no-lowercase"])
    config = word2vec_config(args)
    assert config.window == 3 and config.tokenizer.lowercase is False


def test_help_shows_each_default_and_reason():
    text = _parser_of(NPLM).format_help()
    for field in cli_fields(NPLMConfig):
        assert field.metadata["reason"].split()[0] in text
    assert "(default 60)" in text and "(default tanh)" in text and "(default on)" in text


def test_written_out_choices_are_the_library_s():
    from lmkit.lm.examples import BOUNDARIES
    from lmkit.nn.activations import ACTIVATIONS
    from lmkit.nn.optim import OPTIMIZERS

    assert sorted(ACTIVATION_NAMES) == sorted(ACTIVATIONS)
    assert sorted(OPTIMIZER_NAMES) == sorted(OPTIMIZERS)
    assert tuple(BOUNDARY_NAMES) == tuple(BOUNDARIES)
