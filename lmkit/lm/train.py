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

After each epoch the validation perplexity decides early stopping
(``patience`` epochs without improvement).  With ``plateau_factor > 0`` a
worse epoch also puts the best weights back and multiplies the rate by that
factor (the optimizer state is kept), the "halve the rate when validation
stops improving" rule of Mikolov's RNNLM training.  With ``weight_average =
d > 0`` an exponential average of the weights (decay ``d`` per step,
:class:`lmkit.nn.averaging.WeightAverage`) is what gets validated, kept and
saved; the last iterate's validation perplexity is recorded beside it
(``valid_ppl_last``; ``validate_last=False`` skips that pass, which changes
nothing else), and going back to the best weights restarts both the
weights and their average from that average.  The best model so far
is written to ``output`` and a checkpoint (``output + ".ckpt"``: weights,
optimizer state, RNG state, epoch, step, lr scale, history) replaces the
previous one atomically.  ``resume=True`` continues from that checkpoint;
with the same seed and threads the result is bit-identical to an
uninterrupted run.  A
NaN/inf loss stops training with :class:`TrainingDiverged` naming the step;
the last checkpoint (the last good state) is left untouched.

Threads: ``config.threads`` sets numba's pool (used by the softmax kernel)
and OpenBLAS's (:func:`lmkit.lm.threads.set_threads`); 0 leaves both at their
defaults (all cores).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np

from lmkit.lm.examples import build_examples, count_examples
from lmkit.lm.nplm import LINEAR_FLOOR
from lmkit.lm.sampled import CandidateSampler
from lmkit.lm.threads import set_threads
from lmkit.nn.averaging import WeightAverage
from lmkit.nn.clip import clip_grad_norm
from lmkit.nn.optim import make_optimizer
from lmkit.nn.schedules import Cooldown, InverseTimeDecay, LinearDecay

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "nplm_checkpoint"


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
        params, grads = model.dense_params(), model.grads
        self.out_weights.step([params["O"]], [grads["O"]])
        self.out_others.step([params["b"]], [grads["b"]])
        self.weights.step([params[n] for n in self.decayed], [grads[n] for n in self.decayed])
        self.weights.step_rows(self.c_index, model.C, model.c_rows, model.c_grad_rows)
        self.others.step([params[n] for n in self.undecayed], [grads[n] for n in self.undecayed])

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
            opt.load_state_arrays(_under(arrays, f"opt/{group}/"), steps.get(group, {}))


def _under(arrays: dict, prefix: str) -> dict:
    """The checkpoint arrays named ``prefix + name``, keyed by ``name``."""
    return {key[len(prefix):]: a for key, a in arrays.items() if key.startswith(prefix)}


def _save_checkpoint(path: Path, model, optimizers, average, rng, progress: dict) -> None:
    from lmkit.io import save_model

    opt_arrays, opt_steps = optimizers.state()
    arrays = {f"model/{n}": a for n, a in model.state_arrays().items()} | opt_arrays
    if average is not None:
        arrays |= {f"average/{n}": a for n, a in average.averages.items()}
    meta = {"model": model.meta(), "optimizer_steps": opt_steps, "rng": rng.bit_generator.state,
            "progress": progress}
    save_model(path, CHECKPOINT_KIND, arrays, meta)


def _load_checkpoint(path: Path, model, optimizers, average, rng) -> dict:
    from lmkit.io import load_model

    arrays, meta = load_model(path, CHECKPOINT_KIND)
    saved_config = meta["model"]["config"]
    if saved_config != dataclasses.asdict(model.config):
        changed = sorted(k for k in saved_config if saved_config[k] != dataclasses.asdict(model.config).get(k)
                         and k not in ("epochs", "cooldown_epochs", "patience", "threads", "validate_last"))
        if changed:
            raise ValueError(f"{path}: the checkpoint was made with other settings ({', '.join(changed)}); "
                             f"resume with the same configuration")
    if meta["model"]["vocab"]["tokens"] != list(model.vocab.tokens):
        raise ValueError(f"{path}: the checkpoint was made with another vocabulary")
    model.load_state_arrays(_under(arrays, "model/"), path)
    optimizers.load_state(arrays, meta["optimizer_steps"])
    if average is not None:
        saved = _under(arrays, "average/")
        missing = sorted(set(average.averages) - set(saved))
        if missing:
            raise ValueError(f"{path}: the checkpoint lacks the weight averages of {', '.join(missing)}")
        average.reset(saved)
    rng.bit_generator.state = meta["rng"]
    return meta["progress"]


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


