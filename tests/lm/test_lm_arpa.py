"""ARPA files: lmkit's own round trip, a hand-computed file, KenLM's scores, malformed files."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lm_reference import make_corpus
from lmkit.cli import main
from lmkit.lm.examples import build_examples
from lmkit.lm.ngram import KneserNey


def _fitted(order, boundaries, seed=1):
    rng = np.random.default_rng(seed)
    sentences = [list(rng.zipf(1.4, rng.integers(1, 9)) % 29) for _ in range(150)]
    corpus = make_corpus(sentences, 30, unk=True)
    test = [list(rng.integers(0, 29, rng.integers(1, 9))) for _ in range(80)]
    return KneserNey(order, boundaries=boundaries).fit(corpus), make_corpus(test, 30, unk=True), test


@pytest.mark.parametrize("order", [2, 3, 4, 5])
@pytest.mark.parametrize("boundaries", ["sentence", "stream"])
def test_round_trip_scores_every_token_as_the_model(tmp_path, order, boundaries):
    model, test, _ = _fitted(order, boundaries)
    path = model.save_arpa(tmp_path / "m.arpa.gz")
    back = KneserNey.load_arpa(path, boundaries=boundaries)
    assert back.vocab.tokens == model.vocab.tokens
    assert (back.vocab.unk, back.vocab.eos) == ("<unk>", "</s>")
    contexts, targets = build_examples(test.ids, test.offsets, context=order - 1, pad_id=len(model.vocab),
                                       eos_id=test.vocab.eos_id, boundaries=boundaries)
    # log10 written with 9 significant digits: within ~1e-8 of the model, far below float32's 6e-8
    np.testing.assert_allclose(back.score(contexts, targets), model.score(contexts, targets), rtol=0, atol=5e-8)
    # and the model read back is a model: it saves, loads and writes the same file again
    back.save(tmp_path / "back.npz")
    again = KneserNey.load(tmp_path / "back.npz").save_arpa(tmp_path / "again.arpa")
    np.testing.assert_allclose(KneserNey.load_arpa(again).score(contexts, targets), model.score(contexts, targets),
                               rtol=0, atol=1e-7)


HAND = """some tool's preamble, ignored
\\data\\
ngram 1=5
ngram 2=2
ngram 3=1

\\1-grams:
-1.0\t<s>\t-0.5
-0.5\ta\t-0.2
-0.7\tb
-0.9\t</s>
-2.0\t<unk>

\\2-grams:
-0.1\t<s> a\t-0.25
-0.3\ta b\t-0.15

\\3-grams:
-0.05 <s> a b

