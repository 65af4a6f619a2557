"""Exponential moving average of parameters (Polyak-style weight averaging).

After every optimizer step ``avg = decay * avg + (1 - decay) * param`` for
each tracked array; evaluation then uses the averaged weights.  Why: the
last iterate of a noisy minibatch optimizer sits somewhere on the rim of the
region it circles, the running mean near its centre, which usually scores
better on held-out data at no cost in training (Polyak & Juditsky 1992; the
averaged SGD of Merity et al. 2018 for language models).  ``1 / (1 - decay)``
is the number of recent steps the average spans.

The update is one fused compiled pass per array (no temporaries), so it
costs about a copy of the parameters per step.
"""
from __future__ import annotations

import numpy as np

from lmkit._jit import jit


@jit
def _ema_update(avg, param, weight):
    """``avg += weight * (param - avg)`` over flat arrays of one length and dtype."""
    for i in range(avg.shape[0]):
        avg[i] += weight * (param[i] - avg[i])


class WeightAverage:
    """Running exponential average of named float arrays (float32 or float64).

    ``decay`` in ``(0, 1)``: the weight of the old average per :meth:`update`.
    ``params``: name -> array, the live parameters (C-contiguous); the
    average starts as a copy of them.
    """

    def __init__(self, params: dict[str, np.ndarray], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.averages = {}
        for name, array in params.items():
            if array.dtype not in (np.float32, np.float64) or not array.flags.c_contiguous:
                raise ValueError(f"{name}: weight averaging needs a C-contiguous float array, got "
                                 f"{'' if array.flags.c_contiguous else 'a non-contiguous '}{array.dtype} one")
            self.averages[name] = array.copy()

    def update(self, params: dict[str, np.ndarray]) -> None:
        """Fold the current ``params`` (same names and shapes as at construction) into the average."""
        for name, avg in self.averages.items():
            param = params[name]
            if param.shape != avg.shape:
                raise ValueError(f"{name}: shape {param.shape} differs from the averaged {avg.shape}")
            _ema_update(avg.reshape(-1), param.reshape(-1), avg.dtype.type(1.0 - self.decay))

    def reset(self, params: dict[str, np.ndarray]) -> None:
        """Start again from ``params`` (e.g. after training went back to earlier weights)."""
        for name, avg in self.averages.items():
            np.copyto(avg, params[name])
