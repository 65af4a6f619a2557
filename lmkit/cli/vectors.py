"""`lmkit eval` and `lmkit similar`: benchmark and query saved word vectors (see :mod:`lmkit.cli`).

Vector files are read by :func:`load_vectors`: lmkit's own ``.npz`` (recognized by its
zip signature), or a word2vec file, binary or text.  ``--binary`` / ``--text`` force the
word2vec variant; otherwise :func:`lmkit.vectors.formats.sniff_binary` decides from the
bytes after the header (control or non-UTF-8 bytes mean binary), which works whatever
the file is called.
"""
from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction, trainers: argparse._SubParsersAction) -> None:
    """Add ``lmkit eval`` and ``lmkit similar``."""
    evaluate = commands.add_parser(
        "eval", help="word-analogy accuracy and word-similarity correlation of a vector file")
    evaluate.add_argument("vectors", help="word2vec file (text or binary, .gz/.bz2 allowed) or lmkit .npz")
    add_format_arguments(evaluate)
    evaluate.add_argument("--analogies", metavar="FILE",
                          help="analogy questions (default: questions-words.txt from $LMKIT_DATA or the "
                               "dataset folders, if found)")
    evaluate.add_argument("--similarity", metavar="FILE",
                          help="scored word pairs (default: wordsim353.tsv from $LMKIT_DATA or the "
                               "dataset folders, if found)")
    evaluate.add_argument("--restrict-vocab", type=int, default=None, metavar="N",
                          help="use only the first N words (default: 30000 for analogies, 300000 for pairs)")
    evaluate.add_argument("--case-sensitive", action="store_true",
                          help="compare words as they are (default: upper-case both sides, as gensim)")
    evaluate.add_argument("--json", action="store_true", help="print the results as one JSON document")
    evaluate.add_argument("--no-download", action="store_true",
                          help="never fetch a missing benchmark file (default: fetch it on first use; "
                               "also LMKIT_NO_DOWNLOAD=1)")
    evaluate.set_defaults(handler=_evaluate)

    similar = commands.add_parser("similar", help="nearest words (cosine) to the sum of words minus others")
    similar.add_argument("vectors", help="word2vec file (text or binary, .gz/.bz2 allowed) or lmkit .npz")
    similar.add_argument("words", nargs="+", metavar="WORD", help="positive words")
    similar.add_argument("--negative", nargs="+", default=[], metavar="WORD", help="negative words")
    similar.add_argument("--topn", type=int, default=10, help="number of answers (default 10)")
    similar.add_argument("--restrict-vocab", type=int, default=None, metavar="N",
                         help="search only the first N words")
    similar.add_argument("--cosmul", action="store_true",
                         help="rank with 3CosMul (Levy & Goldberg 2014) instead of the cosine of the sum")
    add_format_arguments(similar)
    similar.set_defaults(handler=_similar)


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("vector file format (default: detected from the content)")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument("--binary", dest="binary", action="store_const", const=True, default=None,
                           help="word2vec binary format")
    exclusive.add_argument("--text", dest="binary", action="store_const", const=False,
                           help="word2vec text format")
    group.add_argument("--limit", type=int, default=None, metavar="N", help="read only the first N vectors")
    group.add_argument("--no-header", action="store_true",
                       help="word2vec text file without the 'V d' first line (as GloVe writes them)")
    group.add_argument("--unicode-errors", choices=("strict", "replace", "ignore"), default="strict",
                       help="words that are not valid UTF-8: strict: stop (default); replace: U+FFFD; ignore: drop "
                            "the bytes")


def load_vectors(path: str, binary: bool | None = None, limit: int | None = None, no_header: bool = False,
                 unicode_errors: str = "strict"):
    """KeyedVectors from an lmkit ``.npz`` or a word2vec file (``binary=None``: sniffed)."""
    from pathlib import Path

    from lmkit.vectors import KeyedVectors, sniff_binary

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"vector file not found: {file}")
    with open(file, "rb") as handle:
        is_npz = handle.read(4) == b"PK\x03\x04"
    if is_npz:
        kv = KeyedVectors.load(file)
        if limit is not None:
            kv = KeyedVectors(kv.index_to_key[:limit], kv.vectors[:limit])
        return kv
    if binary is None:
        binary = False if no_header else sniff_binary(file)
    return KeyedVectors.load_word2vec_format(file, binary=binary, limit=limit, no_header=no_header,
                                             unicode_errors=unicode_errors)


