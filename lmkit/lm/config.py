"""The settings of an NPLM (:class:`NPLMConfig`): shape and training, each default with its reason.

A plain dataclass that loads no numerical code, so that the command line can
build its flags from it (:mod:`lmkit.cli.options`) without loading numpy;
:meth:`NPLMConfig.validate` checks names against the library's registries.
"""
from __future__ import annotations

from dataclasses import dataclass

from lmkit._config import config_from_dict, option

LR_SCHEDULES = ("inverse", "linear")
# Written out for the command line; tests compare them with lmkit.nn.activations.ACTIVATIONS,
# lmkit.nn.optim.OPTIMIZERS and lmkit.lm.examples.BOUNDARIES.
ACTIVATION_NAMES = ("tanh", "sigmoid", "relu", "leaky_relu", "prelu", "elu", "maxout", "identity")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam")
BOUNDARY_NAMES = ("sentence", "stream")


@dataclass
class NPLMConfig:
    """Shape and training settings of an :class:`~lmkit.lm.nplm.NPLM`; each default with its reason."""

    context: int = option(4, "previous words used, n - 1; 4: Bengio et al.'s best Brown models are 5-grams")
    features: int = option(60, "word feature size m; 60: MLP1 of the paper's Table 1")
    hidden: int = option(50, "hidden units h; 50: MLP1 (0 = no hidden layer, then --direct must be on)")
    direct: bool = option(True, "direct connections W x from the features to the output: MLP1 has them; "
                                "they speed up early learning")
    activation: str = option("tanh", "hidden activation: the paper's tanh; relu, leaky_relu, prelu, elu and "
                                     "maxout get He init", choices=ACTIVATION_NAMES)
    maxout_pieces: int = option(2, "with activation maxout: each hidden unit is the max of this many linear pieces")
    dropout_features: float = option(0.0, "dropout on the word features (the paper used none: weight decay "
                                          "instead)")
    dropout_hidden: float = option(0.0, "dropout on the hidden units (the paper used none)")
    dropout_words: float = option(0.0, "chance that a training context word becomes the padding ('no word') "
                                       "row: blank noising")
    batch_norm: bool = option(False, "batch-normalize the hidden pre-activation (not in the paper; off keeps "
                                     "eq. (1) exact)")
    boundaries: str = option("sentence", "sentence: contexts restart at each sentence; stream: running text "
                                         "(see lmkit.lm.examples)", choices=BOUNDARY_NAMES)
    optimizer: str = option("adam", "Adam converges in few epochs; sgd is the paper's", choices=OPTIMIZER_NAMES)
    lr: float = option(1e-3, "learning rate: Adam's usual; the paper's SGD used 1e-3 too")
    lr_decay: float = option(0.0, "r of lr / (1 + r t), t = updates; the paper's SGD: 1e-8 per example")
    lr_schedule: str = option("inverse", "inverse: lr / (1 + r t); linear: lr down to lr / 100 over all epochs",
                              choices=LR_SCHEDULES)
    cooldown_epochs: int = option(0, "the last K of the epochs scale the rate down linearly to 1/100 (0: off)")
    weight_decay: float | None = option(None, "coupled L2 on the weights and C; none given: 1e-4 with the SGD "
                                              "family (the paper), 0 with adaptive optimizers")
    output_optimizer: str = option("", "optimizer of the output layer O, b ('' = --optimizer; see "
                                       "lmkit.lm.train)", choices=("",) + OPTIMIZER_NAMES)
    output_lr: float = option(0.0, "the output layer's learning rate (0 = --lr), scaled by the same schedule")
    decoupled_weight_decay: float = option(0.0, "AdamW-style p -= lr * dwd * p on O, H and the used rows of C "
                                                "(0: off)")
    plateau_factor: float = option(0.0, "> 0: an epoch worse on validation reverts to the best weights and "
                                        "scales the rate by this")
    weight_average: float = option(0.0, "> 0: validate and keep an exponential average of the weights, this "
                                        "decay per update (e.g. 0.999)")
    validate_every: int = option(1, "validate after every Nth epoch only (and after the last one, the sampled "
                                    "phase's last and the one that reaches the time limit): patience counts "
                                    "validations; the pass costs ~20% of a sampled Brown epoch")
    validate_last: bool = option(True, "with weight averaging: also validate the last weights (valid_ppl_last), "
                                       "a diagnostic pass over the validation text")
    sampled_epochs: int = option(0, "the first N epochs train with the sampled softmax (lmkit.lm.sampled), ~5x "
                                    "cheaper on Brown; perplexity stays exact (0: none)")
    sampled_words: int = option(2048, "S, the words the sampled softmax draws per minibatch from unigram^0.75 "
                                      "(Brown, h=200: 8 ms steps against 43 exact)")
    clip_norm: float = option(0.0, "clip the global gradient norm to this (0: off: softmax gradients are "
                                   "bounded, and the norm costs a pass)")
    batch_size: int = option(256, "examples per update: large enough for efficient BLAS, small enough for many "
                                  "updates")
    epochs: int = option(10, "maximum epochs; early stopping usually ends sooner")
    patience: int = option(2, "epochs without validation improvement before stopping")
    time_limit: float = option(0.0, "seconds of training, checked after each epoch (0: none)")
    seed: int = option(1, "random seed: a fixed seed and the same threads give bit-identical runs")
    threads: int = option(0, "BLAS threads, which also split the output layer (0: all cores)")
    max_tokens: int = option(0, "train on the first N tokens only (0: all): quick runs")

    def validate(self) -> "NPLMConfig":
        """Raise ``ValueError`` naming the first bad field; returns ``self``."""
        from lmkit.lm.examples import BOUNDARIES
        from lmkit.nn.activations import ACTIVATIONS
        from lmkit.nn.optim import OPTIMIZERS

        positive = ("context", "features", "batch_size", "epochs")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hidden", "patience", "threads", "max_tokens", "cooldown_epochs", "sampled_epochs"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.hidden == 0 and not self.direct:
            raise ValueError("hidden=0 needs direct=True: the model would have no path from context to output")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if int(self.maxout_pieces) < 2:
            raise ValueError(f"maxout_pieces must be >= 2, got {self.maxout_pieces}")
        for name in ("dropout_features", "dropout_hidden", "dropout_words"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.boundaries not in BOUNDARIES:
            raise ValueError(f"boundaries must be one of {BOUNDARIES}, got {self.boundaries!r}")
        for name in ("optimizer", "output_optimizer"):
            value = getattr(self, name)
            if value not in OPTIMIZERS and not (name == "output_optimizer" and value == ""):
                raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.sampled_epochs and self.sampled_words < 1:
            raise ValueError(f"sampled_words must be >= 1 with sampled_epochs, got {self.sampled_words}")
        if self.cooldown_epochs > self.epochs:
            raise ValueError(f"cooldown_epochs must be <= epochs={self.epochs}, got {self.cooldown_epochs}")
        if self.validate_every < 1:
            raise ValueError(f"validate_every must be >= 1, got {self.validate_every}")
        if self.time_limit < 0:
            raise ValueError(f"time_limit must be >= 0, got {self.time_limit}")
        if self.output_lr < 0:
            raise ValueError(f"output_lr must be >= 0, got {self.output_lr}")
        if not self.lr > 0 or self.lr_decay < 0 or self.clip_norm < 0:
            raise ValueError("lr must be > 0, lr_decay and clip_norm >= 0")
        if self.decoupled_weight_decay < 0:
            raise ValueError(f"decoupled_weight_decay must be >= 0, got {self.decoupled_weight_decay}")
        if not 0.0 <= self.weight_average < 1.0:
            raise ValueError(f"weight_average must be in [0, 1), got {self.weight_average}")
        if not 0.0 <= self.plateau_factor < 1.0:
            raise ValueError(f"plateau_factor must be in [0, 1), got {self.plateau_factor}")
        if self.weight_decay is not None and self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        return self

    def weight_decay_for(self, optimizer: str) -> float:
        """Coupled L2 for ``optimizer``: ``weight_decay``, or by default 1e-4 for the SGD family
        (the paper's penalty) and 0 for adaptive ones (L2 fights their per-coordinate scaling)."""
        if self.weight_decay is not None:
            return float(self.weight_decay)
        return 1e-4 if optimizer in ("sgd", "momentum", "nesterov") else 0.0

    @property
    def effective_weight_decay(self) -> float:
        return self.weight_decay_for(self.optimizer)

    @classmethod
    def from_dict(cls, values: dict) -> "NPLMConfig":
        return config_from_dict(cls, values).validate()
