"""The log-linear mixture (a renormalized product of experts) of language models.

    p(w | h) = exp( sum_k lambda_k log p_k(w | h) ) / Z(h),
    Z(h)     = sum_w' exp( sum_k lambda_k log p_k(w' | h) )

The geometric counterpart of :mod:`lmkit.lm.ensemble`'s linear mixture
(Klakow 1998, "Log-linear interpolation of language models"; Hinton's
product of experts): a word needs every member's support, where the linear
mixture takes any member's.  Its normaliser ``Z(h)`` sums over the whole
vocabulary after every context, so the members must give whole
distributions: ``logits(contexts) -> float32[n, V]``, log-probabilities up to
a constant per row (the renormalization cancels each member's own
normalizer).  The NPLM does; a Kneser-Ney model scores one word at a time and
is refused.

The weights ``lambda`` are any real numbers (a member may be down-weighted
past 0).  The validation log-likelihood is concave in them (the model is an
exponential family whose features are the members' log-probabilities), with
gradient ``sum_i (y_k(w_i | h_i) - E_p[y_k(. | h_i)])`` and Hessian
``-sum_i Cov_p[y_k, y_j]`` (``y_k``: member k's logits; the constants drop
out of both), so Newton's method from equal weights climbs to the optimum in
a few passes over the validation text; a step that lowers the likelihood is
halved.  The sums over the vocabulary run in
:func:`lmkit.lm.kernels.loglinear_rows`, in float64, split over threads.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from lmkit.lm.ensemble import Members
from lmkit.lm.kernels import loglinear_rows
from lmkit.lm.perplexity import as_corpus, example_batches
from lmkit.threads import blas_threads, even_bounds, run_parts

logger = logging.getLogger(__name__)

BLOCK_ELEMENTS = 1 << 25     # members' logits held at once (K x rows x V float32: 128 MB)
NEWTON_MAX_PASSES = 20       # passes over the validation text (Newton converges in ~4 with K <= 8)
NEWTON_TOLERANCE = 1e-9      # stop when a Newton step would gain less than this many nats per prediction


class LogLinearEnsemble(Members):
    """``p(w | h) ~ exp(sum_k weights[k] log p_k(w | h))``, renormalized over the vocabulary.

    ``models``: objects of the language-model protocol that also have
    ``logits`` (NPLMs), sharing the vocabulary and boundary convention.
    ``weights``: ``float64[K]``, finite (default: ``1/K`` each, the
    renormalized geometric mean).
    """

    kind = "log-linear ensemble"

    def __init__(self, models, weights=None):
        super().__init__(models)
        for i, model in enumerate(self.models, start=1):
            if not hasattr(model, "logits"):
                kind = getattr(model, "kind", type(model).__name__)
                raise ValueError(f"model {i} of the log-linear mixture ({kind}) gives one probability per word, "
                                 f"not whole distributions: only nplm models can be mixed log-linearly")
        self.weights = self._weights_or_equal(weights, "log-linear weights")
        self.block_rows = max(1, BLOCK_ELEMENTS // (len(self.models) * len(self.vocab)))

    def _rows(self, contexts: np.ndarray, targets: np.ndarray, moments: bool):
        """One block: ``(log_probs float64[r], means float64[r, K], second float64[r, K, K], logits)``
        from :func:`loglinear_rows` (``means``/``second`` empty without ``moments``)."""
        r, k = len(targets), len(self.models)
        logits = np.empty((k, r, len(self.vocab)), np.float32)
        for model, member_logits in zip(self.models, logits):
            model.logits(contexts, out=member_logits)
        log_probs = np.empty(r)
        means = np.empty((r, k) if moments else (0, k))
        second = np.empty((r, k, k) if moments else (0, k, k))
        workers = max(1, min(blas_threads(), r))
        scores, exponents = np.empty((workers, len(self.vocab))), np.empty((workers, len(self.vocab)), np.int32)
        bounds = even_bounds(r, workers)
        targets = np.ascontiguousarray(targets, dtype=np.int32)
        run_parts(workers, lambda part: loglinear_rows(logits, self.weights, targets, moments, log_probs, means,
                                                       second, scores[part], exponents[part], bounds[part],
                                                       bounds[part + 1]))
        return log_probs, means, second, logits

    def score(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``float64[n]``: the mixture's natural-log probability of each target."""
        out = np.empty(len(targets))
        for start in range(0, len(targets), self.block_rows):
            end = min(start + self.block_rows, len(targets))
            out[start:end] = self._rows(contexts[start:end], targets[start:end], False)[0]
        return out

    def likelihood_terms(self, corpus, *, batch_size: int = 8192) -> tuple[float, np.ndarray, np.ndarray, int]:
        """One pass over ``corpus``: ``(log-likelihood, gradient float64[K], Hessian float64[K, K],
        predictions)`` of the weights (natural logs, summed over the predictions)."""
        k = len(self.models)
        total, grad, hess, n = 0.0, np.zeros(k), np.zeros((k, k)), 0
        for contexts, targets in example_batches(self.models[0], corpus, batch_size, self.context_size):
            for start in range(0, len(targets), self.block_rows):
                t = targets[start:start + self.block_rows]
                log_probs, means, second, logits = self._rows(contexts[start:start + self.block_rows], t, True)
                total += float(log_probs.sum())
                grad += logits[:, np.arange(len(t)), t].sum(axis=1, dtype=np.float64) - means.sum(axis=0)
                hess -= second.sum(axis=0) - means.T @ means
                n += len(t)
        if not math.isfinite(total):
            raise ValueError("a member of the log-linear mixture gave a non-finite logit")
        lower = np.tril(hess)
        return total, grad, lower + np.tril(lower, -1).T, n

    @classmethod
    def fit_weights(cls, models, corpus, *, batch_size: int = 8192, max_passes: int = NEWTON_MAX_PASSES,
                    tolerance: float = NEWTON_TOLERANCE) -> "LogLinearEnsemble":
        """The log-linear mixture whose weights maximize the likelihood of ``corpus`` (the validation split).

        Damped Newton from equal weights (see the module docstring); each step
        is one pass over ``corpus`` scoring every member on every word.  Stops
        when the step's predicted gain (half the Newton decrement) is below
        ``tolerance`` nats per prediction.  The returned mixture's
        ``validation_perplexity`` is that of ``corpus`` at the weights returned.
        """
        mixture = cls(models)
        corpus = as_corpus(mixture.models[0], corpus)
        best_weights, best, step = None, -math.inf, None
        for _ in range(max_passes):
            total, grad, hess, n = mixture.likelihood_terms(corpus, batch_size=batch_size)
            if n == 0:
                raise ValueError("cannot fit log-linear weights on a corpus with no token to predict")
            logger.info("log-linear weights %s: validation perplexity %.3f", np.round(mixture.weights, 4).tolist(),
                        math.exp(-total / n))
            if total < best:  # the step overshot: halve it
                step = step / 2
                mixture.weights = best_weights + step
                continue
            best_weights, best = mixture.weights.copy(), total
            step = np.linalg.lstsq(-hess, grad, rcond=None)[0]  # -hess: the members' summed covariance
            if float(grad @ step) / 2 < tolerance * n:
                break
            mixture.weights = best_weights + step
        mixture.weights = best_weights
        mixture.validation_perplexity = math.exp(-best / n)
        return mixture

