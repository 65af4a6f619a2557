"""Training an :class:`~lmkit.lm.nplm.NPLM`: minibatch loop, early stopping, checkpoints.

Each step: ``lr = lr0 / (1 + r t)`` (Bengio et al. 2003, section 4.1; ``r =
0`` keeps it constant) or, with ``lr_schedule="linear"``, a straight line
from ``lr0`` to ``lr0 / 100`` over all ``epochs`` (annealing to a small rate
by the last update, for a run whose length is planned; early stopping may end
it sooner); ``cooldown_epochs = K > 0`` then multiplies that rate by a line
from 1 down to 1/100 over the last K of the ``epochs`` (a "cool-down",
:class:`lmkit.nn.schedules.Cooldown`; ``epochs`` and ``cooldown_epochs`` may
change when resuming, so a run can be extended and cooled from any
checkpoint).  Then forward/backward with the exact softmax -- or, in the
first ``sampled_epochs`` epochs, the sampled softmax of
:mod:`lmkit.lm.sampled` (``sampled_words`` draws a minibatch from the
training unigram^0.75; the reported training perplexity is then the sampled
objective's, validation stays exact; a sampled phase that stops improving
for more than ``patience`` epochs hands over to the exact one early, and the
exact phase starts with a patience of its own) -- global
gradient-norm clipping, then the optimizers -- dense steps for ``H``, ``O``
and the biases, a sparse ``step_rows`` for the rows of ``C`` the batch used.
Weight decay (coupled L2, ``g += wd * p``) applies to ``H``, ``O`` and ``C``
but not to biases, batch-norm or PReLU parameters: the paper's "weight decay
penalty applied only to the weights of the neural network and to the C
matrix, not to the biases".

With ``dropout_words = p > 0`` each context word of a training example is
replaced by the padding row ("no word here", the row that fills contexts
before the first word) with probability ``p``: "blank noising" (Xie et al.
2017, "Data noising as smoothing in neural network language models"), which
teaches the network to predict from partial contexts, as an n-gram model
backs off to shorter ones.

The output layer (``O``, ``b``) may use another optimizer than the input
side (``config.output_optimizer``, e.g. momentum SGD beside Adam).  Why: the
softmax gradient of a word absent from the training split is ``p_j > 0`` at
every step, tiny but always of one sign, and Adam's normalized step turns it
into a fall of about ``lr`` in that word's logit per update (-18 after 4
Brown epochs), so words that occur only in validation/test -- 1.7% of Brown's
validation tokens with the whole-corpus vocabulary -- cost ~6 nats more than
under Kneser-Ney; an SGD-family step moves them by ``lr * p_j``, as the
paper's plain SGD did.  Four optimizer instances carry the groups (input /
output x decayed / undecayed).

After each epoch (or each ``validate_every``-th: the pass over validation
costs ~20% of a sampled Brown epoch) the validation perplexity decides early
stopping (``patience`` validations without improvement).  With
``plateau_factor > 0`` a worse epoch also puts the best weights back and
multiplies the rate by that factor (the optimizer state is kept), the "halve
the rate when validation stops improving" rule of Mikolov's RNNLM training.
With ``weight_average = d > 0`` an exponential average of the weights (decay ``d`` per step,
:class:`lmkit.nn.averaging.WeightAverage`) is what gets validated, kept and
saved; the last iterate's validation perplexity is recorded beside it
(``valid_ppl_last``; ``validate_last=False`` skips that pass, which changes
nothing else), and going back to the best weights restarts both the
weights and their average from that average.  The best model so far
is written to ``output`` and a checkpoint (``output + ".ckpt"``: weights,
optimizer state, RNG state, epoch, step, lr scale, history) replaces the
previous one atomically.  ``resume=True`` continues from that checkpoint;
with the same seed and threads the result is bit-identical to an
uninterrupted run (the checkpoint's schema: :mod:`lmkit.lm.checkpoint`).  A
NaN/inf loss stops training with :class:`TrainingDiverged` naming the step;
the last checkpoint (the last good state) is left untouched.

The loop itself (:func:`fit`) only sequences the phases of :class:`_Training`
-- one epoch, validate, keep or revert, checkpoint -- and calls the
:mod:`lmkit.training` callbacks around them: the progress bar, the time limit
(``time_limit``, checked after each epoch), the monitor (``log_dir``) and the
user's own.

Threads: ``config.threads`` sets OpenBLAS's count, which is also how many row
threads split the output layer (:func:`lmkit.threads.set_threads`); 0
leaves it at its default (all cores).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from lmkit.lm.checkpoint import Progress, load_checkpoint, save_checkpoint, under
from lmkit.lm.examples import build_examples, count_examples
from lmkit.lm.sampled import CandidateSampler
from lmkit.threads import set_threads
from lmkit.nn.averaging import WeightAverage
from lmkit.nn.clip import clip_grad_norm
from lmkit.nn.optim import make_optimizer
from lmkit.nn.schedules import Cooldown, InverseTimeDecay, LinearDecay
from lmkit.training.callbacks import Callbacks, Run, TimeLimit
from lmkit.training.progress import ProgressBar

logger = logging.getLogger(__name__)

LINEAR_FLOOR = 0.01  # the "linear" schedule and the cool-down end at lr * LINEAR_FLOOR

class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite."""


