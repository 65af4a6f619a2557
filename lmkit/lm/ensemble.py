"""The linear mixture of any number of language models, its weights fitted on validation text.

    p(w | h) = sum_k lambda_k p_k(w | h),   lambda_k >= 0,   sum_k lambda_k = 1

The generalization of :class:`lmkit.lm.perplexity.Mixture` (two models, as
Bengio et al. 2003 mixed the network with an n-gram) to K members: NPLMs of
different seeds or configurations, Kneser-Ney models of different orders.
Averaging the probabilities of models that err differently lowers perplexity
below each member's; the weights say how much each member is trusted.

The weights are fitted by EM (Dempster et al. 1977; the "deleted
interpolation" of Jelinek & Mercer 1980): with fixed components the
validation log-likelihood is concave in ``lambda`` on the simplex, and each
EM step ``lambda_k <- mean_i lambda_k p_k(i) / p(i)`` never lowers it, so the
iteration climbs to the global optimum.  (The two-model :class:`Mixture`
bisects the derivative instead; with K > 2 weights there is no single root to
bracket.)

The log-linear mixture (a renormalized product of experts) is
:mod:`lmkit.lm.loglinear`: its normaliser needs whole distributions, so only
NPLMs can be its members.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from lmkit.lm.perplexity import as_corpus, example_batches

logger = logging.getLogger(__name__)

EM_MAX_ITERATIONS = 10_000   # EM crawls near a bound; each step is one pass over K x n cached log-probs
EM_TOLERANCE = 1e-10         # stop when no weight moves more than this in a step


class Members:
    """What a mixture of K language models holds besides its weights: the members (checked by
    :func:`check_members`), their vocabulary, boundary convention and tokenizer, and the longest
    member's context (each member reads its own most recent columns).  The base of
    :class:`Ensemble` and :class:`lmkit.lm.loglinear.LogLinearEnsemble`; ``weights: float64[K]``
    is the subclass's.  ``validation_perplexity``: the perplexity of the corpus the weights were
    fitted on, at those weights (set by ``fit_weights``, which scores it anyway; None otherwise)."""

    weights: np.ndarray

    def __init__(self, models):
        self.validation_perplexity: float | None = None
        self.models = check_members(models)
        first = self.models[0]
        self.vocab, self.boundaries = first.vocab, first.boundaries
        self.tokenizer = getattr(first, "tokenizer", None)
        self.context_size = max(model.context_size for model in self.models)

    def _weights_or_equal(self, weights, what: str) -> np.ndarray:
        """``float64[K]``: ``weights`` as given, or ``1/K`` each when None; ValueError naming ``what``
        unless they are K finite numbers (each subclass adds its own constraints)."""
        k = len(self.models)
        weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (k,) or not np.all(np.isfinite(weights)):
            raise ValueError(f"{what} must be {k} finite numbers, one per model, got {weights.tolist()}")
        return weights

    def describe_weights(self, names=None) -> str:
        names = names or [f"model {i + 1}" for i in range(len(self.models))]
        return ", ".join(f"{name} {w:.4f}" for name, w in zip(names, self.weights))


class Ensemble(Members):
    """``p(w | h) = sum_k weights[k] p_k(w | h)`` over ``models`` (any objects of the LM protocol).

    The members must share the vocabulary and the boundary convention; the
    ensemble's context is the longest member's, and each member reads its own
    most recent columns.  ``weights``: ``float64[K]``, non-negative, summing to
    1 (default: equal weights, the usual average of a seed ensemble).
    """

    kind = "ensemble"

    def __init__(self, models, weights=None):
        super().__init__(models)
        weights = self._weights_or_equal(weights, "weights")
        if np.any(weights < 0) or not math.isclose(weights.sum(), 1.0, abs_tol=1e-6):
            raise ValueError(f"weights must be >= 0 and sum to 1, got {weights.tolist()}")
        self.weights = weights / weights.sum()

    def member_scores(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``float64[K, n]``: each member's natural-log probability of each target."""
        return member_scores(self.models, contexts, targets)

    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return mix_log(self.member_scores(contexts, targets), self.weights)

    @classmethod
    def fit_weights(cls, models, corpus, *, batch_size: int = 8192) -> "Ensemble":
        """The ensemble whose weights maximize the likelihood of ``corpus`` (the validation split); its
        ``validation_perplexity`` is that of ``corpus`` at the fitted weights."""
        probe = cls(models)
        logp = [probe.member_scores(contexts, targets)
                for contexts, targets in example_batches(probe.models[0], as_corpus(probe.models[0], corpus),
                                                  batch_size, probe.context_size)]
        if not logp:
            raise ValueError("cannot fit ensemble weights on a corpus with no token to predict")
        logp = np.concatenate(logp, axis=1)
        weights, iterations = em_weights(logp)
        logger.info("ensemble weights %s after %d EM steps", np.round(weights, 4).tolist(), iterations)
        ensemble = cls(models, weights)
        ensemble.validation_perplexity = math.exp(-float(mix_log(logp, ensemble.weights).sum()) / logp.shape[1])
        return ensemble


