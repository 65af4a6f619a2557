"""Reproduce the Brown-corpus experiment of Bengio et al. (2003) with lmkit.

Protocol (Bengio, Ducharme, Vincent & Jauvin, "A Neural Probabilistic
Language Model", JMLR 3:1137-1155, section 4.1): Brown texts in order, the
first 800,000 words for training, the next 200,000 for validation, the rest
for testing; words seen 3 times or fewer (counted over the whole corpus)
merged into one rare-word symbol ``<unk>``, which is predicted and counted.
The text is read as one running stream (contexts cross sentence ends; no
``</s>`` is predicted, so every predicted token is a word of the corpus, as
in the paper's counts).

Trains interpolated modified Kneser-Ney n-grams (orders 3, 4, 5), the NPLM
(shape from the options) with early stopping on validation perplexity, and
the paper's three kinds of mixture (its section 2, "Mixture of models"): with
KN3 at a fixed weight 0.5 (how Table 1's "mix" used the paper's
deleted-interpolation trigram), with the best KN at the weight fitted on
validation, and with the best KN at one weight per frequency class of the
context (counted on the training split; context length 1-3 chosen on
validation) -- then prints validation and test perplexity beside the paper's
Table 1, which it also prints in full with its source.  ``--evaluate-only``
re-evaluates the model a finished run left in ``--workdir``; ``--ensemble-with
DIR ...`` adds the NPLMs other runs left in those folders: each member alone,
their ensemble (the linear mixture of :mod:`lmkit.lm.ensemble`, weights fitted
by EM on validation) and the ensemble with the best Kneser-Ney model;
``--log-linear`` also their log-linear mixture (:mod:`lmkit.lm.loglinear`),
alone and mixed linearly with the best Kneser-Ney model (one weight, and
one weight per frequency class of the context).

Default recipe (n=5, h=200, m=60, no direct connections; chosen on
brown:valid, never on test):

* h=200 rather than the paper's 100: with blank noising and dropout the
  h=100 model no longer overfits, and at equal epochs h=200 is 3.5-4% lower
  on validation (epoch 2: 361.0 vs 374.4; epoch 13: 299.6 vs 312.7) at 1.6x
  the time an epoch: 30 epochs in 85 minutes reached 287.7, where h=100 took
  40 epochs (79 minutes) to 298.3.

* Adam (lr 5e-3, ``lr0 / (1 + 3e-5 t)``) for ``C``, ``H``, ``d``, but
  momentum SGD (lr 0.1, mu 0.9, L2 1e-4 on ``O``) for the output layer.
  The rate, from one-epoch runs: validation 437.8 at 1e-3, 403.2 at 3e-3,
  397.3 at 6e-3, 400.8 at 1e-2; over two epochs 3e-3 gave 366.3 against 394.1
  at 1e-3, while a linear decay to lr/100 within those two epochs gave 375.2
  (the rate is still the bottleneck that early) and an output-layer rate of 0.3
  instead of 0.1 gave 408.6 (at 1e-3).
  Adam everywhere pushes the logit of every word absent from the training
  split down by ~lr per update (its normalized step turns the tiny, one-signed
  softmax gradient into a full step): after 4 epochs those words (1.7% of the
  validation tokens, since the vocabulary is counted over the whole corpus as
  in the paper) cost 19.6 nats each against Kneser-Ney's 13.6, +0.10 nats on
  the mean, 10% of perplexity.  Two-epoch runs on Brown: validation 382.5 with
  the momentum output layer against 399.7 with Adam everywhere (same dropout
  0.1); 405.0 against 420.0 with dropout 0.2/0.5.
* dropout 0.15 on the features and 0.35 on the hidden units: Adam overfits
  the rare rows of ``C`` within 3-4 epochs at 0.1/0.1 (train 237 vs valid 396).
* blank noising: each training context word is replaced by the padding row
  with chance 0.15 (``--dropout-words``), and the weights validated and kept
  are an exponential average of the iterates, decay 0.9995 per update
  (``--weight-average``, about the last 2,000 of 3,125 updates an epoch).
  After one and two epochs the last weights reach 411.7 / 379.8 with blank
  noising against 399.1 / 363.7 without, but training perplexity (noise on) stays
  above validation (416.7 vs 379.8 after epoch 2, against 355.7 vs 363.7), so
  the model keeps improving for longer; the average beats the last weights
  from epoch 2 on (374.3 vs 379.8).  A larger input side (n=7, m=100) or
  heavier dropout (0.25/0.5) only slowed the first two epochs.
* only the averaged weights are validated each epoch: validating the last
  iterate too (``--validate-last``, a diagnostic) costs 9.2 s an epoch at
  h=200, 6% of the epoch, and changes nothing else.
* the first epochs (up to 70) train with the sampled softmax of
  ``lmkit.lm.sampled`` (2,048 unigram^0.75 draws a batch; validation stays
  exact): ~5x faster epochs that learn as much as exact ones (validation
  after 10 epochs 303.7 against 304.6 exact); once validation stalls the
  exact softmax takes over.  2026-11-30: 61 sampled + 3 exact epochs in
  46.5 minutes, test 260.3, where 30 exact epochs in 85 minutes gave 267.7.
* a worse validation epoch reverts to the best weights and halves the rate;
  stop after 3 such epochs in a row (in each phase), 200 epochs, or
  ``--time-limit`` minutes (default 85).

Run under the lock::

    LMKIT_DATA=/work/shared/data flock /tmp/lmkit-bench.lock \\
        .venv/bin/python scripts/reproduce_bengio_brown.py --threads 2
"""
from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