def _training_examples(corpus, config, vocab):
    """``(contexts, targets)`` of the first ``max_tokens`` tokens (whole sentences) of ``corpus``."""
    offsets = np.asarray(corpus.offsets)
    s_end = len(offsets) - 1
    if config.max_tokens:
        s_end = max(1, int(np.searchsorted(offsets, offsets[0] + config.max_tokens, side="left")))
        s_end = min(s_end, len(offsets) - 1)
    if count_examples(offsets, vocab.eos_id, 0, s_end) == 0:
        raise ValueError("the training corpus has no token to predict")
    return build_examples(corpus.ids, offsets, context=config.context, pad_id=len(vocab),
                          eos_id=vocab.eos_id, boundaries=config.boundaries, s_end=s_end)


class _Optimizers:
    """Four optimizer instances: the input side (``H``, rows of ``C``; ``d`` and the rest) with
    ``config.optimizer``, the output side (``O``; ``b``) with ``config.output_optimizer``, each
    split into a decayed group (weights) and an undecayed one (biases, batch norm, PReLU)."""

    GROUPS = ("weights", "others", "out_weights", "out_others")

    def __init__(self, model):
        cfg = model.config
        out_name = cfg.output_optimizer or cfg.optimizer
        self.out_ratio = (cfg.output_lr or cfg.lr) / cfg.lr
        wd_in, wd_out = cfg.weight_decay_for(cfg.optimizer), cfg.weight_decay_for(out_name)
        self.weights = make_optimizer(cfg.optimizer, lr=cfg.lr, weight_decay=wd_in,
                                      decoupled_weight_decay=cfg.decoupled_weight_decay)
        self.others = make_optimizer(cfg.optimizer, lr=cfg.lr)
        self.out_weights = make_optimizer(out_name, lr=cfg.lr * self.out_ratio, weight_decay=wd_out,
                                          decoupled_weight_decay=cfg.decoupled_weight_decay)
        self.out_others = make_optimizer(out_name, lr=cfg.lr * self.out_ratio)
        params = model.dense_params()
        self.decayed = [n for n in ("H",) if n in params]
        self.undecayed = [n for n in params if n not in ("H", "O", "b")]
        self.c_index = len(self.decayed)  # the state index of C, after the dense weights

    def set_lr(self, lr: float) -> None:
        self.weights.lr = self.others.lr = lr
        self.out_weights.lr = self.out_others.lr = lr * self.out_ratio

    def step(self, model) -> None:
        params, grads, threads = model.dense_params(), model.grads, model.worker_threads()
        self.out_weights.step([params["O"]], [grads["O"]], threads)
        self.out_others.step([params["b"]], [grads["b"]], threads)
        self.weights.step([params[n] for n in self.decayed], [grads[n] for n in self.decayed], threads)
        self.weights.step_rows(self.c_index, model.C, model.c_rows, model.c_grad_rows)
        self.others.step([params[n] for n in self.undecayed], [grads[n] for n in self.undecayed], threads)

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Optimizer state as arrays plus a JSON document (step counts), via the public API."""
        arrays, steps = {}, {}
        for group in self.GROUPS:
            opt = getattr(self, group)
            group_arrays, group_steps = opt.state_arrays()
            arrays |= {f"opt/{group}/{key}": a for key, a in group_arrays.items()}
            steps[group] = group_steps
        return arrays, steps

    def load_state(self, arrays: dict, steps: dict) -> None:
        for group in self.GROUPS:
            opt = getattr(self, group)
            opt.load_state_arrays(under(arrays, f"opt/{group}/"), steps.get(group, {}))


def _perplexity(loss: float) -> float:
    """``exp(loss)``, inf where that overflows (a run going astray still gets its epoch record)."""
    return math.exp(loss) if loss < 700 else math.inf


def _schedule(cfg, n_examples: int):
    """The learning-rate schedule of ``cfg`` for a run over ``n_examples`` per epoch."""
    steps_per_epoch = max(math.ceil(n_examples / cfg.batch_size), 1)
    if cfg.lr_schedule == "linear":
        schedule = LinearDecay(cfg.lr, cfg.lr * LINEAR_FLOOR, cfg.epochs * steps_per_epoch)
    else:
        schedule = InverseTimeDecay(cfg.lr, cfg.lr_decay)
    if cfg.cooldown_epochs > 0:
        schedule = Cooldown(schedule, (cfg.epochs - cfg.cooldown_epochs) * steps_per_epoch,
                            cfg.epochs * steps_per_epoch, LINEAR_FLOOR)
    return schedule


class NPLMProbe:
    """What the monitor sees of an :class:`NPLM` (see :class:`lmkit.training.Probe`).

    Layers by their names in Bengio et al.'s eq. (1): ``C`` (word features),
    ``H``, ``d`` (hidden layer), ``U`` (hidden to output) and ``W`` (direct
    connections; both views of ``O = [U | W]``), ``b`` (output bias), plus
    ``bn_gamma``/``bn_beta`` and the activation's parameters (``prelu_alpha``)
    when the model has them.  ``C``'s gradient is the last batch's row
    gradients summed into a dense array (repeated rows merged).
    """

    def __init__(self, model):
        self.model = model

    def _split(self, named: dict) -> dict:
        h = self.model.config.hidden
        out = {}
        for name, a in named.items():
            if name == "O":
                if h:
                    out["U"] = a[:, :h]
                if self.model.config.direct:
                    out["W"] = a[:, h:]
            elif name.startswith("act"):  # the activation's own parameters: PReLU's slope
                out[f"{self.model.config.activation}_alpha{name[3:] if name != 'act0' else ''}"] = a
            else:
                out[name] = a
        return out

    def parameters(self) -> dict[str, np.ndarray]:
        return self._split({"C": self.model.C, **self.model.dense_params()})

    def gradients(self) -> dict[str, np.ndarray]:
        m = self.model
        grad_c = np.zeros_like(m.C)
        np.add.at(grad_c, m.c_rows, m.c_grad_rows)
        return self._split({"C": grad_c, **m.grads})

    def activations(self) -> dict[str, tuple[np.ndarray, str]]:
        pre = getattr(self.model, "hidden_pre", None)
        return {"hidden": (pre, self.model.config.activation)} if pre is not None else {}

    def embeddings(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        m = self.model
        return {"C": (m.C[:len(m.vocab)], list(m.vocab.tokens))}


class _Training:
    """One call of :func:`fit`, in phases: :meth:`run_epoch`, :meth:`validate`, :meth:`keep_or_revert`,
    :meth:`checkpoint`.  Holds what those phases share: the examples, optimizers, schedule, the
    weight average, the best weights so far and the :class:`Progress`."""

    def __init__(self, model, corpus, valid, output, resume: bool):
        from lmkit.lm.perplexity import as_corpus

        cfg = self.cfg = model.config
        self.model = model
        set_threads(cfg.threads)
        vocab = corpus.vocab
        self.rng = np.random.default_rng(cfg.seed)
        counts = np.bincount(np.asarray(corpus.ids), minlength=len(vocab))
        if vocab.eos_id >= 0:
            counts[vocab.eos_id] += len(corpus.offsets) - 1
        model.build(vocab, tokenizer=getattr(corpus, "tokenizer", None), rng=self.rng, unigram_counts=counts)
        self.contexts, self.targets = _training_examples(corpus, cfg, vocab)
        self.pad_id = len(vocab)
        self.valid = as_corpus(model, valid) if valid is not None else None
        self.optimizers = _Optimizers(model)
        self.average = WeightAverage(model.state_arrays(), cfg.weight_average) if cfg.weight_average > 0 else None
        self.schedule = _schedule(cfg, len(self.targets))
        self.sampler = CandidateSampler(np.bincount(self.targets, minlength=len(vocab)), cfg.batch_size,
                                        cfg.sampled_words) if cfg.sampled_epochs else None
        self.output = Path(output) if output is not None else None
        self.checkpoint_path = Path(f"{output}.ckpt") if output is not None else None
        self.progress = Progress()
        self.best_arrays = None
        if resume:
            if self.checkpoint_path is None or not self.checkpoint_path.is_file():
                raise FileNotFoundError(f"no checkpoint to resume from: {self.checkpoint_path}")
            self.progress = load_checkpoint(self.checkpoint_path, model, self.optimizers, self.average, self.rng)
            logger.info("resuming after epoch %d (step %d)", self.progress.epoch, self.progress.step)
            if self.output.is_file():
                from lmkit.io import load_model

                self.best_arrays = load_model(self.output, model.kind)[0]

    def more_epochs(self) -> bool:
        """Early stopping: another epoch is planned and validation has not stalled for more than ``patience``."""
        return self.progress.epoch < self.cfg.epochs and self.progress.bad_epochs <= self.cfg.patience

    def is_sampled(self, epoch: int) -> bool:
        until = self.progress.sampled_until
        return epoch <= (self.cfg.sampled_epochs if until is None else until)

    def run_epoch(self, run: Run, callbacks: Callbacks) -> dict:
        """Train one epoch over the shuffled examples; returns the epoch's record (loss, speed, rate)."""
        cfg, model, progress, rng = self.cfg, self.model, self.progress, self.rng
        epoch = progress.epoch + 1
        sampled = self.is_sampled(epoch)
        n, batch = len(self.targets), cfg.batch_size
        order = rng.permutation(n)
        start_time, seen, loss_sum = time.perf_counter(), 0, 0.0
        for start in range(0, n, batch):
            pick = order[start:start + batch]
            c, t = self.contexts[pick], self.targets[pick]  # copies
            if cfg.dropout_words > 0:
                c[rng.random(c.shape) < cfg.dropout_words] = self.pad_id
            lr = progress.lr_scale * self.schedule(progress.step)
            self.optimizers.set_lr(lr)
            if sampled:
                loss = model.forward_backward_sampled(c, *self.sampler.draw(t, rng))
            else:
                loss = model.forward_backward(c, t)
            if not math.isfinite(loss):
                where = (f"the last good checkpoint is {self.checkpoint_path}"
                         if self.checkpoint_path and self.checkpoint_path.is_file() else "no checkpoint was written yet")
                raise TrainingDiverged(f"training loss became {loss} at step {progress.step + 1} "
                                       f"(epoch {epoch}); stopped, {where}")
            due = callbacks.due(progress.step + 1)
            record = {"step": progress.step + 1, "epoch": epoch, "loss": loss, "lr": lr, "count": len(t)}
            for callback in due:
                callback.on_gradients(run, record)
            if cfg.clip_norm > 0:
                norm = clip_grad_norm(list(model.grads.values()) + [model.c_grad_rows], cfg.clip_norm)
                record |= {"clip/norm": norm, "clip/clipped": norm > cfg.clip_norm}
            self.optimizers.step(model)
            if self.average is not None:
                self.average.update(model.state_arrays())
            progress.step = run.step = progress.step + 1
            seen += len(t)
            loss_sum += loss * len(t)
            for callback in due:
                callback.on_step(run, record)
        elapsed = time.perf_counter() - start_time
        return {"epoch": epoch, "step": progress.step, "train_loss": loss_sum / seen,
                "train_ppl": _perplexity(loss_sum / seen), "tokens_per_s": seen / elapsed, "seconds": elapsed,
                "lr": self.optimizers.weights.lr, "objective": "sampled softmax" if sampled else "exact softmax"}

    def validation_due(self, epoch: int, elapsed: float) -> bool:
        """Whether ``epoch`` (just trained, ``elapsed`` seconds into the run) is validated: every
        ``validate_every``-th epoch, and always the last planned one, the sampled phase's last and the
        one that reaches the time limit, so a run never ends on weights it has not scored.  Without a
        validation split every epoch "validates" (its weights are kept, as before)."""
        cfg = self.cfg
        return (self.valid is None or epoch % cfg.validate_every == 0 or epoch >= cfg.epochs
                or (self.is_sampled(epoch) and epoch == cfg.sampled_epochs)
                or 0 < cfg.time_limit <= elapsed)

    def validate(self, record: dict) -> dict | None:
        """Put ``valid_ppl`` (of the averaged weights, when averaging) into ``record``; returns the last
        iterate's arrays when the averaged weights were loaded in their place (None otherwise)."""
        from lmkit.lm.perplexity import perplexity

        last_arrays = None
        if self.average is not None:  # validate (and keep) the averaged weights, then train on from the last ones
            if self.valid is not None and self.cfg.validate_last:
                record["valid_ppl_last"] = perplexity(self.model, self.valid).perplexity
            last_arrays = {name: a.copy() for name, a in self.model.state_arrays().items()}
            self.model.load_state_arrays(self.average.averages)
        if self.valid is not None:
            record["valid_ppl"] = perplexity(self.model, self.valid).perplexity
        return last_arrays

    def keep_or_revert(self, record: dict, last_arrays: dict | None, validated: bool = True) -> None:
        """Keep the epoch's weights if validation improved (saving them), count a bad epoch otherwise,
        end a stalled sampled phase, and go back to the best weights (plateau rule) or on from the last.
        An epoch not ``validated`` (see :meth:`validation_due`) is only recorded: training goes on."""
        cfg, model, progress = self.cfg, self.model, self.progress
        epoch, sampled = record["epoch"], record["objective"] == "sampled softmax"
        improved = record["valid_ppl"] < progress.best if "valid_ppl" in record else validated
        progress.epoch = epoch
        progress.history.append(record)
        if improved:
            progress.best = record.get("valid_ppl", math.inf)
            progress.bad_epochs = 0
            self.best_arrays = {name: a.copy() for name, a in model.state_arrays().items()}
            if self.output is not None:
                model.save(self.output)
        elif validated:
            progress.bad_epochs += 1
        if "valid_ppl" in record:
            record["best_valid_ppl"] = progress.best
        if sampled and (epoch == cfg.sampled_epochs or progress.bad_epochs > cfg.patience):
            # the exact phase follows, with a patience of its own, even if the sampled one stalled
            if epoch < cfg.sampled_epochs:
                logger.info("the sampled softmax stopped improving after epoch %d: exact softmax from here", epoch)
            progress.sampled_until = epoch
            progress.bad_epochs = 0
        if validated and not improved and cfg.plateau_factor > 0 and self.best_arrays is not None:
            model.load_state_arrays(self.best_arrays)  # go on from the best weights at a lower rate
            if self.average is not None:
                self.average.reset(self.best_arrays)
            progress.lr_scale *= cfg.plateau_factor
            logger.info("epoch %d did not improve: back to the best weights, lr x %g", epoch, progress.lr_scale)
        elif last_arrays is not None:
            model.load_state_arrays(last_arrays)
        logger.info("epoch %d: train ppl %.2f%s, %s%s%.0f tokens/s", epoch, record["train_ppl"],
                    " (sampled softmax)" if sampled else "",
                    f"valid ppl {record['valid_ppl']:.2f}, " if "valid_ppl" in record
                    else "" if validated else "not validated, ",
                    f"last weights {record['valid_ppl_last']:.2f}, " if "valid_ppl_last" in record else "",
                    record["tokens_per_s"])

    def checkpoint(self) -> None:
        """Replace the checkpoint (when training writes to a file) with the state after this epoch."""
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.model, self.optimizers, self.average, self.rng, self.progress)


