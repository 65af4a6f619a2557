"""Numerical building blocks shared by lmkit's models (of lmkit they import
only its numba flags, ``lmkit._jit``; ``Sequential.save``/``load`` call
``lmkit.io`` when used): initializers, activations, dropout, batch normalization,
optimizers, learning-rate schedules, weight averaging, gradient clipping,
losses and a finite-difference gradient checker -- and the layers that
compose them into a network (``Dense``, ``Embedding``, ``Sequential``; the
training loop is :func:`lmkit.training.fit`).  Every part works on float32 arrays (and
float64, for gradient checks)."""
from lmkit.nn.activations import (
    ACTIVATIONS,
    ELU,
    Activation,
    Identity,
    LeakyReLU,
    Maxout,
    PReLU,
    ReLU,
    Sigmoid,
    Tanh,
    get_activation,
    recommended_init,
)
from lmkit.nn.averaging import WeightAverage
from lmkit.nn.batchnorm import BatchNorm
from lmkit.nn.clip import clip_grad_norm, global_norm
from lmkit.nn.dropout import Dropout
from lmkit.nn.gradcheck import check_gradient, max_relative_error, numerical_gradient, relative_errors
from lmkit.nn.init import SCHEMES, fan_in_fan_out, init_weights, leaky_relu_gain, scheme_std
from lmkit.nn.layers import (
    ActivationLayer,
    BatchNormLayer,
    Dense,
    DropoutLayer,
    Embedding,
    Layer,
    Sequential,
    as_layer,
    resolve_init,
)
from lmkit.nn.losses import log_softmax, mse, softmax_cross_entropy
from lmkit.nn.optim import (
    OPTIMIZERS,
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
    make_optimizer,
)
from lmkit.nn.schedules import (
    ExponentialDecay,
    InverseTimeDecay,
    LinearDecay,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)

__all__ = [
    "ACTIVATIONS", "ELU", "Activation", "Identity", "LeakyReLU", "Maxout", "PReLU", "ReLU",
    "Sigmoid", "Tanh", "get_activation", "recommended_init",
    "BatchNorm",
    "clip_grad_norm", "global_norm",
    "Dropout",
    "check_gradient", "max_relative_error", "numerical_gradient", "relative_errors",
    "ActivationLayer", "BatchNormLayer", "Dense", "DropoutLayer", "Embedding", "Layer", "Sequential",
    "as_layer", "resolve_init",
    "SCHEMES", "fan_in_fan_out", "init_weights", "leaky_relu_gain", "scheme_std",
    "log_softmax", "mse", "softmax_cross_entropy",
    "OPTIMIZERS", "SGD", "AdaDelta", "AdaGrad", "Adam", "Momentum", "Nesterov", "Optimizer",
    "RMSProp", "make_optimizer",
    "ExponentialDecay", "InverseTimeDecay", "LinearDecay", "ReduceOnPlateau", "Schedule",
    "StepDecay", "WeightAverage",
]
