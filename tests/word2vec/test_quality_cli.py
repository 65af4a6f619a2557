"""The command line, and a quality smoke test on real text (Brown)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from lmkit.cli import main
from lmkit.corpus.tokenizer import TokenizerConfig, sidecar_path
from lmkit.word2vec.model import Word2Vec

NO_JIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


@pytest.fixture()
def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, 10)) for _ in range(40)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("architecture,extra", [
    ("skipgram", ["--loss", "hs", "--binary"]),
    ("cbow", ["--loss", "both", "--cbow-sum", "--alpha", "0.01"]),
    ("skipgram", ["--update", "batched", "--threads", "2"]),
])
def test_train_command_writes_vectors_and_model(corpus_file, tmp_path, architecture, extra, capsys):
    from lmkit.vectors import KeyedVectors

    output, model_path = tmp_path / "vectors.bin", tmp_path / "model.npz"
    code = main(["train", architecture, "--input", str(corpus_file), "--output", str(output), "--size", "16",
                 "--window", "2", "--min-count", "1", "--epochs", "2", "--seed", "3", "--save-model",
                 str(model_path), "--lowercase", *extra])
    assert code == 0
    assert "vectors:" in capsys.readouterr().out
    kv = KeyedVectors.load_word2vec_format(output, binary="--binary" in extra)
    model = Word2Vec.load(model_path)
    assert kv.vectors.shape == (30, 16) and np.array_equal(kv.vectors, model.syn0)
    assert model.config.architecture == architecture and model.config.tokenizer.lowercase
    assert model.config.seed == 3 and model.config.epochs == 2
    assert sidecar_path(output).is_file()


@pytest.mark.parametrize("arguments,message", [
    (["--loss", "ns", "--negative", "0"], "--negative >= 1"),   # the CLI's flags, not the Python names
    (["--window", "0"], "--window"),
    (["--size", "0"], "--size must be"),
    (["--min-count", "100000"], "--min-count 100000"),
])
def test_train_command_reports_bad_input(corpus_file, tmp_path, arguments, message, capsys):
    code = main(["train", "skipgram", "--input", str(corpus_file), "--output", str(tmp_path / "v.txt"),
                 "--quiet", *arguments])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "v.txt").exists()


def test_train_command_missing_input(tmp_path, capsys):
    assert main(["train", "cbow", "--input", str(tmp_path / "nope.txt"), "--output", str(tmp_path / "v"),
                 "--quiet"]) == 2
    assert "nope.txt" in capsys.readouterr().err


@pytest.mark.skipif(NO_JIT, reason="trains 750k words of Brown; hours when interpreted")
def test_quality_on_brown(shared_data):
    from lmkit.evaluate import evaluate_word_pairs

    model = Word2Vec(architecture="cbow", epochs=3, tokenizer=TokenizerConfig(lowercase=True))
    model.fit("brown:train", verbose=False)
    neighbours = [word for word, _ in model.wv.most_similar("man", topn=10)]
    assert "woman" in neighbours
    assert {"boy", "girl"} & {word for word, _ in model.wv.most_similar("woman", topn=10)}
    pairs = evaluate_word_pairs(model.wv, shared_data / "wordsim353.tsv")
    assert pairs.spearman > 0.12              # random vectors: ~0; these settings (seed 1) give ~0.19
