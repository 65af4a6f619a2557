"""Hyperparameter search (``lmkit tune``) on Optuna, the optional extra ``lmkit[tune]``.

:mod:`lmkit.tune.space` reads search spaces (no Optuna needed);
:mod:`lmkit.tune.study` holds the objectives, the shared study storage and
the results.  Import those modules; this package imports nothing.
"""
