"""Sampled softmax: a cheaper training objective for the NPLM's output layer.

The exact softmax scores every word of the vocabulary for every training
example: three ``B x V x n`` products a step, nearly all of the NPLM's
training time.  The sampled softmax (Jean, Cho, Memisevic & Bengio 2015,
"On Using Very Large Target Vocabulary for Neural Machine Translation"; the
importance sampling of Bengio & Senecal 2008 before it) scores only a
candidate set shared by the minibatch: its own ``B`` targets plus ``S``
words drawn with replacement from the proposal ``q`` (the training
unigram distribution raised to 0.75, as word2vec's negatives), duplicates
merged -- ``K <= B + S`` words.  Each candidate's logit is lowered by
``log P(j in the set)``::

    P(j in the set) = 1 - (1 - u_j)^B (1 - q_j)^S

(``u``: the unigram distribution of the training targets), the correction
that makes the softmax over the set estimate the one over the vocabulary:
a rare word that made it into the set stands for the many that did not.
Frequent words are almost always in the set and get almost no correction,
so for them the objective is nearly the exact one.  A step then costs
``B x K x n`` products: with ``S = 2048`` about 8x fewer for Brown's 17,905
words.  The objective is for training only; perplexity is always the exact
softmax (:mod:`lmkit.lm.perplexity`).
"""
from __future__ import annotations

import numpy as np

PROPOSAL_EXPONENT = 0.75  # q_j ~ count_j^0.75 (Mikolov et al. 2013's noise distribution)


class CandidateSampler:
    """Draws the candidate set of each minibatch and its logit corrections.

    ``counts: int[V]``: how often each word is a training target (words that
    never are can be neither target nor sample); ``batch_size``: ``B`` of the
    inclusion probability; ``draws``: ``S``, samples per minibatch.
    """

    def __init__(self, counts: np.ndarray, batch_size: int, draws: int):
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.sum() <= 0:
            raise ValueError("counts must be a 1-D array of target counts with a positive total")
        if batch_size < 1 or draws < 1:
            raise ValueError(f"batch_size and draws must be >= 1, got {batch_size} and {draws}")
        self.draws = int(draws)
        unigram = counts / counts.sum()
        proposal = counts ** PROPOSAL_EXPONENT
        proposal /= proposal.sum()
        self.cdf = np.cumsum(proposal)
        self.cdf /= self.cdf[-1]
        with np.errstate(divide="ignore"):
            miss = batch_size * np.log1p(-np.minimum(unigram, 1.0 - 1e-12)) \
                + draws * np.log1p(-np.minimum(proposal, 1.0 - 1e-12))
            # float32[V]: log P(j in the set); -inf for words that can never be in it
            self.log_inclusion = np.log(-np.expm1(miss)).astype(np.float32)

    def draw(self, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate set of a minibatch with ``targets: int32[B]``.

        Returns ``(candidates: int64[K]`` sorted unique word ids,
        ``positions: int32[B]`` with ``candidates[positions] == targets``,
        ``correction: float32[K]`` = ``log P(candidate in the set)``, to subtract
        from the logits).
        """
        samples = np.searchsorted(self.cdf, rng.random(self.draws), side="right")  # cdf[-1] == 1 > draw
        candidates, inverse = np.unique(np.concatenate([targets, samples]), return_inverse=True)
        return candidates, inverse[:len(targets)].astype(np.int32), self.log_inclusion[candidates]