def _vectors(args: argparse.Namespace):
    return load_vectors(args.vectors, args.binary, args.limit, args.no_header, args.unicode_errors)


def _default_file(name: str, args: argparse.Namespace):
    """The dataset file ``name``, fetched on first use unless --no-download; None if it cannot be had."""
    import logging

    from lmkit.corpus.datasets import dataset_file

    try:
        return dataset_file(name, download=False if args.no_download else None)
    except FileNotFoundError as error:
        logging.getLogger(__name__).warning("skipping the %s benchmark: %s", name, str(error).splitlines()[0])
        return None


def _evaluate(args: argparse.Namespace) -> int:
    from lmkit.evaluate import evaluate_word_analogies, evaluate_word_pairs

    kv = _vectors(args)  # a bad vector file is reported before any benchmark is fetched
    analogies = args.analogies or _default_file("questions-words", args)
    pairs = args.similarity or _default_file("wordsim353", args)
    if analogies is None and pairs is None:
        raise FileNotFoundError("no benchmark file: pass --analogies/--similarity, set LMKIT_DATA to a folder "
                                "with questions-words.txt and wordsim353.tsv, or run `lmkit data download "
                                "questions-words` and `lmkit data download wordsim353`")
    options = {"case_insensitive": not args.case_sensitive}
    if args.restrict_vocab is not None:
        options["restrict_vocab"] = args.restrict_vocab
    report: dict = {"vectors": str(args.vectors), "words": len(kv), "vector_size": kv.vector_size}
    if analogies is not None:
        report["analogies"] = {"file": str(analogies),
                               **evaluate_word_analogies(kv, analogies, **options).to_dict()}
    if pairs is not None:
        report["word_pairs"] = {"file": str(pairs), **evaluate_word_pairs(kv, pairs, **options).to_dict()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_format_report(report))
    return 0


def _format_report(report: dict) -> str:
    lines = [f"{report['vectors']}: {report['words']} words, {report['vector_size']} dimensions"]
    if "analogies" in report:
        result = report["analogies"]
        lines += ["", f"word analogies ({result['file']})",
                  f"  {'section':32s} {'correct':>8s} {'answered':>9s} {'accuracy':>9s}"]
        rows = result["sections"] + [None, result["semantic"], result["syntactic"]]
        for row in rows:
            if row is None:
                lines.append("  " + "-" * 61)
                continue
            answered = row["correct"] + row["incorrect"]
            lines.append(f"  {row['name']:32s} {row['correct']:8d} {answered:9d} {100 * row['accuracy']:8.1f}%")
        answered = sum(row["correct"] + row["incorrect"] for row in result["sections"])
        correct = sum(row["correct"] for row in result["sections"])
        lines.append(f"  {'total':32s} {correct:8d} {answered:9d} {100 * result['accuracy']:8.1f}%")
        lines.append(f"  coverage: {100 * result['coverage']:.1f}% of {result['n_questions']} questions "
                     f"have all four words in the vocabulary")
    if "word_pairs" in report:
        result = report["word_pairs"]
        lines += ["", f"word similarity ({result['file']})",
                  f"  Spearman {result['spearman']:.4f}   Pearson {result['pearson']:.4f}   "
                  f"OOV {100 * result['oov_ratio']:.1f}% of {result['n_pairs']} pairs"]
    return "\n".join(lines)


def _similar(args: argparse.Namespace) -> int:
    kv = _vectors(args)
    query = kv.most_similar_cosmul if args.cosmul else kv.most_similar
    try:
        answers = query(positive=args.words, negative=args.negative, topn=args.topn,
                        restrict_vocab=args.restrict_vocab)
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    for word, score in answers:
        print(f"{word}\t{score:.4f}")
    return 0
