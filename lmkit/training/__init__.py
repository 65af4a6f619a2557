"""What every trainer shares: the callback interface and the callbacks built on it (monitor, progress, limits);
and ``fit``, the training loop of a :class:`lmkit.nn.Sequential`."""
from lmkit.training.callbacks import Callback, Callbacks, EpochFunction, NoProbe, Probe, Run, TimeLimit, as_callback
from lmkit.training.supervised import SequentialProbe, TrainingDiverged, evaluate, fit

__all__ = ["Callback", "Callbacks", "EpochFunction", "NoProbe", "Probe", "Run", "TimeLimit", "as_callback",
           "SequentialProbe", "TrainingDiverged", "evaluate", "fit"]