def fit(model, corpus, valid=None, *, output=None, resume: bool = False, verbose: bool = True):
    """Train ``model`` (an :class:`NPLM`, weights built here) on the encoded ``corpus``.

    ``valid``: an encoded validation split in the same vocabulary (or a
    path/dataset name), used for early stopping; ``output``: where the best
    model and the checkpoint go; ``resume``: continue from ``output + ".ckpt"``.
    Returns ``model`` holding the best weights (by validation perplexity).
    """
    from tqdm.auto import tqdm

    from lmkit.lm.perplexity import _as_corpus, perplexity

    cfg = model.config
    set_threads(cfg.threads)
    vocab = corpus.vocab
    rng = np.random.default_rng(cfg.seed)
    counts = np.bincount(np.asarray(corpus.ids), minlength=len(vocab))
    if vocab.eos_id >= 0:
        counts[vocab.eos_id] += len(corpus.offsets) - 1
    model.build(vocab, tokenizer=getattr(corpus, "tokenizer", None), rng=rng, unigram_counts=counts)
    contexts, targets = _training_examples(corpus, cfg, vocab)
    valid = _as_corpus(model, valid) if valid is not None else None
    optimizers = _Optimizers(model)
    average = WeightAverage(model.state_arrays(), cfg.weight_average) if cfg.weight_average > 0 else None
    schedule = _schedule(cfg, len(targets))
    sampler = CandidateSampler(np.bincount(targets, minlength=len(vocab)), cfg.batch_size, cfg.sampled_words) \
        if cfg.sampled_epochs else None
    output = Path(output) if output is not None else None
    checkpoint = Path(f"{output}.ckpt") if output is not None else None
    progress = {"epoch": 0, "step": 0, "best": math.inf, "bad_epochs": 0, "lr_scale": 1.0, "history": []}
    if resume:
        if checkpoint is None or not checkpoint.is_file():
            raise FileNotFoundError(f"no checkpoint to resume from: {checkpoint}")
        progress = _load_checkpoint(checkpoint, model, optimizers, average, rng)
        progress.setdefault("lr_scale", 1.0)
        logger.info("resuming after epoch %d (step %d)", progress["epoch"], progress["step"])
    best_arrays = None
    if resume and output is not None and output.is_file():
        from lmkit.io import load_model

        best_arrays = load_model(output, model.kind)[0]
    n, batch, pad_id = len(targets), cfg.batch_size, len(vocab)
    fit_start = time.perf_counter()
    while progress["epoch"] < cfg.epochs and progress["bad_epochs"] <= cfg.patience:
        epoch = progress["epoch"] + 1
        sampled = epoch <= progress.get("sampled_until", cfg.sampled_epochs)
        order = rng.permutation(n)
        start_time, seen, loss_sum = time.perf_counter(), 0, 0.0
        with tqdm(total=n, unit="tok", unit_scale=True, disable=not verbose,
                  desc=f"epoch {epoch}/{cfg.epochs}") as bar:
            for start in range(0, n, batch):
                pick = order[start:start + batch]
                c, t = contexts[pick], targets[pick]  # copies
                if cfg.dropout_words > 0:
                    c[rng.random(c.shape) < cfg.dropout_words] = pad_id
                optimizers.set_lr(progress["lr_scale"] * schedule(progress["step"]))
                if sampled:
                    loss = model.forward_backward_sampled(c, *sampler.draw(t, rng))
                else:
                    loss = model.forward_backward(c, t)
                if not math.isfinite(loss):
                    where = f"the last good checkpoint is {checkpoint}" if checkpoint and checkpoint.is_file() \
                        else "no checkpoint was written yet"
                    raise TrainingDiverged(f"training loss became {loss} at step {progress['step'] + 1} "
                                           f"(epoch {epoch}); stopped, {where}")
                if cfg.clip_norm > 0:
                    clip_grad_norm(list(model.grads.values()) + [model.c_grad_rows], cfg.clip_norm)
                optimizers.step(model)
                if average is not None:
                    average.update(model.state_arrays())
                progress["step"] += 1
                seen += len(t)
                loss_sum += loss * len(t)
                bar.update(len(t))
                if progress["step"] % 50 == 0:
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", ppl=f"{math.exp(loss_sum / seen):.1f}")
        elapsed = time.perf_counter() - start_time
        record = {"epoch": epoch, "train_loss": loss_sum / seen, "tokens_per_s": seen / elapsed,
                  "seconds": elapsed, "lr": optimizers.weights.lr,
                  "objective": "sampled softmax" if sampled else "exact softmax"}
        last_arrays = None
        if average is not None:  # validate (and keep) the averaged weights, then train on from the last ones
            if valid is not None and cfg.validate_last:
                record["valid_ppl_last"] = perplexity(model, valid).perplexity
            last_arrays = {name: a.copy() for name, a in model.state_arrays().items()}
            model.load_state_arrays(average.averages)
        if valid is not None:
            record["valid_ppl"] = perplexity(model, valid).perplexity
            improved = record["valid_ppl"] < progress["best"]
        else:
            improved = True
        progress["epoch"] = epoch
        progress["history"].append(record)
        if improved:
            progress["best"] = record.get("valid_ppl", math.inf)
            progress["bad_epochs"] = 0
            best_arrays = {name: a.copy() for name, a in model.state_arrays().items()}
            if output is not None:
                model.save(output)
        else:
            progress["bad_epochs"] += 1
        if sampled and (epoch == cfg.sampled_epochs or progress["bad_epochs"] > cfg.patience):
            # the exact phase follows, with a patience of its own, even if the sampled one stalled
            if epoch < cfg.sampled_epochs:
                logger.info("the sampled softmax stopped improving after epoch %d: exact softmax from here", epoch)
            progress["sampled_until"] = epoch
            progress["bad_epochs"] = 0
        if not improved and cfg.plateau_factor > 0 and best_arrays is not None:
            model.load_state_arrays(best_arrays)  # go on from the best weights at a lower rate
            if average is not None:
                average.reset(best_arrays)
            progress["lr_scale"] *= cfg.plateau_factor
            logger.info("epoch %d did not improve: back to the best weights, lr x %g", epoch,
                        progress["lr_scale"])
        elif last_arrays is not None:
            model.load_state_arrays(last_arrays)
        logger.info("epoch %d: train ppl %.2f%s, %s%s%.0f tokens/s", epoch, math.exp(record["train_loss"]),
                    " (sampled softmax)" if sampled else "",
                    f"valid ppl {record['valid_ppl']:.2f}, " if "valid_ppl" in record else "",
                    f"last weights {record['valid_ppl_last']:.2f}, " if "valid_ppl_last" in record else "",
                    record["tokens_per_s"])
        if checkpoint is not None:
            _save_checkpoint(checkpoint, model, optimizers, average, rng, progress)
        if cfg.time_limit and time.perf_counter() - fit_start >= cfg.time_limit:
            logger.info("time limit of %.0f s reached after epoch %d", cfg.time_limit, epoch)
            break
    if best_arrays is not None:
        model.load_state_arrays(best_arrays)
    model.history = progress["history"]
    return model