\\end\\
"""


def test_hand_made_file_gives_the_back_off_computed_by_hand(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(HAND)
    model = KneserNey.load_arpa(path)
    assert model.order == 3 and model.vocab.tokens == ["a", "b", "</s>", "<unk>"]
    ln10 = math.log(10)
    by_hand = {  # log10 p, from the back-off rule of the module docstring
        ((), "a"): -0.1,                         # "<s> a" listed
        (("a",), "b"): -0.05,                    # "<s> a b" listed
        (("a", "b"), "a"): -0.15 + -0.5,         # B(a b) p(a | b); "b a" unlisted, B(b) = 1
        (("b", "a"), "b"): -0.3,                 # "b a" not a history: p(b | a), listed
        (("a", "b"), "</s>"): -0.15 + -0.9,      # B(a b) B(b)=1 p(</s>)
        ((), "b"): -0.5 + -0.7,                  # B(<s>) p(b)
        (("a",), "a"): -0.25 + -0.2 + -0.5,      # B(<s> a) B(a) p(a)
        (("zzz",), "b"): -0.7,                   # "zzz" is <unk>, no history: p(b)
    }
    for (context, word), log10p in by_hand.items():
        assert model.logprob(list(context), word) == pytest.approx(log10p * ln10, abs=1e-12), (context, word)
    assert model.logprob(["a", "b"], "qqq") == pytest.approx(-0.15 * ln10 + -2.0 * ln10, abs=1e-12)


def test_hand_made_file_perplexity_through_the_cli(tmp_path, capsys):
    path = tmp_path / "hand.arpa.gz"
    import gzip

    with gzip.open(path, "wt") as handle:
        handle.write(HAND)
    text = tmp_path / "t.txt"
    text.write_text("a b a\n")
    # <s> a b a </s>: p(a|<s>) p(b|<s> a) p(a|a b) p(</s>|b a) = p(</s>|a) = B(a) p(</s>)
    log10_sum = -0.1 + -0.05 + (-0.15 - 0.5) + (-0.2 - 0.9)
    assert main(["perplexity", str(path), "--input", str(text), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"perplexity {10 ** (-log10_sum / 4):.2f} over 4 predicted tokens" in out


def test_kenlm_scores_lmkit_arpa_as_lmkit_does(tmp_path, need_module):
    kenlm = need_module("kenlm")
    for order in (2, 3, 5):
        model, test, sentences = _fitted(order, "sentence", seed=order)
        path = model.save_arpa(tmp_path / f"m{order}.arpa")
        theirs = []
        reader = kenlm.Model(str(path))
        for sentence in sentences:  # KenLM adds <s> and </s>, as lmkit's sentence boundaries do
            text = " ".join(model.vocab.tokens[w] for w in sentence)
            theirs.extend(score for score, _, _ in reader.full_scores(text))
        contexts, targets = build_examples(test.ids, test.offsets, context=order - 1, pad_id=len(model.vocab),
                                           eos_id=test.vocab.eos_id)
        ours = model.score(contexts, targets) / math.log(10)
        # KenLM keeps float32 values and adds them in float32
        np.testing.assert_allclose(np.array(theirs), ours, rtol=0, atol=2e-6)
        assert reader.order == order


@pytest.mark.parametrize("text, message", [
    ("ngram 1=2\n\n\\1-grams:\n-1 a\n-1 b\n\n\\end\\\n", r"no \\data\\ line: not an ARPA file \(read 7 lines\)"),
    ("\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a b\n\n\\end\\\n",
     r"line 8: \\1-grams: has 2 entries, \\data\\ declares ngram 1=3"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-x1 b\n\n\\2-grams:\n-1 a b\n\n\\end\\\n",
     r"line 7: log10 probability '-x1' is not a number"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a nan\n-1 b\n\n\\2-grams:\n-1 a b\n\n\\end\\\n",
     r"line 6: log10 back-off 'nan' is not a finite"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a c\n\n\\end\\\n",
     r"line 10: word 'c' is not a unigram"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a b c d\n\n\\end\\\n",
     r"line 10: a 2-gram line needs"),
    ("\\data\\\nngram 1=2\nngram 2=2\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a b\n-2 a b\n\n\\end\\\n",
     r"line 11: 2-gram listed twice \(first at line 10\)"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a b\n",
     r"line 10: unexpected end of file"),
    ("\\data\\\nngram 1=2\nngram 3=1\n", r"line 3: expected 'ngram 2=COUNT'"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\3-grams:\n-1 a b a\n\n\\end\\\n",
     r"line 9: expected \\2-grams:"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n0.5 b\n\n\\2-grams:\n-1 a b\n\n\\end\\\n",
     r"line 7: log10 probability 0.5 > 0"),
    ("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1 a\n-1 b\n\n\\2-grams:\n-1 a <s>\n\n\\end\\\n",
     r"line 10: <s> can only begin an n-gram"),
])
def test_malformed_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"bad.arpa: {message}"):
        KneserNey.load_arpa(path)


def test_cli_writes_arpa_and_scores_it_like_the_model(tmp_path, capsys):
    rng = np.random.default_rng(3)
    words = [f"x{i}" for i in range(40)]
    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(rng.choice(words, rng.integers(2, 10))) for _ in range(300)) + "\n")
    test = tmp_path / "test.txt"
    test.write_text("\n".join(" ".join(rng.choice(words, rng.integers(2, 10))) for _ in range(50)) + "\n")
    assert main(["train", "ngram", "--input", str(train), "--order", "3", "--output", str(tmp_path / "m.npz"),
                 "--arpa", str(tmp_path / "m.arpa"), "--quiet"]) == 0
    capsys.readouterr()
    for model in ("m.npz", "m.arpa"):
        assert main(["perplexity", str(tmp_path / model), "--input", str(test), "--quiet"]) == 0
    npz_line, arpa_line = capsys.readouterr().out.strip().splitlines()
    assert npz_line == arpa_line and "perplexity" in npz_line
    assert main(["train", "ngram", "--input", str(train), "--quiet"]) == 2
    assert "needs --output MODEL or --arpa FILE" in capsys.readouterr().err