# Bengio et al. (2003), JMLR 3:1137-1155, Table 1 (Brown corpus), p. 1149, verified on 2026-11-23
# against a Markdown extract of the published PDF (github.com/shjuka/makemore, file bengio03a.md,
# commit 0743b1413169aa3856eefb13b505988304670daf) and, independently, a translated copy of the
# paper quoting the same table.  Columns: n, c (word classes), h, m, direct, mix, train, valid,
# test perplexity; None = blank in the paper.  "mix" = the network's probabilities averaged with
# those of the deleted-interpolation trigram, weight 0.5 each (table caption).
PAPER_SOURCE = ("Bengio et al. 2003, JMLR 3:1137-1155, Table 1, p. 1149 (verified against "
                "github.com/shjuka/makemore/bengio03a.md @ 0743b14, a Markdown extract of the PDF)")
PAPER = {
    "MLP1": (5, None, 50, 60, True, False, 182, 284, 268),
    "MLP2": (5, None, 50, 60, True, True, None, 275, 257),
    "MLP3": (5, None, 0, 60, True, False, 201, 327, 310),
    "MLP4": (5, None, 0, 60, True, True, None, 286, 272),
    "MLP5": (5, None, 50, 30, True, False, 209, 296, 279),
    "MLP6": (5, None, 50, 30, True, True, None, 273, 259),
    "MLP7": (3, None, 50, 30, True, False, 210, 309, 293),
    "MLP8": (3, None, 50, 30, True, True, None, 284, 270),
    "MLP9": (5, None, 100, 30, False, False, 175, 280, 276),
    "MLP10": (5, None, 100, 30, False, True, None, 265, 252),
    "Del. Int. n=3": (3, None, None, None, None, None, 31, 352, 336),
    "Kneser-Ney back-off n=3": (3, None, None, None, None, None, None, 334, 323),
    "Kneser-Ney back-off n=4": (4, None, None, None, None, None, None, 332, 321),
    "Kneser-Ney back-off n=5": (5, None, None, None, None, None, None, 332, 321),
    "class-based back-off n=3 c=150": (3, 150, None, None, None, None, None, 348, 334),
    "class-based back-off n=3 c=200": (3, 200, None, None, None, None, None, 354, 340),
    "class-based back-off n=3 c=500": (3, 500, None, None, None, None, None, 326, 312),
    "class-based back-off n=3 c=1000": (3, 1000, None, None, None, None, None, 335, 319),
    "class-based back-off n=3 c=2000": (3, 2000, None, None, None, None, None, 343, 326),
    "class-based back-off n=4 c=500": (4, 500, None, None, None, None, None, 327, 312),
    "class-based back-off n=5 c=500": (5, 500, None, None, None, None, None, 327, 312),
}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_paper_table() -> None:
    """The paper's Table 1 as published (blank cells are blank in the paper)."""
    print(f"\nPaper, Table 1 -- source: {PAPER_SOURCE}")
    print(f"{'model':32} {'n':>2} {'c':>5} {'h':>4} {'m':>3} {'direct':>6} {'mix':>4} "
          f"{'train':>5} {'valid':>5} {'test':>5}")
    for name, row in PAPER.items():
        n, c, h, m, direct, mix, train, valid, test = (_cell(v) for v in row)
        print(f"{name:32} {n:>2} {c:>5} {h:>4} {m:>3} {direct:>6} {mix:>4} {train:>5} {valid:>5} {test:>5}")


