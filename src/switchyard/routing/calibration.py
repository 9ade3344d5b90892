"""Decision thresholds for a target quality, calibrated on held-back (out-of-fold) predictions so that
the promise holds on prompts the router has not seen.

The promise: with probability about ``Phi(confidence_z)`` (0.95 at the default 1.645), the quality kept
on a *new* sample of ``holdout`` prompts (default: as many as the router was trained on) is at or above
the target. A calibration walks a *path* of settings, from the most conservative (always the reference
model: the promise holds by definition) to the cheapest, and takes the cheapest one *before the first
that fails*. A setting s counts when, over the n training prompts (r: correctness of its choices, b: the
reference model's, t: the target, m: the new sample's size),

    mean(r - t*b) - se(s) * sqrt(z_band^2 + confidence_z^2 * n/m) >= 0,   se(s) = sd(r - t*b) / sqrt(n)

- ``confidence_z * se * sqrt(n/m)``: the new sample scatters around the truth;
- ``z_band * se``: the training estimate scatters too, and the setting is *chosen* on it: walking the
  path to where the noisy curve still passes picks the setting where it happens to run high. ``z_band``
  at setting i is the bootstrap quantile (at the promise's confidence) of the largest standardized
  deviation over settings 0..i, a simultaneous band over the part of the path the walk has looked at.

Measured on halves of the GSM8K table (prompt-only router, weak signal): the plain bound at 1.645 for
both samples missed the target on the other half in 4 of 20 splits (the out-of-fold estimate at the
chosen setting ran 1.2 points above the test halves'). ``margin_z`` replaces the band by a fixed number
of standard errors (of both samples together).

The two-model router (``RouterModel``) thresholds a score (premium when above, the path over score
quantiles); the N-model router (``NRouter``) an exchange rate between predicted quality and cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

DEFAULT_TARGETS = tuple(round(0.80 + 0.01 * i, 2) for i in range(21))  # 0.80 ... 1.00
DEFAULT_CONFIDENCE = 0.95
CONFIDENCE_Z = round(NormalDist().inv_cdf(DEFAULT_CONFIDENCE), 3)  # 1.645, one-sided
ALWAYS_CHEAP = float("inf")
ALWAYS_PREMIUM = float("-inf")
_PATH_POINTS = 200  # thresholds a two-model calibration tries (score quantiles)


@dataclass(frozen=True)
class Promise:
    """How sure a calibration must be: the target holds on a new sample of ``holdout`` prompts (None: as
    many as trained on; ``math.inf``: the long-run mean) with probability ~Phi(``confidence_z``).
    ``margin_z``, when given, is a fixed margin in standard errors (of both samples) instead of the band."""

    confidence_z: float = CONFIDENCE_Z
    holdout: float | None = None
    margin_z: float | None = None
    resamples: int = 400
    seed: int = 0


def sample_factor(n: int, holdout: float | None = None) -> float:
    """sqrt(1 + n/m): the standard error of the training estimate and of a new sample of m prompts together,
    in units of the training one. ``holdout`` None means m = n; ``math.inf`` the long-run mean."""
    m = float(n if holdout is None else holdout)
    if m <= 0:
        raise ValueError("holdout must be positive")
    return math.sqrt(1.0 + n / m)


def last_before_failure(ok: BoolArray) -> int:
    """Index of the last setting before the first one that fails (settings ordered from the most
    conservative, which always counts, to the cheapest)."""
    failed = np.nonzero(~ok[1:])[0]
    return int(failed[0]) if len(failed) else len(ok) - 1


def calibrate_path(
    routed: FloatArray, best: FloatArray, targets: Sequence[float], promise: Promise | None = None
) -> dict[float, int]:
    """Per target, the index of the chosen setting on a path: ``routed`` holds, per setting (rows, the
    most conservative first) and training prompt, the correctness of that setting's choice; ``best``
    the reference model's. Non-decreasing caution: a higher target never gets a later setting."""
    pr = promise or Promise()
    n_set, n = routed.shape
    if n < 2:
        return dict.fromkeys(targets, 0)
    r_mean, b_mean = routed.mean(axis=1), float(best.mean())
    r_var, b_var = routed.var(axis=1, ddof=1), float(best.var(ddof=1))
    cov = (routed - r_mean[:, None]) @ (best - b_mean) / (n - 1)
    boot: tuple[FloatArray, FloatArray] | None = None
    if pr.margin_z is None:
        rng = np.random.default_rng(pr.seed)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=pr.resamples).T.astype(np.float64)  # (n, B)
        boot = (routed @ counts / n, best @ counts / n)
    level = NormalDist().cdf(pr.confidence_z)
    test_share = pr.confidence_z**2 * (sample_factor(n, pr.holdout) ** 2 - 1.0)  # confidence_z^2 * n/m
    table: dict[float, int] = {}
    previous = n_set - 1
    for target in sorted(targets):
        mean = r_mean - target * b_mean
        se = np.sqrt(np.maximum(r_var + target**2 * b_var - 2 * target * cov, 0.0) / n)
        if boot is None:
            assert pr.margin_z is not None
            width = pr.margin_z * se * sample_factor(n, pr.holdout)
        else:
            dev = (boot[0] - target * boot[1][None, :]) - mean[:, None]
            t = np.divide(dev, se[:, None], out=np.zeros_like(dev), where=se[:, None] > 0)
            # The walk only looks at settings up to where it stops: the band at setting i covers i and
            # every more conservative one.
            z_band = np.maximum(np.quantile(np.maximum.accumulate(t, axis=0), level, axis=1), 0.0)
            width = se * np.sqrt(z_band**2 + test_share)
        ok = mean - width >= -1e-12
        ok[0] = True  # the most conservative setting: the reference model, or as good
        previous = min(previous, last_before_failure(ok))
        table[target] = previous
    return table


def score_path(scores: FloatArray) -> FloatArray:
    """Thresholds a two-model calibration tries, premium when the score is above: -inf (always premium),
    then score quantiles upwards, then inf (always cheap)."""
    if len(scores) == 0:
        return np.array([ALWAYS_PREMIUM, ALWAYS_CHEAP])
    cuts = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, _PATH_POINTS)))
    return np.concatenate([[ALWAYS_PREMIUM], cuts, [ALWAYS_CHEAP]])


def calibrate(
    scores: FloatArray,
    cheap_ok: NDArray[np.bool_],
    premium_ok: NDArray[np.bool_],
    targets: tuple[float, ...] = DEFAULT_TARGETS,
    promise: Promise | None = None,
) -> dict[float, float]:
    """Threshold per target (premium when score > threshold). Non-increasing in the target."""
    path = score_path(scores)
    premium = scores[None, :] > path[:, None]
    routed = np.where(premium, premium_ok[None, :], cheap_ok[None, :]).astype(np.float64)
    chosen = calibrate_path(routed, premium_ok.astype(np.float64), targets, promise)
    return {t: float(path[i]) for t, i in chosen.items()}


def lookup(table: Mapping[float, float], target: float, beyond: float = ALWAYS_PREMIUM) -> float:
    """Threshold for a target: the nearest tabulated target at or above it (never a weaker one); ``beyond``
    for a target above every tabulated one."""
    above = [t for t in table if t >= target - 1e-9]
    if not above:
        return beyond
    return table[min(above)]
