"""The settings of a word2vec model (:class:`Word2VecConfig`), each default with its reason.

A plain dataclass that loads no numerical code, so that the command line
builds its flags from it (:mod:`lmkit.cli.options`) without loading numpy.
Options keep the meanings they have in the C tool and gensim; the command
line keeps the C tool's names (``--size``, ``--threads``, ``--iter``).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

from lmkit._config import config_from_dict, option
from lmkit.cluster import check_cluster
from lmkit.corpus.tokenizer_config import TokenizerConfig

ARCHITECTURES = ("skipgram", "cbow")
LOSSES = ("ns", "hs", "both")
UPDATES = ("exact", "batched")


@dataclass(frozen=True)
class Word2VecConfig:
    """Every option of a word2vec model.

    The defaults are the C tool's and gensim's, except ``update``: lmkit's
    default is ``"batched"`` (negatives shared per window or group of
    targets), faster at the same quality (BENCHMARKS.md); ``"exact"`` is the
    C tool's update.  With several ``workers``, batched skip-gram's threads
    also draw their negatives from different parts of the vocabulary at any
    moment, each part in turn (the same distribution over a stretch of text;
    fewer rows written by two cores at once:
    :func:`lmkit.word2vec.training.negative_tables`).
    """

    architecture: str = option("skipgram", "skipgram predicts the context from the word, cbow the reverse "
                                           "(the command line's `lmkit train skipgram|cbow`)",
                               choices=ARCHITECTURES, cli=False)
    cbow_mean: bool = option(True, "CBOW's hidden layer is the mean of the context vectors (off: their sum)")
    loss: str = option("ns", "ns: negative sampling; hs: hierarchical softmax; both (gensim's hs=1, "
                             "negative > 0)", choices=LOSSES)
    vector_size: int = option(100, "dimension of the word vectors", flag="--size")
    window: int = option(5, "max context distance; each position samples a reduced window in [1, window]")
    min_count: int = option(5, "words seen fewer times are dropped from the corpus")
    max_vocab_size: int | None = option(None, "keep only the most frequent words (none: no limit)")
    sample: float = option(1e-3, "subsampling threshold t for frequent words (0: off)")
    negative: int = option(5, "negative samples per positive (ns, both)")
    ns_exponent: float = option(0.75, "negatives are drawn from count^x")
    alpha: float | None = option(None, "initial learning rate; none given: 0.025 for skip-gram, 0.05 for CBOW "
                                       "(the C tool's)")
    min_alpha: float = option(1e-4, "learning rate reached, linearly, after the last word of the last epoch")
    epochs: int = option(5, "passes over the corpus (-iter in the C tool)", flag=("--epochs", "--iter"))
    workers: int = option(1, "training threads (Hogwild); 1 is bit-reproducible", flag="--threads")
    replicas: int = option(1, "data-parallel model replicas, each a Ray actor with --threads threads and its own "
                              "share of the sentences, averaged every --sync-words words; > 1 trains on Ray",
                           flag="--workers")
    cluster: str | None = option(None, "train on Ray (docs/distributed.md): local starts Ray here, auto joins the "
                                       "running cluster (else starts one), HOST:PORT joins that one; none: in this "
                                       "process (auto when --workers > 1)", flag="--cluster")
    sync_words: int = option(1_000_000, "words each Ray worker trains between two averagings of the replicas: "
                                        "fewer average more often (closer to one process), at more sync cost",
                             flag="--sync-words")
    max_restarts: int = option(3, "times Ray workers may die and be restarted from the last averaged weights "
                                  "before the run stops (saving that model)", flag="--max-restarts")
    seed: int = option(1, "seeds the initial vectors and every worker's random numbers")
    update: str = option("batched", "batched: negatives shared per window (skip-gram, Ji et al. 2016) or per "
                                    "group of 4 targets (CBOW), faster at gensim's quality (BENCHMARKS.md); "
                                    "exact: the C tool's update", choices=UPDATES)
    max_sentence_length: int = option(10_000, "longer lines are cut (gensim's limit); windows never cross a cut")
    tokenizer: TokenizerConfig = option(default_factory=TokenizerConfig, reason="how text becomes words (the "
                                        "command line's tokenization flags)", cli=False)

    def __post_init__(self) -> None:
        if isinstance(self.tokenizer, dict):
            object.__setattr__(self, "tokenizer", TokenizerConfig.from_dict(self.tokenizer))
        _choice("architecture", self.architecture, ARCHITECTURES)
        _choice("loss", self.loss, LOSSES)
        _choice("update", self.update, UPDATES)
        for name in ("vector_size", "window", "min_count", "epochs", "workers", "max_sentence_length", "replicas",
                     "sync_words"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_vocab_size is not None and self.max_vocab_size < 1:
            raise ValueError(f"max_vocab_size must be None or >= 1, got {self.max_vocab_size!r}")
        if not _is_int(self.negative) or self.negative < 0:
            raise ValueError(f"negative must be an integer >= 0, got {self.negative!r}")
        if self.loss in ("ns", "both") and self.negative == 0:
            raise ValueError(f"loss={self.loss!r} needs negative >= 1 (negative=0 leaves nothing to train); "
                             f"use loss='hs' for hierarchical softmax alone")
        if not (isinstance(self.sample, (int, float)) and 0 <= self.sample < math.inf):
            raise ValueError(f"sample must be a number >= 0, got {self.sample!r}")
        if not math.isfinite(self.ns_exponent):
            raise ValueError(f"ns_exponent must be finite, got {self.ns_exponent!r}")
        if self.alpha is not None and not (0 < self.alpha < math.inf):
            raise ValueError(f"alpha must be > 0, got {self.alpha!r}")
        if not (0 <= self.min_alpha < math.inf):
            raise ValueError(f"min_alpha must be >= 0, got {self.min_alpha!r}")
        if self.min_alpha > self.learning_rate:  # the rate would rise during training, not decay
            raise ValueError(f"min_alpha must be <= alpha (the rate decays from alpha to min_alpha), got "
                             f"min_alpha={self.min_alpha!r} > alpha={self.learning_rate!r}")
        if self.window > self.max_sentence_length:  # scratch is float32[2 window, d] per worker, for nothing
            raise ValueError(f"window must be <= max_sentence_length={self.max_sentence_length} (no context "
                             f"is farther than a sentence's length), got {self.window!r}")
        if not _is_int(self.max_restarts) or self.max_restarts < 0:
            raise ValueError(f"max_restarts must be an integer >= 0, got {self.max_restarts!r}")
        if self.cluster is not None:
            check_cluster(self.cluster)
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    @property
    def distributed(self) -> bool:
        """Whether training runs on Ray (:mod:`lmkit.word2vec.distributed`): a cluster is named, or replicas > 1."""
        return self.cluster is not None or self.replicas > 1

    @property
    def learning_rate(self) -> float:
        """``alpha``, or the C tool's default for the architecture."""
        if self.alpha is not None:
            return float(self.alpha)
        return 0.05 if self.architecture == "cbow" else 0.025

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Word2VecConfig":
        return config_from_dict(cls, values)


def _is_int(value) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