def fit(model, corpus, valid=None, *, output=None, resume: bool = False, verbose: bool = True,
        callbacks: Iterable = (), log_dir=None, monitor_every: int | None = None):
    """Train ``model`` (an :class:`NPLM`, weights built here) on the encoded ``corpus``.

    ``valid``: an encoded validation split in the same vocabulary (or a
    path/dataset name), used for early stopping; ``output``: where the best
    model and the checkpoint go; ``resume``: continue from ``output + ".ckpt"``.
    ``callbacks``: :class:`lmkit.training.Callback` objects or functions
    ``fn(run, record)`` called after each epoch; ``log_dir``: also watch the
    run with a :class:`lmkit.training.monitor.Monitor` writing there, every
    ``monitor_every`` steps (default :data:`lmkit.training.monitor.NPLM_EVERY`).
    Returns ``model`` holding the best weights (by validation perplexity).
    """
    from lmkit.training.monitor import NPLM_EVERY, Monitor

    training = _Training(model, corpus, valid, output, resume)
    cfg, progress = model.config, training.progress
    items: list = [ProgressBar(len(training.targets), unit="tok", per_epoch=True, show_ppl=True)] if verbose else []
    if log_dir is not None:
        items.append(Monitor(log_dir, every=monitor_every or NPLM_EVERY))
    items += list(callbacks)
    items.append(TimeLimit(cfg.time_limit))
    run = Run(trainer="nplm", model=model, config=dataclasses.asdict(cfg), epochs=cfg.epochs,
              probe=NPLMProbe(model), step=progress.step, epoch=progress.epoch, resumed=resume,
              info={"corpus": getattr(corpus, "fingerprint", None), "seed": cfg.seed,
                    "vocab_size": len(model.vocab), "examples_per_epoch": len(training.targets)})
    callbacks = Callbacks(items)
    callbacks.train_begin(run)
    try:
        while training.more_epochs():
            callbacks.epoch_begin(run, progress.epoch + 1)
            record = training.run_epoch(run, callbacks)
            validated = training.validation_due(record["epoch"], run.elapsed)
            last_arrays = training.validate(record) if validated else None
            training.keep_or_revert(record, last_arrays, validated)
            run.epoch = progress.epoch
            callbacks.epoch_end(run, record)
            training.checkpoint()
            if run.stop_reason:
                logger.info("%s", run.stop_reason)
                break
    finally:
        callbacks.train_end(run)
    if training.best_arrays is not None:
        model.load_state_arrays(training.best_arrays)
    model.history = progress.history
    return model
