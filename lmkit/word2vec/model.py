"""word2vec: continuous bag-of-words and skip-gram (Mikolov et al. 2013a, 2013b).

``Word2Vec(architecture="skipgram", loss="ns", ...)`` learns one vector per
word so that a word predicts its neighbours (skip-gram) or its neighbours
predict it (CBOW), with hierarchical softmax over a Huffman tree and/or
negative sampling from the unigram^0.75 distribution.  Options keep the
meanings they have in the C tool and gensim.

The trained vectors are :attr:`Word2Vec.wv`, a :class:`lmkit.vectors.KeyedVectors`
(the artifact users keep); :meth:`Word2Vec.save` stores the whole model
(input vectors, output weights, vocabulary, tokenizer, config) in lmkit's
npz + JSON format so that :meth:`Word2Vec.load` can continue training.

    >>> model = Word2Vec(architecture="cbow", epochs=5).fit("brown:train")
    >>> model.wv.most_similar("king")
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from lmkit import memory
from lmkit.corpus.tokenizer import Tokenizer, TokenizerConfig, sidecar_path
from lmkit.corpus.vocab import Vocab, keep_probabilities
from lmkit.io import load_model, save_model
from lmkit.word2vec import kernels
from lmkit.word2vec.config import ARCHITECTURES, LOSSES, UPDATES, Word2VecConfig  # noqa: F401  (importable here too)
from lmkit.word2vec.sampling import seed_state, unigram_table
from lmkit.word2vec.training import Arrays, EpochStats, Objective, Schedule, start_kernel_compile, train_epochs
from lmkit.word2vec.trees import build_huffman, first_positions

log = logging.getLogger(__name__)

KIND = "word2vec"


class Word2Vec:
    """A word2vec model: ``Word2Vec(config=None, **overrides)``.

    ``overrides`` replace fields of ``config`` (``Word2Vec(architecture="cbow",
    loss="hs")``).  After :meth:`fit`: ``vocab`` (:class:`Vocab`), ``tokenizer``,
    ``syn0`` (float32[V, d], the word vectors), ``syn1`` (float32[V - 1, d],
    HS inner nodes, or [0, d]), ``syn1neg`` (float32[V, d] or [0, d]), ``wv``,
    ``history`` (an :class:`EpochStats` per epoch trained so far) and ``losses``.
    """

    def __init__(self, config: Word2VecConfig | None = None, **overrides):
        config = config if config is not None else Word2VecConfig()
        if not isinstance(config, Word2VecConfig):
            raise ValueError(f"config must be a Word2VecConfig, got {type(config).__name__}")
        if isinstance(overrides.get("tokenizer"), dict):
            overrides["tokenizer"] = TokenizerConfig.from_dict(overrides["tokenizer"])
        try:
            self.config = replace(config, **overrides)
        except TypeError as error:  # an unknown keyword
            raise ValueError(f"Word2Vec: {error}") from None
        self.vocab: Vocab | None = None
        self.tokenizer: Tokenizer | None = None
        self.syn0 = self.syn1 = self.syn1neg = None
        self.tree_ties = None   # int64[V]: equal counts' order in the Huffman tree (first occurrence); None: by id
        self.history: list[EpochStats] = []
        self.steps = 0  # corpus chunks trained over the model's lifetime (the callbacks' step numbers)
        self.train_calls = 0
        self._wv = None

    @property
    def losses(self) -> list[float]:
        """Mean loss (negative log-likelihood per example) of every epoch trained so far."""
        return [epoch.loss for epoch in self.history]

    def __repr__(self) -> str:
        size = len(self.vocab) if self.vocab is not None else "unfitted"
        c = self.config
        return f"Word2Vec({c.architecture}, loss={c.loss!r}, vector_size={c.vector_size}, vocab={size})"

    # ------------------------------------------------------------------ training

    def compile_in_background(self) -> None:
        """Start compiling the training kernel for this configuration in a child process, unless numba's cache
        has it, so that it compiles while the corpus is read; training waits for it.  :meth:`fit` calls it
        first; call it before encoding a corpus yourself (the CLI does).  Ray's workers load or compile the
        kernel in their own processes, so a distributed configuration starts nothing here; nor does a
        vector size no vocabulary fits in memory with (the kernel's arguments alone would fill it: the
        checks after encoding refuse such sizes, naming the vocabulary)."""
        c = self.config
        if not c.distributed and memory.fits(memory.word2vec_bytes(c, 2)):
            start_kernel_compile(c.vector_size, c.architecture == "cbow", c.loss != "ns", c.loss != "hs")

    def fit(self, corpus, *, verbose: bool = True, callbacks: Iterable = (), log_dir=None,
            monitor_every: int = 1, cache_dir: str | os.PathLike | None = None,
            errors: str = "strict", rescue_path: str | os.PathLike | None = None) -> "Word2Vec":
        """Build the vocabulary from ``corpus`` (on first use) and train ``config.epochs`` epochs.

        ``corpus``: a path, glob, list of paths, dataset name (``"brown:train"``)
        or an :class:`~lmkit.corpus.encoded.EncodedCorpus`.  A model that is
        already trained (e.g. loaded) keeps its vocabulary and continues
        training.  ``cache_dir``: where encoded corpora are cached; ``errors``:
        "strict" or "replace" for invalid UTF-8.  ``callbacks``, ``log_dir``,
        ``monitor_every``, ``rescue_path``: see :meth:`train`.  Returns ``self``.
        """
        self.compile_in_background()
        encoded = self._encode(corpus, verbose=verbose, cache_dir=cache_dir, errors=errors)
        if self.vocab is None:
            self._build(encoded.vocab, encoded.tokenizer, encoded.ids)
        return self.train(encoded, verbose=verbose, callbacks=callbacks, log_dir=log_dir,
                          monitor_every=monitor_every, rescue_path=rescue_path)

    def train(self, corpus, *, epochs: int | None = None, verbose: bool = True, callbacks: Iterable = (),
              log_dir=None, monitor_every: int = 1, cache_dir: str | os.PathLike | None = None,
              errors: str = "strict", rescue_path: str | os.PathLike | None = None) -> "Word2Vec":
        """Continue training a built model for ``epochs`` (default ``config.epochs``).

        The learning rate decays from ``alpha`` to ``min_alpha`` over this
        call's words.  ``callbacks``: :class:`lmkit.training.Callback` objects
        (each corpus chunk of ~65k words is a step) or functions
        ``fn(run, record)`` called after every epoch (``record["epoch"]``
        counts from 1 over the model's lifetime; ``record["train_loss"]``,
        ``"words_per_s"``, ...).  ``log_dir``: also log the run there with a
        :class:`lmkit.training.monitor.Monitor` (every ``monitor_every`` chunks).

        On Ray (``config.distributed``: ``cluster`` set or ``replicas > 1``,
        :mod:`lmkit.word2vec.distributed`) each replica's round is a step and
        the epoch records add the sync cost.  Should the workers die more often
        than ``max_restarts``, the model keeps the last averaged weights, is saved
        to ``rescue_path`` (default ``$LMKIT_CACHE/rescued/word2vec-<time>.npz``)
        and :class:`~lmkit.word2vec.distributed.WorkerFailedError` names the
        worker and that file.
        """
        from lmkit.training.callbacks import Callbacks, Run
        from lmkit.training.monitor import Monitor
        from lmkit.training.progress import ProgressBar

        if self.vocab is None:
            raise ValueError("the model has no vocabulary yet: call fit(corpus) first")
        epochs = self.config.epochs if epochs is None else epochs
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        encoded = self._encode(corpus, verbose=verbose, cache_dir=cache_dir, errors=errors)
        c = self.config
        objective, schedule, states = self._plan(encoded, epochs)
        items: list = []
        if verbose:
            items.append(ProgressBar(epochs * encoded.n_tokens, unit=" words", per_epoch=False, desc="word2vec"))
        if log_dir is not None:
            items.append(Monitor(log_dir, every=monitor_every))
        items += list(callbacks)
        first_epoch = len(self.history)
        run = Run(trainer="word2vec", model=self, config=c.to_dict(), epochs=first_epoch + epochs,
                  probe=Word2VecProbe(self), step=self.steps, epoch=first_epoch, resumed=first_epoch > 0,
                  info={"corpus": getattr(encoded, "fingerprint", None), "seed": c.seed,
                        "vocab_size": len(self.vocab), "words_per_epoch": int(encoded.n_tokens)})
        try:
            if c.distributed:
                self._train_on_ray(encoded, objective, schedule, epochs, states, run, Callbacks(items), rescue_path)
            else:
                self.history += train_epochs(self._arrays(), encoded.ids, np.asarray(encoded.offsets), objective,
                                             schedule, epochs, states, run=run, callbacks=Callbacks(items))
        finally:
            self.steps = run.step
        if self._wv is not None:
            self._wv.clear_cache()
        return self

    def _plan(self, encoded, epochs: int) -> tuple[Objective, Schedule, list[np.uint64]]:
        """What this training call trains (objective), its learning-rate schedule over ``epochs`` passes
        of ``encoded``, and the RNG states of its threads (replica k's: streams k x workers + t)."""
        c = self.config
        negative = c.negative if c.loss != "hs" else 0
        group = 1
        if c.architecture == "cbow" and c.update == "batched" and negative > 0:
            # a group's targets are distinct and leave at least one word to draw as a negative
            group = max(1, min(kernels.CBOW_GROUP, int((self._counts(self.vocab) > 0).sum()) - 1))
        objective = Objective(cbow=c.architecture == "cbow", cbow_mean=c.cbow_mean, negative=negative,
                              window=c.window, batched=c.update == "batched", group=group)
        schedule = Schedule(alpha=c.learning_rate, min_alpha=c.min_alpha,
                            total_words=float(epochs) * max(encoded.n_tokens, 1))
        states = [seed_state(c.seed, stream=worker + 1024 * self.train_calls)
                  for worker in range(c.replicas * c.workers)]
        self.train_calls += 1
        return objective, schedule, states

    def replica_trainer(self, corpus, *, epochs: int | None = None, cache_dir: str | os.PathLike | None = None,
                        **options):
        """The Ray driver of :meth:`train`, to run step by step: a
        :class:`lmkit.word2vec.distributed.ReplicaTrainer` over ``corpus`` (built
        model: :meth:`fit` first, or load) whose syncs write this model's weights.
        ``options``: the trainer's ``timeout_s``.  Call its ``close()`` when done."""
        from lmkit.word2vec.distributed import ReplicaTrainer

        if self.vocab is None:
            raise ValueError("the model has no vocabulary yet: call fit(corpus) first")
        c = self.config
        encoded = self._encode(corpus, verbose=False, cache_dir=cache_dir, errors="strict")
        objective, schedule, states = self._plan(encoded, c.epochs if epochs is None else epochs)
        return ReplicaTrainer(self._arrays(), encoded.ids, np.asarray(encoded.offsets), objective, schedule, states,
                              **self._ray_options(), **options)

    def _ray_options(self) -> dict:
        """The config's data-parallel options as :class:`~lmkit.word2vec.distributed.ReplicaTrainer` takes them."""
        c = self.config
        return {"replicas": c.replicas, "threads": c.workers, "sync_words": c.sync_words,
                "cluster": c.cluster or "auto", "max_restarts": c.max_restarts}

    def _train_on_ray(self, encoded, objective: Objective, schedule: Schedule, epochs: int, states, run,
                      callbacks, rescue_path) -> None:
        """Train on Ray (:func:`lmkit.word2vec.distributed.train_distributed`); on a :class:`WorkerFailedError`
        save the last averaged model and name the file in the error."""
        from lmkit.cluster import WorkerFailedError
        from lmkit.word2vec.distributed import train_distributed

        try:
            train_distributed(self._arrays(), encoded.ids, np.asarray(encoded.offsets), objective, schedule, epochs,
                              states, run=run, callbacks=callbacks, history=self.history, **self._ray_options())
        except WorkerFailedError as error:
            if rescue_path is None:
                from lmkit.corpus.encoded import default_cache_dir

                rescue_path = default_cache_dir() / "rescued" / f"word2vec-{time.strftime('%Y%m%d-%H%M%S')}.npz"
                Path(rescue_path).parent.mkdir(parents=True, exist_ok=True)
            self.steps = run.step
            written = self.save(rescue_path)
            raise WorkerFailedError(f"{error}; the last averaged model ({len(self.history)} epoch(s) done) is saved "
                                    f"in {written}") from None

    def _encode(self, corpus, *, verbose: bool, cache_dir, errors: str):
        """An EncodedCorpus for ``corpus``, with this model's vocabulary once it has one."""
        from lmkit.corpus.encoded import encode_corpus, encode_with_vocab

        c = self.config
        if hasattr(corpus, "ids") and hasattr(corpus, "offsets") and hasattr(corpus, "vocab"):
            if self.vocab is not None and corpus.vocab.tokens != self.vocab.tokens:
                raise ValueError("the encoded corpus has another vocabulary than the model; encode it with "
                                 "lmkit.corpus.encoded.encode_with_vocab(source, model.vocab, model.tokenizer)")
            if corpus.n_tokens == 0:
                raise ValueError("the corpus is empty: no tokens to train on")
            return corpus
        if self.vocab is not None:
            return encode_with_vocab(corpus, self.vocab, self.tokenizer, max_sentence_length=c.max_sentence_length,
                                     errors=errors, cache_dir=cache_dir, verbose=verbose)
        return encode_corpus(corpus, c.tokenizer, min_count=c.min_count, max_size=c.max_vocab_size,
                             max_sentence_length=c.max_sentence_length, errors=errors, cache_dir=cache_dir,
                             verbose=verbose)

    def _build(self, vocab: Vocab, tokenizer: Tokenizer, ids: np.ndarray) -> None:
        """Adopt the vocabulary and initialize the weights as the C tool does; the Huffman tree
        orders equal counts by first occurrence in ``ids``, as the C tool and gensim (trees.py)."""
        c = self.config
        counts = self._counts(vocab)
        if int((counts > 0).sum()) < 2:
            raise ValueError(f"the vocabulary has {int((counts > 0).sum())} word(s) after min_count={c.min_count}: "
                             f"word2vec needs at least 2 distinct words")
        self.vocab, self.tokenizer = vocab, tokenizer
        n, d = len(vocab), c.vector_size
        rng = np.random.default_rng(c.seed)
        # Input vectors uniform in [-0.5/d, 0.5/d); output weights zero (Mikolov's word2vec.c).
        self.syn0 = (rng.random((n, d), dtype=np.float32) - np.float32(0.5)) / np.float32(d)
        self.syn1 = np.zeros((n - 1 if c.loss in ("hs", "both") else 0, d), dtype=np.float32)
        self.syn1neg = np.zeros((n if c.loss in ("ns", "both") else 0, d), dtype=np.float32)
        self.tree_ties = first_positions(ids, n) if self.syn1.shape[0] > 0 else None
        self._wv = None

    @staticmethod
    def _counts(vocab: Vocab) -> np.ndarray:
        """Word counts for the tree, sampler and subsampling; ``eos`` never occurs in the id stream."""
        counts = vocab.counts.copy()
        if vocab.eos_id >= 0:
            counts[vocab.eos_id] = 0
        return counts

    def _arrays(self) -> Arrays:
        c = self.config
        counts = self._counts(self.vocab)
        n = len(self.vocab)
        if self.syn1.shape[0] > 0:
            tree = build_huffman(counts, self.tree_ties)
            codes, points, lengths = tree.codes, tree.points, tree.lengths
        else:
            codes, points, lengths = kernels.no_tree(n)
        if self.syn1neg.shape[0] > 0:
            table = unigram_table(counts, c.ns_exponent)
            threshold, alias = table.threshold[np.newaxis], table.alias[np.newaxis]   # one part (kernels.Tables)
        else:
            threshold, alias = kernels.no_sampler()
        sigmoid, nll = kernels.logistic_tables()
        return Arrays(kernels.Weights(self.syn0, self.syn1, self.syn1neg),
                      kernels.Tables(codes=codes, points=points, code_lengths=lengths, threshold=threshold,
                                     alias=alias, keep=keep_probabilities(counts, c.sample), sigmoid=sigmoid, nll=nll))

    # ------------------------------------------------------------------ results

    @property
    def wv(self):
        """The word vectors as :class:`lmkit.vectors.KeyedVectors` (sharing ``syn0``)."""
        from lmkit.vectors import KeyedVectors

        if self.vocab is None:
            raise ValueError("the model is not trained yet: call fit(corpus) first")
        if self._wv is None:
            self._wv = KeyedVectors(self.vocab.tokens, self.syn0)
        return self._wv

    def save_vectors(self, path: str | os.PathLike, binary: bool = False) -> Path:
        """Write the vectors in word2vec text or binary format, and the tokenizer beside them."""
        written = self.wv.save_word2vec_format(path, binary=binary)
        self.tokenizer.save(sidecar_path(path))
        return Path(written)

    def save(self, path: str | os.PathLike) -> Path:
        """Save the whole model (lmkit npz + JSON, no pickle) and the tokenizer sidecar."""
        if self.vocab is None:
            raise ValueError("the model is not trained yet: nothing to save")
        meta = {"config": self.config.to_dict(), "vocab": self.vocab.to_dict(),
                "tokenizer": self.tokenizer.to_json(), "history": [asdict(h) for h in self.history],
                "train_calls": self.train_calls, "steps": self.steps}
        arrays = {"syn0": self.syn0, "syn1": self.syn1, "syn1neg": self.syn1neg}
        if self.tree_ties is not None:
            arrays["tree_ties"] = self.tree_ties
        written = save_model(path, KIND, arrays, meta)
        self.tokenizer.save(sidecar_path(path))
        return written

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> "Word2Vec":
        """Read a model written by :meth:`save`; ``overrides`` change training options
        (``epochs``, ``workers``, ``alpha``...) for further training."""
        arrays, meta = load_model(path, kind=KIND)
        try:
            config = Word2VecConfig.from_dict(meta["config"])
            vocab = Vocab.from_dict(meta["vocab"])
            tokenizer = Tokenizer.from_json(meta["tokenizer"], source=str(path))
            syn0, syn1, syn1neg = arrays["syn0"], arrays["syn1"], arrays["syn1neg"]
        except KeyError as error:
            raise ValueError(f"{path}: word2vec model without {error.args[0]!r}") from None
        fixed = {"architecture", "loss", "vector_size", "min_count", "max_vocab_size", "tokenizer"}
        if fixed & set(overrides):
            raise ValueError(f"cannot change {sorted(fixed & set(overrides))} of a trained model")
        model = cls(config, **overrides)
        n, d = len(vocab), config.vector_size
        shapes = {"syn0": (n, d), "syn1": (n - 1 if config.loss != "ns" else 0, d),
                  "syn1neg": (n if config.loss != "hs" else 0, d)}
        for name, array in (("syn0", syn0), ("syn1", syn1), ("syn1neg", syn1neg)):
            if array.shape != shapes[name] or array.dtype != np.float32:
                raise ValueError(f"{path}: {name} is {array.dtype}{array.shape}, expected float32{shapes[name]}")
        model.vocab, model.tokenizer = vocab, tokenizer
        model.syn0, model.syn1, model.syn1neg = (np.ascontiguousarray(a) for a in (syn0, syn1, syn1neg))
        ties = arrays.get("tree_ties")      # absent in models saved before it existed: their tree ordered ties by id
        if ties is not None and (ties.shape != (n,) or ties.dtype != np.int64):
            raise ValueError(f"{path}: tree_ties is {ties.dtype}{ties.shape}, expected int64{(n,)}")
        model.tree_ties = ties
        try:
            model.history = [EpochStats(**h) for h in meta.get("history", [])]
        except TypeError as error:
            raise ValueError(f"{path}: malformed training history ({error})") from None
        model.train_calls = int(meta.get("train_calls", 0))
        model.steps = int(meta.get("steps", 0))
        return model


class Word2VecProbe:
    """What the monitor sees of a :class:`Word2Vec` (see :class:`lmkit.training.Probe`): its weight
    matrices (``syn0`` the word vectors, ``syn1`` the Huffman nodes, ``syn1neg`` the negative-sampling
    rows, each when the loss has it).  No gradients: the Hogwild kernels apply them as they go."""

    def __init__(self, model: Word2Vec):
        self.model = model

    def parameters(self) -> dict[str, np.ndarray]:
        m = self.model
        return {name: a for name, a in (("syn0", m.syn0), ("syn1", m.syn1), ("syn1neg", m.syn1neg))
                if a.shape[0] > 0}

    def gradients(self) -> dict[str, np.ndarray]:
        return {}

    def activations(self) -> dict[str, tuple[np.ndarray, str]]:
        return {}

    def embeddings(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        return {"syn0": (self.model.syn0, list(self.model.vocab.tokens))}
