"""How much memory a model will need, checked before training starts.

An absurd size (``--size 1000000000``, ``--features 10000000``) would
otherwise end, after the corpus is encoded, in a ``MemoryError`` traceback
or in the machine swapping to a halt.  The estimates below count the arrays
a trainer allocates (weights, their gradients and optimizer states, the
per-batch buffers) from the config and the vocabulary size, which is known
once the corpus is encoded; they are lower bounds, good enough to refuse
what cannot fit, not to predict the peak to the byte.
"""
from __future__ import annotations

import os

FLOAT_BYTES = 4  # every trainer keeps float32 weights


def available_bytes() -> int | None:
    """Memory the process can still get: MemAvailable from /proc/meminfo, else free pages; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(n_bytes: float) -> str:
    """``1.5 GB``-style size (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1024 or unit == "PB":
            return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def fits(needed: int, available: int | None = None) -> bool:
    """Whether ``needed`` bytes fit in the memory available (True when that is unknown)."""
    available = available_bytes() if available is None else available
    return available is None or needed <= available


def check_fits(needed: int, what: str, available: int | None = None) -> None:
    """ValueError when ``needed`` bytes exceed the memory available; ``what`` says which options made them."""
    available = available_bytes() if available is None else available
    if not fits(needed, available):
        raise ValueError(f"{what} needs at least {human(needed)} of memory, more than the {human(available)} "
                         f"available: choose smaller sizes")


def word2vec_bytes(config, n_words: int) -> int:
    """Bytes a word2vec model of ``config`` (a Word2VecConfig) over ``n_words`` words allocates at least.

    syn0 float32[V, d]; syn1 float32[V - 1, d] with hierarchical softmax;
    syn1neg float32[V, d] with negative sampling; per worker a gradient
    scratch float32[2 window, d] and negative rows int32 + float32[negative + 1].
    """
    d = config.vector_size
    rows = n_words + (n_words - 1 if config.loss in ("hs", "both") else 0) + (n_words if config.loss != "hs" else 0)
    scratch = 2 * config.window * d * FLOAT_BYTES + (config.negative + 1) * 8
    return rows * d * FLOAT_BYTES + config.workers * scratch


def nplm_bytes(config, n_words: int) -> int:
    """Bytes an NPLM of ``config`` (an NPLMConfig) over ``n_words`` words allocates at least.

    Parameters P = C[(V+1), m] + H[h, k m] + O[V, h + k m (direct)] + biases,
    each with a gradient and two Adam moments (4 P), plus the batch's logits
    float32[B, V] and index scratch int32[B, V].
    """
    k, m, h = config.context, config.features, config.hidden
    inputs = h + (k * m if config.direct else 0)
    parameters = (n_words + 1) * m + h * k * m + n_words * inputs + n_words + h
    batch = config.batch_size * (2 * n_words + 2 * inputs + k * m)
    return FLOAT_BYTES * (4 * parameters + batch)
