"""`lmkit train nplm|ngram` and `lmkit perplexity` (see :mod:`lmkit.cli`).

Handlers only turn arguments into an :class:`lmkit.lm.nplm.NPLMConfig` or a
:class:`lmkit.lm.ngram.KneserNey`, encode the corpora (the validation and
test sets with the training vocabulary), fit, save and report.
"""
from __future__ import annotations

import argparse

from lmkit.cli.configfile import add_config_argument, read_config
from lmkit.cli.data import (add_input_arguments, add_tokenizer_arguments, corpus_source, encoding_options,
                             tokenizer_config)
from lmkit.cli.options import add_config_options, field_names, typed_values
from lmkit.cli.watch import add_monitor_arguments, monitor_options
from lmkit.lm.config import BOUNDARY_NAMES, NPLMConfig


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit train nplm``, ``lmkit train ngram`` and ``lmkit perplexity``."""
    nplm = trainers.add_parser("nplm", help="Bengio et al. (2003) neural probabilistic language model",
                               description="Train the neural probabilistic language model of Bengio et al. (2003).")
    add_corpus_arguments(nplm)
    nplm.add_argument("--valid", metavar="PATH_OR_DATASET", help="validation text for early stopping")
    nplm.add_argument("--output", required=True, metavar="MODEL", help="model file to write (best epoch); "
                      "the checkpoint goes to MODEL.ckpt")
    options = nplm.add_argument_group("model and training (NPLMConfig)")
    add_config_options(options, NPLMConfig)
    options.add_argument("--dropout", type=float, default=argparse.SUPPRESS,
                         help="dropout on the features and the hidden units both (--dropout-features and "
                              "--dropout-hidden, if given, win)")
    options.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt")
    options.add_argument("--ensemble", type=int, default=1, metavar="K",
                         help="train K models, seeds --seed .. --seed+K-1, written to MODEL-1 .. MODEL-K; "
                              "report each one's and their equal-weight mixture's validation perplexity")
    add_config_argument(nplm)
    add_monitor_arguments(nplm, "minibatch steps")
    nplm.set_defaults(handler=_train_nplm)

    ngram = trainers.add_parser("ngram", help="interpolated modified Kneser-Ney n-gram model",
                                description="Fit an interpolated modified Kneser-Ney n-gram model.")
    add_corpus_arguments(ngram)
    ngram.add_argument("--order", type=int, default=3, help="n, 2..5 (default 3)")
    ngram.add_argument("--boundaries", choices=BOUNDARY_NAMES, default="sentence",
                       help="as for nplm: must match to mix the two")
    ngram.add_argument("--output", metavar="MODEL", help="lmkit model file to write")
    ngram.add_argument("--arpa", metavar="FILE", help="also (or only) write the model as an ARPA file, "
                       "read by KenLM and SRILM (.gz compresses)")
    ngram.set_defaults(handler=_train_ngram)

    ppl = commands.add_parser("perplexity", help="exact perplexity of a language model (or a mixture) on a text",
                              description="Exact perplexity of an nplm or ngram model, of two mixed (--mix), "
                                          "or of the linear mixture of several (MODEL MODEL ...).")
    ppl.add_argument("models", nargs="+", metavar="MODEL", help="an nplm or ngram model file, or an ARPA file "
                     "(KenLM, SRILM, lmkit; .gz too); several: their linear mixture (equal weights, "
                     "--weights or --fit-weights)")
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
    ppl.add_argument("--weights", type=float, nargs="+", metavar="W",
                     help="with several MODELs: their mixture weights, one per model, summing to 1")
    ppl.add_argument("--fit-weights", metavar="PATH_OR_DATASET",
                     help="with several MODELs: fit their mixture weights by EM on this (validation) text")
    ppl.add_argument("--log-linear", action="store_true",
                     help="with several nplm MODELs: mix them log-linearly (a renormalized weighted product of "
                          "their distributions; --fit-weights by Newton's method) instead of linearly")
    ppl.add_argument("--logprobs", metavar="FILE", help="write token<TAB>log p for every prediction")
    ppl.add_argument("--batch-size", type=int, default=8192, help="predictions scored at once")
    ppl.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                     help="refuse a text with words the model cannot score (unknown to a vocabulary without "
                          "<unk>); --no-strict skips them and reports how many (default strict)")
    ppl.add_argument("--quiet", action="store_true", help="no progress bar")
    add_input_arguments(ppl)
    ppl.set_defaults(handler=_perplexity)


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
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


def encode_training(args):
    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab

    options = dict(min_count=args.min_count, unk=args.unk or None, eos=args.eos or None, **encoding_options(args),
                   verbose=not args.quiet)
    if args.vocab_from:
        base = encode_corpus(corpus_source(args, args.vocab_from), tokenizer_config(args), **options)
        return encode_with_vocab(corpus_source(args, args.input), base.vocab, base.tokenizer,
                                 **encoding_options(args), verbose=not args.quiet)
    return encode_corpus(corpus_source(args, args.input), tokenizer_config(args), **options)


def nplm_config(args: argparse.Namespace) -> NPLMConfig:
    """The :class:`NPLMConfig` of ``lmkit train nplm``: the config's defaults, under ``--config FILE``'s
    values, under ``--dropout``, under the other flags typed."""
    from lmkit._config import config_from_dict

    values = read_config(args.config) if getattr(args, "config", None) else {}
    if hasattr(args, "dropout"):
        values.update(dropout_features=args.dropout, dropout_hidden=args.dropout)
    values.update(typed_values(args, field_names(NPLMConfig)))
    try:
        return config_from_dict(NPLMConfig, values).validate()
    except (TypeError, ValueError) as error:
        raise ValueError(f"--config {args.config}: {error}" if getattr(args, "config", None) else str(error)) \
            from None


def _member_path(output: str, index: int) -> str:
    """``model.npz`` -> ``model-1.npz``: where member ``index`` of an ensemble goes."""
    from pathlib import Path

    path = Path(output)
    return str(path.with_name(f"{path.stem}-{index}{path.suffix}"))


def _train_nplm(args: argparse.Namespace) -> int:
    if args.ensemble < 1:
        raise ValueError(f"--ensemble must be >= 1, got {args.ensemble}")
    if args.ensemble > 1:
        return _train_nplm_ensemble(args)
    return _train_one_nplm(args)


def _train_nplm_ensemble(args: argparse.Namespace) -> int:
    """``--ensemble K``: K models of consecutive seeds, then each one's and the mixture's validation perplexity."""
    import dataclasses

    from lmkit.corpus.encoded import encode_with_vocab
    from lmkit.lm.ensemble import Ensemble, member_perplexities
    from lmkit.lm.nplm import NPLM
    from lmkit.lm.perplexity import perplexity

    base, output, log_dir, paths = nplm_config(args), args.output, args.log_dir, []
    for index in range(1, args.ensemble + 1):
        args.output = _member_path(output, index)
        args.log_dir = None if log_dir is None else f"{log_dir}/member-{index}"
        args.seed = base.seed + index - 1
        _train_one_nplm(args, dataclasses.replace(base, seed=args.seed))
        paths.append(args.output)
    args.output = output
    models = [NPLM.load(path) for path in paths]
    if not args.valid:
        print(f"ensemble: {len(models)} models written to {', '.join(paths)} (no --valid to score them on)")
        return 0
    valid = encode_with_vocab(corpus_source(args, args.valid), models[0].vocab, models[0].tokenizer, verbose=False)
    ensemble = Ensemble(models)
    for path, ppl in zip(paths, member_perplexities(ensemble, valid)):
        print(f"  {path}: validation perplexity {ppl:.2f}")
    print(f"ensemble of {len(models)} (equal weights), validation: {perplexity(ensemble, valid).describe()}")
    return 0


def _train_one_nplm(args: argparse.Namespace, config=None) -> int:
    from lmkit.cli.paths import check_output
    from lmkit.corpus.encoded import encode_with_vocab
    from lmkit.lm.nplm import NPLM
    from lmkit.lm.perplexity import perplexity
    from lmkit.memory import check_fits, nplm_bytes

    config = config or nplm_config(args)
    model = NPLM(config)
    monitoring = monitor_options(args)
    check_output(args.output, "--output")
    corpus = encode_training(args)
    check_fits(nplm_bytes(config, len(corpus.vocab)),
               f"an NPLM of {len(corpus.vocab)} words (--features {config.features}, --hidden {config.hidden}, "
               f"--context {config.context}, --batch-size {config.batch_size})")
    valid = None
    if args.valid:
        valid = encode_with_vocab(corpus_source(args, args.valid), corpus.vocab, corpus.tokenizer,
                                  **encoding_options(args), verbose=not args.quiet)
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
    model = KneserNey(args.order, boundaries=args.boundaries).fit(encode_training(args))
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
    if len(args.models) > 1 or args.weights or args.fit_weights or args.log_linear:
        return _ensemble_perplexity(args)
    args.model = args.models[0]
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


def _ensemble_perplexity(args: argparse.Namespace) -> int:
    """``lmkit perplexity M1 M2 ...``: the linear (or log-linear) mixture of the models, and each member's
    perplexity."""
    from lmkit.lm.ensemble import Ensemble, member_perplexities
    from lmkit.lm.loglinear import LogLinearEnsemble
    from lmkit.lm.perplexity import perplexity

    if args.mix or args.weight is not None or args.fit_weight or args.weight_by_context:
        raise ValueError("--mix, --weight, --fit-weight and --weight-by-context mix two models (MODEL --mix OTHER); "
                         "with several MODELs use --weights or --fit-weights")
    if args.weights and args.fit_weights:
        raise ValueError("--weights and --fit-weights exclude each other")
    if args.weights and len(args.weights) != len(args.models):
        raise ValueError(f"--weights: {len(args.weights)} numbers for {len(args.models)} models")
    models = [_load_any(path) for path in args.models]
    kind, name = (LogLinearEnsemble, "log-linear mixture") if args.log_linear else (Ensemble, "mixture")
    for path, model in zip(args.models, models):
        if args.log_linear and not hasattr(model, "logits"):
            raise ValueError(f"--log-linear: {path} is a {model.kind} model, which scores one word at a time; "
                             f"only nplm models give the whole distributions a log-linear mixture renormalizes")
    if args.fit_weights:
        ensemble = kind.fit_weights(models, corpus_source(args, args.fit_weights), batch_size=args.batch_size)
    else:
        ensemble = kind(models, args.weights)
    test = corpus_source(args, args.input)
    result = perplexity(ensemble, test, batch_size=args.batch_size, logprobs_path=args.logprobs,
                        strict=args.strict, verbose=not args.quiet)
    members = member_perplexities(ensemble, test, batch_size=args.batch_size)
    how = "fitted on " + str(args.fit_weights) if args.fit_weights else ("given" if args.weights else "equal")
    print(f"{name} of {len(models)} models, weights {how}:")
    for path, weight, ppl in zip(args.models, ensemble.weights, members):
        print(f"  {path}: weight {weight:.4f}, perplexity {ppl:.2f}")
    print(f"{name}: {result.describe()}")
    return 0
