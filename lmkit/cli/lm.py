"""`lmkit train nplm|ngram` and `lmkit perplexity` (see :mod:`lmkit.cli`).

Handlers only turn arguments into an :class:`lmkit.lm.nplm.NPLMConfig` or a
:class:`lmkit.lm.ngram.KneserNey`, encode the corpora (the validation and
test sets with the training vocabulary), fit, save and report.
"""
from __future__ import annotations

import argparse

from lmkit.cli.data import add_input_arguments, add_tokenizer_arguments, corpus_source, tokenizer_config
from lmkit.cli.watch import add_monitor_arguments, monitor_options


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit train nplm``, ``lmkit train ngram`` and ``lmkit perplexity``."""
    nplm = trainers.add_parser("nplm", help="Bengio et al. (2003) neural probabilistic language model",
                               description="Train the neural probabilistic language model of Bengio et al. (2003).")
    _corpus_arguments(nplm)
    nplm.add_argument("--valid", metavar="PATH_OR_DATASET", help="validation text for early stopping")
    nplm.add_argument("--output", required=True, metavar="MODEL", help="model file to write (best epoch); "
                      "the checkpoint goes to MODEL.ckpt")
    model = nplm.add_argument_group("model")
    model.add_argument("--context", type=int, default=4, help="previous words used, n-1 (default 4)")
    model.add_argument("--features", type=int, default=60, help="word feature size m (default 60)")
    model.add_argument("--hidden", type=int, default=50, help="hidden units h, 0 = none (default 50)")
    model.add_argument("--direct", action=argparse.BooleanOptionalAction, default=True,
                       help="direct connections from the features to the output (default on)")
    model.add_argument("--activation", default="tanh",
                       choices=("tanh", "sigmoid", "relu", "leaky_relu", "prelu", "elu", "identity"),
                       help="hidden activation (default tanh)")
    model.add_argument("--dropout", type=float, default=0.0, help="dropout on features and hidden units")
    model.add_argument("--dropout-features", type=float, default=None, help="dropout on features (default --dropout)")
    model.add_argument("--dropout-hidden", type=float, default=None, help="dropout on hidden units (default --dropout)")
    model.add_argument("--dropout-words", type=float, default=0.0,
                       help="chance that a training context word is blanked (default 0)")
    model.add_argument("--batch-norm", action="store_true", help="batch-normalize the hidden pre-activation")
    model.add_argument("--boundaries", choices=("sentence", "stream"), default="sentence",
                       help="sentence: contexts restart at each sentence (default); stream: running text")
    training = nplm.add_argument_group("training")
    training.add_argument("--optimizer", default="adam", help="adam (default), sgd, momentum, adagrad, ...")
    training.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    training.add_argument("--lr-decay", type=float, default=0.0, help="r in lr/(1 + r t) (default 0)")
    training.add_argument("--lr-schedule", choices=("inverse", "linear"), default="inverse",
                          help="inverse: lr/(1 + r t) (default); linear: lr down to lr/100 over --epochs")
    training.add_argument("--sampled-epochs", type=int, default=0,
                          help="train the first N epochs with the sampled softmax, ~5x faster epochs on a "
                               "17.9k-word vocabulary; perplexity stays exact (default 0)")
    training.add_argument("--sampled-words", type=int, default=2048,
                          help="words the sampled softmax draws per batch from unigram^0.75 (default 2048)")
    training.add_argument("--cooldown-epochs", type=int, default=0,
                          help="the last K of --epochs scale the rate down linearly to 1/100 (default 0: off)")
    training.add_argument("--weight-decay", type=float, default=None,
                          help="L2 on weights and C (default 1e-4 with sgd, 0 with adam)")
    training.add_argument("--decoupled-weight-decay", type=float, default=0.0,
                          help="AdamW-style decay of O, H and the used rows of C (default 0)")
    training.add_argument("--output-optimizer", default="", help="optimizer of the output layer (default: --optimizer)")
    training.add_argument("--output-lr", type=float, default=0.0, help="its learning rate (default: --lr)")
    training.add_argument("--plateau-factor", type=float, default=0.0,
                          help="> 0: an epoch worse on --valid reverts to the best weights and multiplies lr by this")
    training.add_argument("--weight-average", type=float, default=0.0,
                          help="> 0: validate and save an exponential average of the weights, this decay "
                               "per update (e.g. 0.999; default 0: off)")
    training.add_argument("--validate-last", action=argparse.BooleanOptionalAction, default=True,
                          help="with --weight-average: also report the last weights' validation perplexity "
                               "(one more pass over --valid an epoch; default on)")
    training.add_argument("--clip-norm", type=float, default=0.0, help="clip the global gradient norm (0: off)")
    training.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    training.add_argument("--patience", type=int, default=2, help="epochs without improvement (default 2)")
    training.add_argument("--batch-size", type=int, default=256, help="examples per update (default 256)")
    training.add_argument("--threads", type=int, default=0, help="numba and BLAS threads (default 0: all)")
    training.add_argument("--max-tokens", type=int, default=0, help="train on the first N tokens only")
    training.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    training.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt")
    add_monitor_arguments(nplm, "minibatch steps")
    nplm.set_defaults(handler=_train_nplm)

    ngram = trainers.add_parser("ngram", help="interpolated modified Kneser-Ney n-gram model",
                                description="Fit an interpolated modified Kneser-Ney n-gram model.")
    _corpus_arguments(ngram)
    ngram.add_argument("--order", type=int, default=3, help="n, 2..5 (default 3)")
    ngram.add_argument("--boundaries", choices=("sentence", "stream"), default="sentence",
                       help="as for nplm: must match to mix the two")
    ngram.add_argument("--output", metavar="MODEL", help="lmkit model file to write")
    ngram.add_argument("--arpa", metavar="FILE", help="also (or only) write the model as an ARPA file, "
                       "read by KenLM and SRILM (.gz compresses)")
    ngram.set_defaults(handler=_train_ngram)

    ppl = commands.add_parser("perplexity", help="exact perplexity of a language model on a text",
                              description="Exact perplexity of an nplm or ngram model (or their mixture).")
    ppl.add_argument("model", metavar="MODEL", help="an nplm or ngram model file, or an ARPA file "
                     "(KenLM, SRILM, lmkit; .gz too)")
    ppl.add_argument("--input", required=True, metavar="PATH_OR_DATASET", help="text to score")
    ppl.add_argument("--mix", metavar="OTHER_MODEL", help="interpolate with this second model")
    ppl.add_argument("--weight", type=float, default=None, help="weight of MODEL in the mixture")
    ppl.add_argument("--fit-weight", metavar="PATH_OR_DATASET",
                     help="choose the mixture weight by maximum likelihood on this (validation) text")
    ppl.add_argument("--weight-by-context", metavar="TRAIN_TEXT",
                     help="with --fit-weight: one weight per frequency class of the context, its count "
                          "on this (training) text (Bengio et al. 2003)")
    ppl.add_argument("--context-words", type=int, default=2,
                     help="with --weight-by-context: how many last words make the context (default 2)")
    ppl.add_argument("--logprobs", metavar="FILE", help="write token<TAB>log p for every prediction")
    ppl.add_argument("--batch-size", type=int, default=8192, help="predictions scored at once")
    ppl.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                     help="refuse a text with words the model cannot score (unknown to a vocabulary without "
                          "<unk>); --no-strict skips them and reports how many (default strict)")
    ppl.add_argument("--quiet", action="store_true", help="no progress bar")
    add_input_arguments(ppl)
    ppl.set_defaults(handler=_perplexity)


def _corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="PATH_OR_DATASET",
                        help="training text: file, glob, directory or dataset name (brown:train, ...)")
    parser.add_argument("--min-count", type=int, default=1,
                        help="words seen fewer times become --unk (or are dropped without it)")
    parser.add_argument("--unk", default="<unk>", help="rare-word symbol (default <unk>; '' for none)")
    parser.add_argument("--eos", default="</s>", help="sentence-end symbol, predicted (default </s>; '' for none)")
    parser.add_argument("--vocab-from", metavar="PATH_OR_DATASET",
                        help="count the vocabulary on this text instead (e.g. brown, as Bengio et al. did)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    add_tokenizer_arguments(parser)
    add_input_arguments(parser)


def _encode_training(args):
    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab

    options = dict(min_count=args.min_count, unk=args.unk or None, eos=args.eos or None, workers=args.encode_workers,
                   verbose=not args.quiet)
    if args.vocab_from:
        base = encode_corpus(corpus_source(args, args.vocab_from), tokenizer_config(args), **options)
        return encode_with_vocab(corpus_source(args, args.input), base.vocab, base.tokenizer,
                                 workers=args.encode_workers, verbose=not args.quiet)
    return encode_corpus(corpus_source(args, args.input), tokenizer_config(args), **options)


def _train_nplm(args: argparse.Namespace) -> int:
    from lmkit.cli.paths import check_output
    from lmkit.corpus.encoded import encode_with_vocab
    from lmkit.lm.nplm import NPLM, NPLMConfig
    from lmkit.lm.perplexity import perplexity
    from lmkit.memory import check_fits, nplm_bytes

    config = NPLMConfig(
        context=args.context, features=args.features, hidden=args.hidden, direct=args.direct,
        activation=args.activation,
        dropout_features=args.dropout if args.dropout_features is None else args.dropout_features,
        dropout_hidden=args.dropout if args.dropout_hidden is None else args.dropout_hidden,
        dropout_words=args.dropout_words, batch_norm=args.batch_norm, boundaries=args.boundaries,
        optimizer=args.optimizer, lr=args.lr,
        lr_decay=args.lr_decay, lr_schedule=args.lr_schedule, cooldown_epochs=args.cooldown_epochs,
        sampled_epochs=args.sampled_epochs, sampled_words=args.sampled_words,
        weight_decay=args.weight_decay,
        decoupled_weight_decay=args.decoupled_weight_decay,
        output_optimizer=args.output_optimizer, output_lr=args.output_lr, plateau_factor=args.plateau_factor,
        weight_average=args.weight_average, validate_last=args.validate_last, clip_norm=args.clip_norm,
        batch_size=args.batch_size,
        epochs=args.epochs, patience=args.patience, seed=args.seed, threads=args.threads,
        max_tokens=args.max_tokens)
    model = NPLM(config)
    monitoring = monitor_options(args)
    check_output(args.output, "--output")
    corpus = _encode_training(args)
    check_fits(nplm_bytes(config, len(corpus.vocab)),
               f"an NPLM of {len(corpus.vocab)} words (--features {config.features}, --hidden {config.hidden}, "
               f"--context {config.context}, --batch-size {config.batch_size})")
    valid = None
    if args.valid:
        valid = encode_with_vocab(corpus_source(args, args.valid), corpus.vocab, corpus.tokenizer,
                                  workers=args.encode_workers, verbose=not args.quiet)
    model.fit(corpus, valid, output=args.output, resume=args.resume, verbose=not args.quiet, **monitoring)
    if valid is None:
        model.save(args.output)
    last = model.history[-1] if model.history else {}
    print(f"nplm: vocabulary {len(model.vocab)}, {len(model.history)} epochs, "
          f"{last.get('tokens_per_s', 0):.0f} tokens/s; model written to {args.output}")
    if valid is not None:
        print(f"validation: {perplexity(model, valid).describe()}")
    return 0


def _train_ngram(args: argparse.Namespace) -> int:
    from lmkit.cli.paths import check_output
    from lmkit.lm.ngram import KneserNey

    if not args.output and not args.arpa:
        raise ValueError("lmkit train ngram needs --output MODEL or --arpa FILE (or both)")
    check_output(args.output, "--output")
    check_output(args.arpa, "--arpa")
    model = KneserNey(args.order, boundaries=args.boundaries).fit(_encode_training(args))
    written = []
    if args.output:
        written.append(str(model.save(args.output)))
    if args.arpa:
        written.append(str(model.save_arpa(args.arpa)))
    print(f"ngram: order {args.order}, vocabulary {len(model.vocab)}, "
          f"{len(model.tables[f'grams{args.order}'])} distinct {args.order}-grams; written to {', '.join(written)}")
    return 0


def _load_any(path):
    from lmkit.io import load_model
    from lmkit.lm.ngram import KneserNey
    from lmkit.lm.nplm import NPLM

    from lmkit.lm.arpa import looks_like_arpa

    if looks_like_arpa(path):
        return KneserNey.load_arpa(path)
    _, meta = load_model(path)  # validates the file and tells its kind
    classes = {"nplm": NPLM, "kneser_ney": KneserNey}
    if meta["kind"] not in classes:
        raise ValueError(f"{path}: holds a {meta['kind']!r} model, not a language model (nplm or kneser_ney)")
    return classes[meta["kind"]].load(path)


def _perplexity(args: argparse.Namespace) -> int:
    from lmkit.corpus.encoded import encode_with_vocab
    from lmkit.lm.perplexity import ContextFrequency, Mixture, perplexity

    from lmkit.cli.paths import check_output

    if args.weight_by_context and not args.fit_weight:
        raise ValueError("--weight-by-context needs --fit-weight VALID_TEXT")
    check_output(args.logprobs, "--logprobs")
    model = _load_any(args.model)
    if args.mix:
        other = _load_any(args.mix)
        if args.fit_weight:
            classes = None
            if args.weight_by_context:
                train = encode_with_vocab(corpus_source(args, args.weight_by_context), model.vocab,
                                          getattr(model, "tokenizer", None), verbose=False)
                classes = ContextFrequency(train, length=args.context_words, boundaries=model.boundaries)
            model = Mixture.fit_weight(model, other, corpus_source(args, args.fit_weight), classes=classes)
        elif args.weight is not None:
            model = Mixture(model, other, args.weight)
        else:
            raise ValueError("--mix needs --weight W or --fit-weight VALID_TEXT")
        print(f"mixture weight {model.describe_weight()} on {args.model}")
    elif args.weight is not None or args.fit_weight:
        raise ValueError("--weight and --fit-weight need --mix OTHER_MODEL")
    result = perplexity(model, corpus_source(args, args.input), batch_size=args.batch_size,
                        logprobs_path=args.logprobs, strict=args.strict, verbose=not args.quiet)
    print(result.describe())
    return 0
