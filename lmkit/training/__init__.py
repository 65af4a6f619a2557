"""What every trainer shares: the callback interface and the callbacks built on it (monitor, progress, limits)."""
from lmkit.training.callbacks import Callback, Callbacks, EpochFunction, NoProbe, Probe, Run, TimeLimit, as_callback

__all__ = ["Callback", "Callbacks", "EpochFunction", "NoProbe", "Probe", "Run", "TimeLimit", "as_callback"]
