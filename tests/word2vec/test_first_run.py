"""The first run of a seed, which finds numba's cache empty, trains the vectors every later run trains."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="about numba's compiled code")

# Trains skip-gram and CBOW, each with both objectives (every call site of the kernel's helpers), one
# worker, and prints a digest of the weights.
TRAIN = """
import hashlib, sys
from lmkit.word2vec.model import Word2Vec
digest = hashlib.sha256()
for architecture in ("skipgram", "cbow"):
    model = Word2Vec(architecture=architecture, loss="both", vector_size=100, window=3, min_count=1, sample=0.0,
                     epochs=1, negative=3, seed=5)
    model.fit(sys.argv[1], verbose=False)
    for matrix in (model.syn0, model.syn1, model.syn1neg):
        digest.update(matrix.tobytes())
print(digest.hexdigest())
"""


def zipf_corpus(path: Path) -> Path:
    """~55k tokens over ~2k word types, Zipf-distributed: a vocabulary large enough for the two copies of the
    helpers to train different vectors (the planted-topic corpus's 16 words did not show it)."""
    words = np.random.default_rng(0).zipf(1.3, 60_000)
    words = words[words < 3000]
    path.write_text("".join(" ".join(f"w{w}" for w in words[i:i + 12]) + "\n" for i in range(0, len(words), 12)))
    return path


def test_the_compiling_run_trains_what_cached_runs_train(tmp_path):
    """The kernel's helpers that LLVM leaves as calls (logistic_rows) are weak symbols in its object
    code: a process that compiled them ran their own copies, a cached run the kernel's (lmkit._cached_call).
    Before the kernel was compiled in a child process, the two runs' vectors differed (this test failed;
    max difference 4.9e-5 on Brown)."""
    corpus = zipf_corpus(tmp_path / "zipf.txt")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}   # empty: the first run compiles
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    digests = [subprocess.run([sys.executable, "-c", TRAIN, str(corpus)], env=env, capture_output=True, text=True,
                              check=True).stdout for _ in range(2)]
    assert digests[0] == digests[1]


def test_the_kernel_compiled_in_the_background_is_the_one_training_calls(tmp_path):
    """start_kernel_compile has a child compile the kernel before the corpus is read, for the types of
    kernel_arguments_for(d): were they not a training call's, training would wait for a second child."""
    from lmkit._cached_call import signature
    from lmkit.word2vec import kernels
    from lmkit.word2vec.model import Word2Vec
    from lmkit.word2vec.training import kernel_arguments_for

    Word2Vec(vector_size=16, min_count=1, epochs=1).fit(str(zipf_corpus(tmp_path / "zipf.txt")), verbose=False)
    trained = [tuple(types) for types in kernels.train_sentences.signatures]
    skipgram_ns = signature(kernels.train_sentences, kernel_arguments_for(16, False, False, True))
    assert skipgram_ns in trained
    assert signature(kernels.train_sentences, kernel_arguments_for(17, False, False, True)) not in trained
    # each architecture and loss is a specialization of its own (kernels.train_sentences' switches)
    assert signature(kernels.train_sentences, kernel_arguments_for(16, True, False, True)) != skipgram_ns
    assert signature(kernels.train_sentences, kernel_arguments_for(16, False, True, False)) != skipgram_ns


def test_the_cli_starts_the_kernel_compile_before_it_encodes_the_corpus(tmp_path, monkeypatch):
    """`lmkit train` encodes the corpus itself before fitting: the kernel's child compile must start first, or
    a first run waits for the encoding and the compile one after the other (measured: SG-NS on Brown's
    training split waited 7.7 s for the kernel after a 6 s encoding)."""
    import lmkit.corpus.encoded as encoded
    import lmkit.word2vec.model as model
    from lmkit.cli import main

    events = []
    start, encode = model.start_kernel_compile, encoded.encode_corpus
    monkeypatch.setattr(model, "start_kernel_compile", lambda *args: (events.append("compile"), start(*args))[1])
    monkeypatch.setattr(encoded, "encode_corpus", lambda *args, **kw: (events.append("encode"), encode(*args, **kw))[1])
    corpus = zipf_corpus(tmp_path / "zipf.txt")
    assert main(["train", "cbow", "--input", str(corpus), "--output", str(tmp_path / "v.txt"), "--epochs", "1",
                 "--min-count", "1", "--size", "16", "--quiet"]) == 0
    assert events[:2] == ["compile", "encode"]


def test_no_background_compile_for_a_vector_size_no_vocabulary_fits(tmp_path, monkeypatch):
    """The CLI starts the kernel's compile before it encodes, so before the size checks that need the
    vocabulary: a size no vocabulary fits must not start it (its arguments alone would fill the memory:
    `--size 1000000000` took 15 GB before the check could refuse it)."""
    import lmkit.word2vec.model as model
    from lmkit.cli import main

    started = []
    monkeypatch.setattr(model, "start_kernel_compile", lambda *args: started.append(args))
    monkeypatch.setattr("lmkit.memory.available_bytes", lambda: 1 << 30)  # a 1 GiB machine
    corpus = zipf_corpus(tmp_path / "zipf.txt")
    base = ["train", "skipgram", "--input", str(corpus), "--output", str(tmp_path / "v.txt"), "--quiet"]
    assert main(base + ["--size", "1000000000"]) == 2   # refused after encoding, naming the vocabulary
    assert started == []
    assert main(base + ["--size", "8", "--epochs", "1"]) == 0
    assert set(started) == {(8, False, False, True)}   # (the CLI, then fit: the second finds it started)
