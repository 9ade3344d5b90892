"""Decision thresholds for a target quality, calibrated on held-back (out-of-fold) predictions so that
the promise holds on prompts the router has not seen.

The promise: with probability about ``Phi(margin_z)`` (0.95 at the default 1.645), the quality kept on a
*new* sample of ``holdout`` prompts (default: as many as the router was trained on) is at or above the
target. The quality kept a threshold reaches on the training prompts is itself an estimate, and the new
sample will scatter around the truth as much again, so a setting counts only when

    mean(r - t * b) - margin_z * sd(r - t * b) * sqrt(1/n + 1/m) >= 0

over the n training prompts (r: correctness of the routed choice, b: the reference model's, t: the target;
m: the new sample's size). A threshold that just reaches the target on one sample falls short on the next
about half of the time; this one about 5% of the time. Of the settings ordered from the most conservative
(always the reference model) to the cheapest, the chosen one is the cheapest *before the first that fails*:
a bump of the noisy curve above the target, after a dip below it, does not count.

The two-model router (``RouterModel``) thresholds a score (premium when above); the N-model router
(``NRouter``) an exchange rate between predicted quality and cost. Both use this bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_TARGETS = tuple(round(0.80 + 0.01 * i, 2) for i in range(21))  # 0.80 ... 1.00
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MARGIN_Z = round(NormalDist().inv_cdf(DEFAULT_CONFIDENCE), 3)  # 1.645, one-sided
ALWAYS_CHEAP = float("inf")
ALWAYS_PREMIUM = float("-inf")


def sample_factor(n: int, holdout: float | None = None) -> float:
    """sqrt(1 + n/m): the standard error of the training estimate and of a new sample of m prompts together,
    in units of the training one. ``holdout`` None means m = n; ``math.inf`` the long-run mean."""
    m = float(n if holdout is None else holdout)
    if m <= 0:
        raise ValueError("holdout must be positive")
    return math.sqrt(1.0 + n / m)


def meets_target(
    routed: FloatArray, best: FloatArray, target: float, margin_z: float, holdout: float | None = None
) -> BoolArray:
    """Per row of ``routed`` (settings x prompts: correctness of each setting's choices), whether the lower
    bound of the quality kept on a new sample reaches ``target``; ``best`` holds the reference model's
    correctness per prompt."""
    d = routed - target * best[None, :]
    n = d.shape[1]
    sd = d.std(axis=1, ddof=1) if n > 1 else np.zeros(d.shape[0])
    lower = d.mean(axis=1) - margin_z * sd * sample_factor(n, holdout) / math.sqrt(n)
    result: BoolArray = lower >= -1e-12
    return result


def last_before_failure(ok: BoolArray) -> int:
    """Index of the last setting before the first one that fails (settings ordered from the most
    conservative, which always counts, to the cheapest)."""
    failed = np.nonzero(~ok[1:])[0]
    return int(failed[0]) if len(failed) else len(ok) - 1


def kept_curve(
    scores: FloatArray, cheap_ok: NDArray[np.bool_], premium_ok: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Sending the k highest-scoring prompts to premium, for k = 0..n: (order, quality kept, its std error).

    Quality kept is routed correctness over premium-only correctness; the standard error is the
    delta-method one of that ratio over the sample's prompts.
    """
    order = np.argsort(-scores, kind="stable")
    c = cheap_ok[order].astype(np.float64)
    p = premium_ok[order].astype(np.float64)
    total_p = max(p.sum(), 1.0)
    cum_p = np.concatenate([[0.0], np.cumsum(p)])
    cum_c = np.concatenate([[0.0], np.cumsum(c)])
    cum_cp = np.concatenate([[0.0], np.cumsum(c * p)])
    routed = cum_p + (cum_c[-1] - cum_c)  # sum of r_i
    routed_p = cum_p + (cum_cp[-1] - cum_cp)  # sum of r_i * p_i (outcomes are 0/1)
    kept = routed / total_p
    # sum of (r_i - kept * p_i)^2 with r^2 = r and p^2 = p
    sq = routed - 2 * kept * routed_p + kept**2 * p.sum()
    se = np.sqrt(np.maximum(sq, 0.0)) / total_p
    return order, kept, se


def calibrate(
    scores: FloatArray,
    cheap_ok: NDArray[np.bool_],
    premium_ok: NDArray[np.bool_],
    targets: tuple[float, ...] = DEFAULT_TARGETS,
    margin_z: float = DEFAULT_MARGIN_Z,
    holdout: float | None = None,
) -> dict[float, float]:
    """Threshold per target (premium when score > threshold). Non-increasing in the target."""
    order, kept, se = kept_curve(scores, cheap_ok, premium_ok)
    s = scores[order]
    lower = kept - margin_z * se * sample_factor(len(scores), holdout)
    table: dict[float, float] = {}
    for target in targets:
        short = np.nonzero(lower < target - 1e-12)[0]
        # Fewest premium calls from which the bound stays at the target: a bump of the noisy curve
        # above the target, followed by a dip below it, does not count.
        k = int(short[-1]) + 1 if len(short) else 0
        if k == 0:
            table[target] = ALWAYS_CHEAP
        elif k >= len(s):  # len(s) + 1 when even all-premium misses the target
            table[target] = ALWAYS_PREMIUM
        elif s[k - 1] > s[k]:
            table[target] = float((s[k - 1] + s[k]) / 2)
        else:  # ties at the cut: send them all to premium
            table[target] = float(np.nextafter(s[k - 1], -np.inf))
    return table


def lookup(table: Mapping[float, float], target: float, beyond: float = ALWAYS_PREMIUM) -> float:
    """Threshold for a target: the nearest tabulated target at or above it (never a weaker one); ``beyond``
    for a target above every tabulated one."""
    above = [t for t in table if t >= target - 1e-9]
    if not above:
        return beyond
    return table[min(above)]
