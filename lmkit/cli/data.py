"""`lmkit data ...`: list, download and encode corpora (see :mod:`lmkit.cli`)."""
from __future__ import annotations

import argparse

from lmkit.cli.options import add_config_options, field_names, typed_values
from lmkit.corpus.tokenizer_config import TokenizerConfig


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit data list|download|encode``."""
    data = commands.add_parser("data", help="list, download and encode corpora")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="known datasets and where they were found")
    listing.set_defaults(handler=_list)

    fetch = actions.add_parser("download", help="download a dataset (sha256-checked)")
    fetch.add_argument("name", help="dataset name, e.g. brown")
    fetch.add_argument("--dest", help="folder to save into (default: $LMKIT_DATA or ~/.local/share/lmkit)")
    fetch.add_argument("--url", help="download from this URL instead of the public one (file:// works)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(handler=_download)

    encode = actions.add_parser("encode", help="tokenize and encode a corpus into the cache; print its statistics")
    encode.add_argument("input", help="file, glob, directory or dataset name (brown, brown:train, ...)")
    add_tokenizer_arguments(encode)
    add_input_arguments(encode)
    encode.add_argument("--min-count", type=int, default=1, help="drop tokens seen fewer times (default 1)")
    encode.add_argument("--max-size", type=int, default=None, help="keep at most this many vocabulary entries")
    encode.add_argument("--unk", default=None, help="merge dropped tokens into this symbol instead of removing them")
    encode.add_argument("--eos", default=None, help="add this sentence-end symbol to the vocabulary")
    encode.add_argument("--vocab-out", help="also write the vocabulary as TSV here")
    encode.add_argument("--quiet", action="store_true", help="no progress bars")
    encode.set_defaults(handler=_encode)


def add_tokenizer_arguments(parser: argparse.ArgumentParser) -> None:
    """The tokenizer options shared by every command that reads text (:class:`TokenizerConfig`'s fields)."""
    add_config_options(parser.add_argument_group("tokenization"), TokenizerConfig)


def add_input_arguments(parser: argparse.ArgumentParser, ray_trainer: bool = False) -> None:
    """How corpus files become text, and whether dataset names may be fetched: every command that reads text.

    The encoding processes are ``--encode-workers``, also spelt ``--workers``, and ``--cluster`` says where
    they run, except for a trainer on Ray (``ray_trainer``: word2vec), whose config has both flags:
    ``--workers`` its replicas, ``--cluster`` where encoding and training run."""
    from lmkit.corpus.readers import MAX_INVALID

    group = parser.add_argument_group("input text")
    group.add_argument("--encoding", default="utf-8",
                       help="text encoding of the corpus files (default utf-8; e.g. latin-1, cp1252)")
    group.add_argument("--encoding-errors", choices=("strict", "replace", "ignore"), default="strict",
                       help="strict: stop at the first invalid byte (default); replace: substitute U+FFFD; "
                            "ignore: drop it")
    group.add_argument("--max-invalid", type=float, default=MAX_INVALID, metavar="FRACTION",
                       help=f"with replace/ignore: stop when more than this fraction of a file's bytes are "
                            f"invalid or NUL, i.e. not text (default {MAX_INVALID}; 1: read anything)")
    group.add_argument("--encode-workers", *(() if ray_trainer else ("--workers",)), type=_at_least_one,
                       default=1, metavar="K", dest="encode_workers",
                       help="processes that read and tokenize the corpus: its files, and byte ranges of large "
                            "plain files, in parallel (default 1; the encoding is the same for every K)")
    if not ray_trainer:
        group.add_argument("--cluster", type=_cluster, default=None, metavar="WHERE",
                           help="tokenize on Ray instead of local processes: 'local' (a Ray instance on this "
                                "machine, with --workers CPUs, all cores by default), 'auto' (the cluster this "
                                "machine belongs to, else local) or a cluster address; several machines need the "
                                "corpus and the cache on a shared filesystem (pip install 'lmkit[ray]'; the "
                                "encoding is the same)")
    group.add_argument("--no-download", action="store_true",
                       help="never fetch a dataset named but missing (default: fetch it on first use; "
                            "also LMKIT_NO_DOWNLOAD=1)")


def _at_least_one(value: str) -> int:
    """argparse type: an integer >= 1 (``--encode-workers``; its dest is not ``workers``, the trainers' thread
    count)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {number}")
    return number


def _cluster(value: str) -> str:
    """argparse type: a non-empty ``--cluster`` (its meaning is :func:`lmkit.cluster.connect`'s)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must be 'local', 'auto' or a Ray address, got ''")
    return value


def encoding_options(args: argparse.Namespace) -> dict:
    """Where the corpus is tokenized (``--workers``, ``--cluster``), as keyword arguments of
    :func:`lmkit.corpus.encoded.encode_corpus` and ``encode_with_vocab``; a Ray trainer's ``--cluster`` is
    its config's (absent from ``args`` when not typed)."""
    return {"workers": args.encode_workers, "cluster": getattr(args, "cluster", None)}


def corpus_source(args: argparse.Namespace, spec):
    """The line source for ``spec`` (a path, glob or dataset name) with :func:`add_input_arguments`' options."""
    from lmkit.corpus.datasets import resolve

    return resolve(spec, errors=args.encoding_errors, encoding=args.encoding, max_invalid=args.max_invalid,
                   download=False if args.no_download else None, verbose=not getattr(args, "quiet", False))


def tokenizer_config(args: argparse.Namespace, base: dict | None = None) -> TokenizerConfig:
    """The TokenizerConfig of :func:`add_tokenizer_arguments`' flags typed, over ``base`` (a config file's
    tokenizer fields) and the defaults."""
    return TokenizerConfig.from_dict({**(base or {}), **typed_values(args, field_names(TokenizerConfig))})


def _list(args: argparse.Namespace) -> int:
    from lmkit.corpus.datasets import DATASET_FILES, find_dataset_file

    for name, entry in DATASET_FILES.items():
        try:
            where = str(find_dataset_file(name))
        except FileNotFoundError:
            where = f"not found (lmkit data download {name})"
        print(f"{name:16s} {entry.description}\n{'':16s} {where}")
    print("Corpus names: brown, brown:train, brown:valid, brown:test (Bengio et al. 2003 split)")
    return 0


def _download(args: argparse.Namespace) -> int:
    from lmkit.corpus.datasets import download

    path = download(args.name, args.dest, url=args.url, verbose=not args.quiet)
    print(f"saved {path}")
    return 0


def _encode(args: argparse.Namespace) -> int:
    import time

    from lmkit.cli.paths import check_output
    from lmkit.corpus.encoded import encode_corpus

    check_output(args.vocab_out, "--vocab-out")
    started = time.perf_counter()
    corpus = encode_corpus(corpus_source(args, args.input), tokenizer_config(args), min_count=args.min_count,
                           max_size=args.max_size, unk=args.unk, eos=args.eos, **encoding_options(args),
                           verbose=not args.quiet)
    seconds = time.perf_counter() - started
    if args.vocab_out:
        corpus.vocab.save(args.vocab_out)
    print(f"{corpus.name}: {corpus.n_tokens} tokens, {corpus.n_sentences} sentences, "
          f"vocabulary {len(corpus.vocab)} ({seconds:.2f} s)\ncache: {corpus.directory}")
    return 0
