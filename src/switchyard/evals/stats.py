"""The statistics eval reports and comparisons rest on: bootstrap confidence intervals over items, an
exact paired sign test, percentiles. Items are the unit of resampling: two models' scores on the same
item are paired, never treated as independent samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 2000
# resample in chunks of at most this many draws, so memory stays bounded whatever the set's size
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def bootstrap_mean(
    values: Sequence[float], *, level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of the mean (items resampled with replacement)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Interval(math.nan, math.nan)
    if x.size == 1 or np.all(x == x[0]):
        return Interval(float(x[0]), float(x[0]))
    means = _resampled_means(x, samples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(low), float(high))


def _resampled_means(x: np.ndarray, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // x.size)
    out = []
    done = 0
    while done < samples:
        k = min(per_chunk, samples - done)
        out.append(x[rng.integers(0, x.size, size=(k, x.size))].mean(axis=1))
        done += k
    return np.concatenate(out)


def sign_test_greater(successes: int, failures: int) -> float:
    """One-sided exact sign test: the probability of at least ``successes`` of ``successes + failures``
    fair coin flips landing one way. Ties are left out before calling (McNemar's exact test on binary
    scores is this test on the discordant pairs)."""
    n = successes + failures
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(successes, n + 1))
    p: float = tail / 2**n
    return min(1.0, p)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
