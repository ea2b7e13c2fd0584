"""Comparing two variants over seeds: paired differences, their t-interval, a sign test, and log ratios.

Two runs that share a seed share their batches, their t and noise at every step, and the sampler's starting
noise, so a comparison subtracts them seed by seed (``paired``) and reports the mean difference with its 95%
t-interval (``t_interval``). Scores such as the Fréchet distance are right-skewed and saturate, so a
difference of 200 between two bad models and of 20 between two good ones are not comparable: ``log_ratios``
compares log(score_a / score_b) instead, and ``sign_test`` asks only how many seeds agree on the direction.
When a table shows many intervals, some exclude 0 by chance; ``bonferroni_level`` widens each one so that
all of them hold together with the stated probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def paired(a: Mapping[int, float], b: Mapping[int, float]) -> list[float]:
    """``a[s] - b[s]`` for every seed ``s`` both have, in increasing order of seed."""
    return [a[s] - b[s] for s in sorted(a) if s in b]


def log_ratios(a: Mapping[int, float], b: Mapping[int, float]) -> list[float]:
    """``log(a[s] / b[s])`` seed by seed (both positive): a negative value means ``a`` scored lower."""
    for name, scores in (("a", a), ("b", b)):
        bad = {s: v for s, v in scores.items() if not v > 0}
        if bad:
            raise ValueError(f"log ratios need positive scores; {name} has {bad}")
    return [math.log(a[s] / b[s]) for s in sorted(a) if s in b]


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: mean ± t_{level, n-1} sd / sqrt(n) over ``values`` (one per seed, n >= 2)."""
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must list at least 2 numbers, one per seed; got {values!r}")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed; it must lie in (0, 1)")
    half = float(student_t.ppf(0.5 + level / 2, v.size - 1)) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def sign_test(values: Sequence[float]) -> float:
    """Two-sided exact sign test: the probability, if positive and negative were equally likely for each seed,
    of a split at least as lopsided as the one in ``values`` (zeros are dropped). With 5 seeds the smallest
    possible value is 2 / 32 = 0.0625: five seeds can show a consistent direction, not a significant one."""
    from scipy.stats import binomtest

    v = np.asarray(values, dtype=float)
    pos, neg = int((v > 0).sum()), int((v < 0).sum())
    if pos + neg == 0:
        return 1.0
    return float(binomtest(pos, pos + neg, 0.5).pvalue)


def bonferroni_level(n_intervals: int, level: float = 0.95) -> float:
    """The level each of ``n_intervals`` intervals needs so that all hold together with probability ``level``."""
    if isinstance(n_intervals, bool) or not isinstance(n_intervals, int) or n_intervals < 1:
        raise ValueError(f"n_intervals={n_intervals!r} is not allowed; it must be an integer >= 1")
    return 1 - (1 - level) / n_intervals