def check_members(models) -> list:
    """``models`` as a list, checked to be mixable: at least one, one vocabulary, one boundary convention."""
    models = list(models)
    if not models:
        raise ValueError("an ensemble needs at least one model")
    first = models[0]
    for i, model in enumerate(models[1:], start=2):
        if model.vocab.tokens != first.vocab.tokens or model.vocab.eos != first.vocab.eos:
            raise ValueError(f"model {i} of the ensemble uses another vocabulary than model 1")
        if model.boundaries != first.boundaries:
            raise ValueError(f"model {i} of the ensemble uses boundaries {model.boundaries!r}, "
                             f"model 1 {first.boundaries!r}")
    return models


def member_scores(models, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``float64[K, n]``: each model's natural-log probability of each target."""
    return np.stack([np.asarray(m.score(contexts, targets), dtype=np.float64) for m in models])


def mix_log(logp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``float64[n]``: ``log sum_k weights[k] exp(logp[k])`` for ``logp: float64[K, n]``, stably.

    A member of weight 0 drops out (its term is ``-inf``, not ``0 * -inf``).
    """
    with np.errstate(divide="ignore"):
        shifted = np.log(weights)[:, None] + logp
    shifted[weights == 0] = -np.inf
    top = np.max(shifted, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)  # every member -inf: the sum stays log 0 = -inf
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(shifted - safe), axis=0))


def em_weights(logp: np.ndarray, *, max_iterations: int = EM_MAX_ITERATIONS,
               tolerance: float = EM_TOLERANCE) -> tuple[np.ndarray, int]:
    """``(float64[K], steps)``: the mixture weights maximizing ``sum_i log sum_k w_k exp(logp[k, i])``.

    EM from equal weights: ``w_k <- mean_i w_k p_k(i) / p(i)`` (the posterior
    share of member ``k`` in prediction ``i``, averaged).  Each step keeps the
    weights on the simplex and never lowers the likelihood; it stops when no
    weight moves by more than ``tolerance`` (not on the likelihood's gain: a
    weight sliding geometrically towards 0 gains almost nothing per step
    while still far from its bound).
    """
    k, n = logp.shape
    if n == 0:
        raise ValueError("no predictions to fit mixture weights on")
    weights = np.full(k, 1.0 / k)
    for step in range(1, max_iterations + 1):
        mixed = mix_log(logp, weights)
        with np.errstate(divide="ignore"):
            posterior = np.exp(np.log(weights)[:, None] + logp - mixed)
        new = posterior.mean(axis=1)
        new /= new.sum()
        moved = float(np.max(np.abs(new - weights)))
        weights = new
        if moved < tolerance:
            return weights, step
    return weights, max_iterations


def member_perplexities(ensemble, corpus, *, batch_size: int = 8192) -> list[float]:
    """Each member's perplexity on ``corpus``, in one pass (the same predictions as the ensemble's);
    ``ensemble``: an :class:`Ensemble` or a :class:`lmkit.lm.loglinear.LogLinearEnsemble`."""
    sums, n = np.zeros(len(ensemble.models)), 0
    for contexts, targets in example_batches(ensemble.models[0], as_corpus(ensemble.models[0], corpus), batch_size,
                                      ensemble.context_size):
        sums += member_scores(ensemble.models, contexts, targets).sum(axis=1)
        n += len(targets)
    if n == 0:
        raise ValueError("the corpus has no token to predict")
    return [math.exp(-s / n) for s in sums]
