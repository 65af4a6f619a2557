"""`lmkit train skipgram|cbow`: train word2vec vectors from a corpus (see :mod:`lmkit.cli`).

Options keep the names users know from the C tool (``-size``, ``-window``,
``-negative``, ``-sample``, ``-min-count``, ``-threads``, ``-alpha``,
``-binary``) and gensim.  The handler only turns arguments into a
:class:`lmkit.word2vec.model.Word2VecConfig`, fits and saves.
"""
from __future__ import annotations

import argparse

from lmkit.cli.configfile import add_config_argument, read_config
from lmkit.cli.data import add_input_arguments, add_tokenizer_arguments, corpus_source, tokenizer_config
from lmkit.cli.options import add_config_options, field_names, typed_values
from lmkit.cli.watch import add_monitor_arguments, monitor_options
from lmkit.word2vec.config import Word2VecConfig


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit train skipgram`` and ``lmkit train cbow``."""
    for architecture, description in (("skipgram", "word2vec skip-gram: each word predicts its context"),
                                      ("cbow", "word2vec CBOW: the context predicts each word")):
        parser = trainers.add_parser(architecture, help=description, description=description)
        _add_arguments(parser, architecture)
        parser.set_defaults(handler=_train, architecture=architecture)


def _add_arguments(parser: argparse.ArgumentParser, architecture: str) -> None:
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", required=True, metavar="PATH_OR_DATASET",
                    help="text file, glob, directory or dataset name (brown, brown:train, ...)")
    io.add_argument("--output", required=True, metavar="VECTORS", help="word2vec vector file to write")
    io.add_argument("--binary", action="store_true", help="write the word2vec binary format (default: text)")
    io.add_argument("--save-model", metavar="PATH", help="also save the full model (lmkit .npz) to continue training")
    io.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    options = parser.add_argument_group("model and training (Word2VecConfig; defaults the C tool's and gensim's)")
    add_config_options(options, Word2VecConfig, exclude=() if architecture == "cbow" else ("cbow_mean",))
    if architecture == "cbow":
        options.add_argument("--cbow-sum", dest="cbow_mean", action="store_false", default=argparse.SUPPRESS,
                             help="sum the context vectors instead of averaging (= --no-cbow-mean)")
    add_config_argument(options)
    add_monitor_arguments(parser, "corpus chunks (~65k words)")
    add_tokenizer_arguments(parser)
    add_input_arguments(parser, ray_trainer=True)  # --workers: the Ray replicas; --cluster: the config's


def word2vec_config(args: argparse.Namespace) -> Word2VecConfig:
    """The :class:`Word2VecConfig` of ``lmkit train skipgram|cbow``: the config's defaults, under
    ``--config FILE``'s values, under the flags typed."""
    file_values = read_config(args.config) if getattr(args, "config", None) else {}
    if file_values.get("architecture", args.architecture) != args.architecture:
        raise ValueError(f"--config {args.config}: holds a {file_values['architecture']} config, "
                         f"not {args.architecture}: use lmkit train {file_values['architecture']}")
    values = {**file_values, **typed_values(args, field_names(Word2VecConfig)), "architecture": args.architecture}
    try:
        values["tokenizer"] = tokenizer_config(args, file_values.get("tokenizer"))
        return Word2VecConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"--config {args.config}: {error}" if file_values else str(error)) from None


def _train(args: argparse.Namespace) -> int:
    import time

    from lmkit.cli.paths import check_output
    from lmkit.corpus.encoded import encode_corpus
    from lmkit.word2vec.model import Word2Vec

    config = word2vec_config(args)
    check_output(args.output, "--output")
    check_output(args.save_model, "--save-model")
    if config.distributed:
        from lmkit._extras import require

        require("ray", "ray", f"--cluster {config.cluster or 'auto'} --workers {config.replicas}")
    monitoring = monitor_options(args)
    started = time.perf_counter()
    model = Word2Vec(config)
    model.compile_in_background()  # a first run's kernel compiles while the corpus is encoded
    corpus = encode_corpus(corpus_source(args, args.input), config.tokenizer, min_count=config.min_count,
                           max_size=config.max_vocab_size, max_sentence_length=config.max_sentence_length,
                           workers=args.encode_workers, cluster=config.cluster,  # one --cluster: encode and train
                           verbose=not args.quiet)
    _check_sizes(config, len(corpus.vocab))
    rescue = args.save_model or f"{args.output}.rescued.npz"  # where a failed Ray run leaves its last average
    model.fit(corpus, verbose=not args.quiet, rescue_path=rescue, **monitoring)
    seconds = time.perf_counter() - started
    written = model.save_vectors(args.output, binary=args.binary)
    if args.save_model:
        model.save(args.save_model)
    if not args.quiet:
        trained = sum(epoch.words for epoch in model.history)
        train_seconds = sum(epoch.seconds for epoch in model.history)
        print(f"{args.architecture}-{config.loss}: vocabulary {len(model.vocab)}, {len(model.history)} epochs, "
              f"final loss {model.losses[-1]:.4f}, {trained / max(train_seconds, 1e-9):,.0f} words/s "
              f"({seconds:.1f} s in all)")
        if config.distributed:
            print(f"Ray: {config.replicas} worker(s) x {config.workers} thread(s), "
                  f"{sum(e.syncs for e in model.history)} syncs moved "
                  f"{sum(e.sync_bytes for e in model.history) / 1e6:,.1f} MB in "
                  f"{sum(e.sync_seconds for e in model.history):.2f} s")
        print(f"vectors: {written}" + (f"\nmodel: {args.save_model}" if args.save_model else ""))
    return 0


def _check_sizes(config, n_words: int) -> None:
    """Refuse, before training, options the vocabulary or the memory cannot support."""
    from lmkit.memory import check_fits, word2vec_bytes

    if config.loss != "hs" and config.negative >= n_words:
        raise ValueError(f"--negative {config.negative}: the vocabulary has {n_words} words, so at most "
                         f"{n_words - 1} negatives per word make sense (5-20 is usual)")
    copies = config.replicas + 1 if config.cluster in (None, "local") and config.distributed else 1
    check_fits(copies * word2vec_bytes(config, n_words),
               f"--size {config.vector_size} with {n_words} words (--window {config.window}, "
               f"--threads {config.workers}" + (f", {copies} copies: --workers {config.replicas} and the driver's)"
                                                if copies > 1 else ")"))