def network_shape(config) -> str:
    """An NPLM's shape as Table 1 gives it: ``n=5 h=200 m=60 direct=no``."""
    return f"n={config.context + 1} h={config.hidden} m={config.features} direct={'yes' if config.direct else 'no'}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Bengio et al. (2003) on Brown: n-grams, NPLM, mixture.")
    parser.add_argument("--workdir", default="/tmp/lmkit-bengio", help="where models and checkpoints go")
    parser.add_argument("--context", type=int, default=4)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--direct", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--dropout-features", type=float, default=0.15)
    parser.add_argument("--dropout-hidden", type=float, default=0.35)
    parser.add_argument("--dropout-words", type=float, default=0.15,
                        help="chance that a training context word is blanked (blank noising)")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--output-optimizer", default="momentum")
    parser.add_argument("--output-lr", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--lr-decay", type=float, default=3e-5)
    parser.add_argument("--lr-schedule", choices=("inverse", "linear"), default="inverse",
                        help="inverse: lr/(1 + r t); linear: lr down to lr/100 over --epochs")
    parser.add_argument("--sampled-epochs", type=int, default=70,
                        help="train the first N epochs with the sampled softmax (validation stays exact)")
    parser.add_argument("--sampled-words", type=int, default=2048, help="words the sampled softmax draws a batch")
    parser.add_argument("--cooldown-epochs", type=int, default=0,
                        help="the last K of --epochs scale the rate down linearly to 1/100 (0: off)")
    parser.add_argument("--weight-decay", type=float, default=None, help="coupled L2 (default: 1e-4 sgd, 0 adam)")
    parser.add_argument("--decoupled-weight-decay", type=float, default=0.0)
    parser.add_argument("--plateau-factor", type=float, default=0.5,
                        help="> 0: a worse epoch reverts to the best weights and multiplies lr by this")
    parser.add_argument("--weight-average", type=float, default=0.9995,
                        help="> 0: validate and keep an exponential average of the weights, this decay per update")
    parser.add_argument("--validate-last", action=argparse.BooleanOptionalAction, default=False,
                        help="also validate the last weights each epoch (a diagnostic; 9.2 s an epoch at h=200)")
    parser.add_argument("--validate-every", type=int, default=1,
                        help="validate every Nth epoch only (and the last): ~14 s of a ~70 s sampled epoch at n=10")
    parser.add_argument("--clip-norm", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=85.0, help="minutes of NPLM training (0: no limit)")
    parser.add_argument("--max-tokens", type=int, default=0, help="train on the first N tokens (0: all 800k)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="no training: evaluate the model a finished run left in --workdir")
    parser.add_argument("--ensemble-with", nargs="+", type=Path, default=[], metavar="DIR",
                        help="also evaluate this run's NPLM in an ensemble with the NPLMs of these --workdir folders")
    parser.add_argument("--log-linear", action="store_true",
                        help="with --ensemble-with: also the NPLMs' log-linear mixture (weights by Newton on valid)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.log_linear and not args.ensemble_with:
        parser.error("--log-linear mixes the NPLMs of --ensemble-with DIR ...: give those folders")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")

    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab
    from lmkit.lm.ensemble import Ensemble
    from lmkit.lm.loglinear import LogLinearEnsemble
    from lmkit.lm.ngram import KneserNey
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.lm.perplexity import ContextFrequency, Mixture, perplexity

    started = time.perf_counter()
    whole = encode_corpus("brown", min_count=4, unk="<unk>", verbose=False)
    splits = {name: encode_with_vocab(f"brown:{name}", whole.vocab, whole.tokenizer, verbose=False)
              for name in ("train", "valid", "test")}
    print(f"Brown, Bengio protocol: |V| = {len(whole.vocab)} (paper: 16,383), tokens train "
          f"{splits['train'].n_tokens}, valid {splits['valid'].n_tokens}, test {splits['test'].n_tokens} "
          f"(paper: 800,000 / 200,000 / 181,041)")
    rows = []  # (name, settings, valid ppl, test ppl, seconds, paper row)

    def evaluate(model):
        return perplexity(model, splits["valid"]).perplexity, perplexity(model, splits["test"])

    kns = {}
    for order in (3, 4, 5):
        t0 = time.perf_counter()
        kns[order] = KneserNey(order, boundaries="stream").fit(splits["train"])
        valid_ppl, test = evaluate(kns[order])
        rows.append((f"KN n={order}", "interpolated modified KN", valid_ppl, test.perplexity,
                     time.perf_counter() - t0, f"Kneser-Ney back-off n={order}"))
    best_order = min(kns, key=lambda o: next(r[2] for r in rows if r[0] == f"KN n={o}"))

    config = NPLMConfig(context=args.context, features=args.features, hidden=args.hidden, direct=args.direct,
                        dropout_features=args.dropout_features, dropout_hidden=args.dropout_hidden,
                        dropout_words=args.dropout_words,
                        boundaries="stream", optimizer=args.optimizer, lr=args.lr, lr_decay=args.lr_decay,
                        lr_schedule=args.lr_schedule, cooldown_epochs=args.cooldown_epochs,
                        sampled_epochs=args.sampled_epochs, sampled_words=args.sampled_words,
                        output_optimizer=args.output_optimizer, output_lr=args.output_lr,
                        weight_decay=args.weight_decay, decoupled_weight_decay=args.decoupled_weight_decay,
                        plateau_factor=args.plateau_factor, weight_average=args.weight_average,
                        validate_last=args.validate_last, validate_every=args.validate_every,
                        clip_norm=args.clip_norm,
                        batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
                        time_limit=args.time_limit * 60,
                        threads=args.threads, seed=args.seed, max_tokens=args.max_tokens)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.evaluate_only:
        nplm = NPLM.load(workdir / "nplm.lmkit")
        config = nplm.config
    else:
        nplm = NPLM(config).fit(splits["train"], splits["valid"], output=workdir / "nplm.lmkit",
                                resume=args.resume, verbose=not args.quiet)
    train_seconds = time.perf_counter() - t0
    shape = network_shape(config)
    paper_row = "MLP1" if config.direct else "MLP9"
    mix_row = "MLP2" if config.direct else "MLP10"
    valid_ppl, test = evaluate(nplm)
    rows.append(("NPLM", shape, valid_ppl, test.perplexity, train_seconds, paper_row))
    for other, weight, label in ((kns[3], 0.5, "NPLM + KN3, weight 0.5"), (kns[best_order], None, None)):
        t0 = time.perf_counter()
        if weight is None:  # the fit already scored validation under the fitted weight
            mix = Mixture.fit_weight(nplm, other, splits["valid"])
            label = f"NPLM + KN{best_order}, fitted weight {mix.weight:.3f}"
            valid_mix = mix.validation_perplexities[None]
        else:
            mix = Mixture(nplm, other, weight)
            valid_mix = perplexity(mix, splits["valid"]).perplexity
        rows.append((label, "mixture", valid_mix, perplexity(mix, splits["test"]).perplexity,
                     time.perf_counter() - t0, mix_row))
    def mix_by_context(model, label):
        """The paper's third kind of mix: ``model`` and the best KN with one weight per frequency class
        of the context, counted on the training split; the context length (1-3 last words) chosen on
        validation.  Appends the row and prints the weights."""
        t0 = time.perf_counter()
        candidates = [ContextFrequency(splits["train"], length=length, boundaries="stream") for length in (1, 2, 3)]
        mix = Mixture.fit_weight(model, kns[best_order], splits["valid"], classes=candidates)
        fitted = mix.validation_perplexities
        rows.append((f"{label} + KN{best_order}, weights by context", f"{mix.classes.length}-word context classes",
                     fitted[mix.classes.length], perplexity(mix, splits["test"]).perplexity,
                     time.perf_counter() - t0, mix_row))
        print(f"{label}: weights by frequency class of the context (validation perplexity by context length: "
              + ", ".join(f"{n} words {v:.1f}" for n, v in fitted.items()) + f"): {mix.describe_weight()}")

    mix_by_context(nplm, "NPLM")
    if args.ensemble_with:
        members, names = [nplm], [str(workdir)]
        for folder in args.ensemble_with:
            t0 = time.perf_counter()
            members.append(NPLM.load(folder / "nplm.lmkit"))
            names.append(str(folder))
            c = members[-1].config
            valid_ppl, test = evaluate(members[-1])
            rows.append((f"NPLM of {folder.name}", f"{network_shape(c)} seed {c.seed}", valid_ppl,
                         test.perplexity, time.perf_counter() - t0, "MLP1" if c.direct else "MLP9"))
        for label, models, model_names in ((f"ensemble of {len(members)} NPLMs", members, names),
                                           (f"{len(members)} NPLMs + KN{best_order}", members + [kns[best_order]],
                                            names + [f"KN{best_order}"])):
            t0 = time.perf_counter()
            ensemble = Ensemble.fit_weights(models, splits["valid"])  # (it scores valid: no second pass)
            rows.append((label, "EM weights on valid", ensemble.validation_perplexity,
                         perplexity(ensemble, splits["test"]).perplexity, time.perf_counter() - t0, mix_row))
            print(f"{label}: weights {ensemble.describe_weights(model_names)}")
        if args.log_linear:
            t0 = time.perf_counter()
            ensemble = LogLinearEnsemble.fit_weights(members, splits["valid"])
            rows.append((f"log-linear mix of {len(members)} NPLMs", "Newton weights on valid",
                         ensemble.validation_perplexity, perplexity(ensemble, splits["test"]).perplexity,
                         time.perf_counter() - t0, mix_row))
            print(f"log-linear mix of {len(members)} NPLMs: weights {ensemble.describe_weights(names)}")
            t0 = time.perf_counter()
            mix = Mixture.fit_weight(ensemble, kns[best_order], splits["valid"])
            rows.append((f"log-linear mix + KN{best_order}", f"weight {mix.describe_weight()} on valid",
                         mix.validation_perplexities[None], perplexity(mix, splits["test"]).perplexity,
                         time.perf_counter() - t0, mix_row))
            mix_by_context(ensemble, "log-linear mix")

    print(f"\nNPLM {shape}: {config}")
    if nplm.history:
        print(f"training: {len(nplm.history)} epochs, {train_seconds / 60:.1f} min, "
              f"{sum(r['tokens_per_s'] for r in nplm.history) / len(nplm.history):.0f} tokens/s")
    for r in nplm.history:
        print(f"  epoch {r['epoch']:2d}: lr {r['lr']:.3g}, train ppl {math.exp(r['train_loss']):7.1f} "
              f"(dropout on{', sampled softmax' if r.get('objective') == 'sampled softmax' else ''}), "
              + (f"valid ppl {r['valid_ppl']:7.1f}" if "valid_ppl" in r else "not validated")
              + (f" (last weights {r['valid_ppl_last']:7.1f})" if "valid_ppl_last" in r else ""))
    print(f"test set: {test.describe()}")
    print(f"\n{'model':42} {'settings':26} {'valid':>7} {'test':>7} {'time':>7}   paper row: valid / test")
    for name, settings, v, t, seconds, paper_name in rows:
        pv, pt = PAPER[paper_name][7:]
        print(f"{name:42} {settings:26} {v:7.2f} {t:7.2f} {seconds:6.0f}s   {paper_name}: {pv} / {pt}")
    print("(the paper's mix averages the network with a deleted-interpolation trigram, weight 0.5; "
          "our |V| is 17,905 against the paper's 16,383, which raises every perplexity a little)")
    print_paper_table()
    print(f"\ntotal {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
