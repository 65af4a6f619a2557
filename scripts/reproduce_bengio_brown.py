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
their mixture (weight fitted by EM on validation), then prints validation
and test perplexity beside the paper's Table 1 figures.  Run under the lock::

    LMKIT_DATA=/work/shared/data flock /tmp/lmkit-bench.lock \\
        .venv/bin/python scripts/reproduce_bengio_brown.py --threads 2
"""
from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

# Bengio et al. (2003), Table 1 (Brown): name -> (n, h, m, direct, mix, valid, test)
PAPER = {
    "MLP1": (5, 50, 60, True, False, 284, 268),
    "MLP2": (5, 50, 60, True, True, 275, 257),
    "MLP5": (5, 50, 30, True, False, 296, 279),
    "MLP9": (5, 100, 30, False, False, 280, 276),
    "MLP10": (5, 100, 30, False, True, 265, 252),
    "Kneser-Ney back-off n=3": (3, None, None, None, False, 334, 323),
    "Kneser-Ney back-off n=4": (4, None, None, None, False, 332, 321),
    "Kneser-Ney back-off n=5": (5, None, None, None, False, 332, 321),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="Bengio et al. (2003) on Brown: n-grams, NPLM, mixture.")
    parser.add_argument("--workdir", default="/tmp/lmkit-bengio", help="where models and checkpoints go")
    parser.add_argument("--context", type=int, default=4)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--direct", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=3e-5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=0, help="train on the first N tokens (0: all 800k)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")

    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab
    from lmkit.lm.ngram import KneserNey
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.lm.perplexity import Mixture, perplexity

    started = time.perf_counter()
    whole = encode_corpus("brown", min_count=4, unk="<unk>", verbose=False)
    splits = {name: encode_with_vocab(f"brown:{name}", whole.vocab, whole.tokenizer, verbose=False)
              for name in ("train", "valid", "test")}
    print(f"Brown, Bengio protocol: |V| = {len(whole.vocab)} (paper: 16,383), tokens train "
          f"{splits['train'].n_tokens}, valid {splits['valid'].n_tokens}, test {splits['test'].n_tokens} "
          f"(paper: 800,000 / 200,000 / 181,041)")
    rows = []  # (name, shape, valid ppl, test ppl, seconds, paper name)

    def evaluate(model):
        return perplexity(model, splits["valid"]).perplexity, perplexity(model, splits["test"])

    best_kn, best_kn_valid = None, math.inf
    for order in (3, 4, 5):
        t0 = time.perf_counter()
        kn = KneserNey(order, boundaries="stream").fit(splits["train"])
        valid_ppl, test = evaluate(kn)
        rows.append((f"KN n={order}", f"n={order}", valid_ppl, test.perplexity, time.perf_counter() - t0,
                     f"Kneser-Ney back-off n={order}"))
        if valid_ppl < best_kn_valid:
            best_kn, best_kn_valid = kn, valid_ppl

    config = NPLMConfig(context=args.context, features=args.features, hidden=args.hidden, direct=args.direct,
                        dropout_features=args.dropout, dropout_hidden=args.dropout, boundaries="stream",
                        lr=args.lr, lr_decay=args.lr_decay, batch_size=args.batch_size, epochs=args.epochs,
                        patience=args.patience, threads=args.threads, seed=args.seed, max_tokens=args.max_tokens)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    nplm = NPLM(config).fit(splits["train"], splits["valid"], output=workdir / "nplm.lmkit",
                            resume=args.resume, verbose=not args.quiet)
    train_seconds = time.perf_counter() - t0
    shape = (f"n={args.context + 1} h={args.hidden} m={args.features} direct={'yes' if args.direct else 'no'} "
             f"dropout={args.dropout}")
    valid_ppl, test = evaluate(nplm)
    rows.append(("NPLM", shape, valid_ppl, test.perplexity, train_seconds, "MLP1" if args.direct else "MLP9"))
    t0 = time.perf_counter()
    mix = Mixture.fit_weight(nplm, best_kn, splits["valid"])
    valid_ppl, test_mix = evaluate(mix)
    rows.append((f"NPLM + KN n={best_kn.order} mix", f"weight {mix.weight:.3f}", valid_ppl,
                 test_mix.perplexity, time.perf_counter() - t0, "MLP10"))

    print(f"\nNPLM training: {len(nplm.history)} epochs, {train_seconds / 60:.1f} min, "
          f"{sum(r['tokens_per_s'] for r in nplm.history) / len(nplm.history):.0f} tokens/s; per epoch valid ppl: "
          + ", ".join(f"{r['valid_ppl']:.1f}" for r in nplm.history))
    print(f"test set: {test.describe()}")
    print(f"\n{'model':24} {'settings':44} {'valid':>7} {'test':>7} {'time':>8}   paper (Table 1): valid / test")
    for name, settings, v, t, seconds, paper_name in rows:
        pv, pt = PAPER[paper_name][5:]
        print(f"{name:24} {settings:44} {v:7.1f} {t:7.1f} {seconds:7.0f}s   {paper_name}: {pv} / {pt}")
    print("paper rows for reference: " + "; ".join(f"{k} {v[5]}/{v[6]}" for k, v in PAPER.items()
                                                    if k.startswith("MLP")))
    print(f"total {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
