"""`lmkit train skipgram|cbow`: train word2vec vectors from a corpus (see :mod:`lmkit.cli`).

Options keep the names users know from the C tool (``-size``, ``-window``,
``-negative``, ``-sample``, ``-min-count``, ``-threads``, ``-alpha``,
``-binary``) and gensim.  The handler only turns arguments into a
:class:`lmkit.word2vec.model.Word2VecConfig`, fits and saves.
"""
from __future__ import annotations

import argparse

from lmkit.cli.data import add_input_arguments, add_tokenizer_arguments, corpus_source, tokenizer_config
from lmkit.cli.watch import add_monitor_arguments, monitor_options


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit train skipgram`` and ``lmkit train cbow``."""
    for architecture, description in (("skipgram", "word2vec skip-gram: each word predicts its context"),
                                      ("cbow", "word2vec CBOW: the context predicts each word")):
        parser = trainers.add_parser(architecture, help=description, description=description)
        _add_arguments(parser, architecture)
        parser.set_defaults(handler=_train, architecture=architecture)


def _add_arguments(parser: argparse.ArgumentParser, architecture: str) -> None:
    default_alpha = 0.05 if architecture == "cbow" else 0.025
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", required=True, metavar="PATH_OR_DATASET",
                    help="text file, glob, directory or dataset name (brown, brown:train, ...)")
    io.add_argument("--output", required=True, metavar="VECTORS", help="word2vec vector file to write")
    io.add_argument("--binary", action="store_true", help="write the word2vec binary format (default: text)")
    io.add_argument("--save-model", metavar="PATH", help="also save the full model (lmkit .npz) to continue training")
    io.add_argument("--quiet", action="store_true", help="no progress bar or log lines")

    model = parser.add_argument_group("model")
    model.add_argument("--loss", choices=("ns", "hs", "both"), default="ns",
                       help="ns: negative sampling (default), hs: hierarchical softmax, both")
    model.add_argument("--size", type=int, default=100, help="vector dimension (default 100)")
    model.add_argument("--window", type=int, default=5, help="max context distance (default 5)")
    model.add_argument("--negative", type=int, default=5, help="negative samples per word (default 5)")
    model.add_argument("--ns-exponent", type=float, default=0.75, help="negatives ~ count^x (default 0.75)")
    if architecture == "cbow":
        model.add_argument("--cbow-sum", action="store_true", help="sum the context vectors instead of averaging")

    training = parser.add_argument_group("training")
    training.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold (default 1e-3; 0: off)")
    training.add_argument("--min-count", type=int, default=5, help="drop words seen fewer times (default 5)")
    training.add_argument("--max-vocab-size", type=int, default=None, help="keep only the most frequent words")
    training.add_argument("--epochs", "--iter", type=int, default=5, help="passes over the corpus (default 5)")
    training.add_argument("--threads", type=int, default=1, help="worker threads (default 1: reproducible)")
    training.add_argument("--alpha", type=float, default=None,
                          help=f"initial learning rate (default {default_alpha})")
    training.add_argument("--min-alpha", type=float, default=1e-4, help="final learning rate (default 1e-4)")
    training.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    training.add_argument("--update", choices=("exact", "batched"), default="batched",
                          help="batched (default): skip-gram shares one set of negatives per window, CBOW per "
                               "group of 4 targets, faster at the same quality; exact: the C tool's update")
    add_monitor_arguments(parser, "corpus chunks (~65k words)")
    add_tokenizer_arguments(parser)
    add_input_arguments(parser)


def _train(args: argparse.Namespace) -> int:
    import time

    from lmkit.cli.paths import check_output
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.model import Word2Vec, Word2VecConfig

    config = Word2VecConfig(
        architecture=args.architecture, cbow_mean=not getattr(args, "cbow_sum", False), loss=args.loss,
        vector_size=args.size, window=args.window, min_count=args.min_count, max_vocab_size=args.max_vocab_size,
        sample=args.sample, negative=args.negative, ns_exponent=args.ns_exponent, alpha=args.alpha,
        min_alpha=args.min_alpha, epochs=args.epochs, workers=args.threads, seed=args.seed, update=args.update,
        tokenizer=tokenizer_config(args))
    check_output(args.output, "--output")
    check_output(args.save_model, "--save-model")
    monitoring = monitor_options(args)
    started = time.perf_counter()
    corpus = encode_corpus(corpus_source(args, args.input), config.tokenizer, min_count=config.min_count,
                           max_size=config.max_vocab_size, max_sentence_length=config.max_sentence_length,
                           workers=args.encode_workers, verbose=not args.quiet)
    _check_sizes(config, len(corpus.vocab))
    model = Word2Vec(config).fit(corpus, verbose=not args.quiet, **monitoring)
    seconds = time.perf_counter() - started
    written = model.save_vectors(args.output, binary=args.binary)
    if args.save_model:
        model.save(args.save_model)
    if not args.quiet:
        trained = sum(epoch.words for epoch in model.history)
        train_seconds = sum(epoch.seconds for epoch in model.history)
        print(f"{args.architecture}-{args.loss}: vocabulary {len(model.vocab)}, {len(model.history)} epochs, "
              f"final loss {model.losses[-1]:.4f}, {trained / max(train_seconds, 1e-9):,.0f} words/s "
              f"({seconds:.1f} s in all)")
        print(f"vectors: {written}" + (f"\nmodel: {args.save_model}" if args.save_model else ""))
    return 0


def _check_sizes(config, n_words: int) -> None:
    """Refuse, before training, options the vocabulary or the memory cannot support."""
    from lmkit.memory import check_fits, word2vec_bytes

    if config.loss != "hs" and config.negative >= n_words:
        raise ValueError(f"--negative {config.negative}: the vocabulary has {n_words} words, so at most "
                         f"{n_words - 1} negatives per word make sense (5-20 is usual)")
    check_fits(word2vec_bytes(config, n_words),
               f"--size {config.vector_size} with {n_words} words (--window {config.window}, "
               f"--threads {config.workers})")
