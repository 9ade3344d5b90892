"""Thresholds for a target quality, calibrated on held-back predictions with a safety margin.

A policy sends a prompt to the premium model when its score (expected quality lost per unit of relative
saving) is above the threshold. For each target, the threshold is the most permissive one from which on
the held-back quality kept, *minus ``margin_z`` standard errors*, stays at or above the target: a
threshold that just reaches the target on one sample falls short on the next about half of the time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

DEFAULT_TARGETS = tuple(round(0.80 + 0.01 * i, 2) for i in range(21))  # 0.80 ... 1.00
ALWAYS_CHEAP = float("inf")
ALWAYS_PREMIUM = float("-inf")


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
    margin_z: float = 1.0,
) -> dict[float, float]:
    """Threshold per target (premium when score > threshold). Non-increasing in the target."""
    order, kept, se = kept_curve(scores, cheap_ok, premium_ok)
    s = scores[order]
    lower = kept - margin_z * se
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


def lookup(table: Mapping[float, float], target: float) -> float:
    """Threshold for a target: the nearest tabulated target at or above it (never a weaker one)."""
    above = [t for t in table if t >= target - 1e-9]
    if not above:
        return ALWAYS_PREMIUM
    return table[min(above)]
