"""How well a router trades quality for cost on a table of per-prompt outcomes.

- quality: mean correctness of the chosen model; quality kept: routed quality / premium-only quality.
- cost fraction: routed cost / premium-only cost (a cascade also pays the cheap call on every prompt).
- APGR and CPT as in RouteLLM's ``evaluate.py``: sweep the threshold so the share of premium calls goes
  from 0 to 1; APGR is the area under the accuracy curve, scaled so the cheap model alone scores 0 and the
  premium model alone 1; CPT(x) is the share of premium calls needed to recover x of the gap.
- baselines at a quality target: ``random`` (each prompt to premium with the probability that meets the
  target in expectation) and ``oracle`` (knows every outcome: premium only where it alone is right, then
  gives back the largest savings the target allows).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def quality(premium: BoolArray, cheap_ok: BoolArray, premium_ok: BoolArray) -> float:
    return float(np.where(premium, premium_ok, cheap_ok).mean()) if len(premium) else 0.0


def quality_kept(premium: BoolArray, cheap_ok: BoolArray, premium_ok: BoolArray) -> float:
    best = float(premium_ok.mean()) if len(premium_ok) else 0.0
    return quality(premium, cheap_ok, premium_ok) / best if best > 0 else 1.0


def routed_cost(premium: BoolArray, cheap_cost: FloatArray, premium_cost: FloatArray, cascade: bool = False) -> float:
    """Total USD: the chosen model per prompt; a cascade pays the cheap call everywhere, premium when escalated."""
    if cascade:
        return float(cheap_cost.sum() + premium_cost[premium].sum())
    return float(np.where(premium, premium_cost, cheap_cost).sum())


def cost_fraction(spent: float, premium_cost: FloatArray) -> float:
    total = float(premium_cost.sum())
    return spent / total if total > 0 else 0.0


def call_curve(scores: FloatArray, cheap_ok: BoolArray, premium_ok: BoolArray) -> tuple[FloatArray, FloatArray]:
    """(share of premium calls, accuracy) as the k highest-scoring prompts go to premium, k = 0..n."""
    order = np.argsort(-scores, kind="stable")
    gain = (premium_ok[order].astype(np.float64) - cheap_ok[order].astype(np.float64)).cumsum()
    n = len(scores)
    acc = (cheap_ok.sum() + np.concatenate([[0.0], gain])) / max(n, 1)
    return np.arange(n + 1) / max(n, 1), acc


def apgr(scores: FloatArray, cheap_ok: BoolArray, premium_ok: BoolArray) -> float:
    """Average performance gap recovered (RouteLLM): 0 = cheap model alone, 1 = premium model alone."""
    x, acc = call_curve(scores, cheap_ok, premium_ok)
    weak, strong = float(cheap_ok.mean()), float(premium_ok.mean())
    if strong == weak:
        return math.nan
    area = float(np.sum((acc[1:] + acc[:-1]) / 2 * np.diff(x)))
    return (area - weak) / (strong - weak)


def cpt(scores: FloatArray, cheap_ok: BoolArray, premium_ok: BoolArray, recovered: float = 0.5) -> float:
    """Call-performance threshold: the share of premium calls at which accuracy first reaches
    ``weak + recovered * (strong - weak)`` (linear between sweep points)."""
    x, acc = call_curve(scores, cheap_ok, premium_ok)
    weak, strong = float(cheap_ok.mean()), float(premium_ok.mean())
    level = weak + recovered * (strong - weak)
    reached = np.nonzero(acc >= level - 1e-12)[0]
    if len(reached) == 0:
        return math.nan
    k = int(reached[0])
    if k == 0 or acc[k] == acc[k - 1]:
        return float(x[k])
    t = (level - acc[k - 1]) / (acc[k] - acc[k - 1])
    return float(x[k - 1] + t * (x[k] - x[k - 1]))


def random_cost_fraction(
    cheap_ok: BoolArray, premium_ok: BoolArray, cheap_cost: FloatArray, premium_cost: FloatArray, target: float
) -> float:
    """Expected cost fraction of routing each prompt to premium with one probability, set so the expected
    quality kept equals the target."""
    weak, strong = float(cheap_ok.mean()), float(premium_ok.mean())
    need = target * strong
    share = 0.0 if weak >= need else (1.0 if strong <= weak else min(1.0, (need - weak) / (strong - weak)))
    total = float(premium_cost.sum())
    return (share * total + (1 - share) * float(cheap_cost.sum())) / total if total > 0 else 0.0


def oracle_premium(
    cheap_ok: BoolArray, premium_ok: BoolArray, cheap_cost: FloatArray, premium_cost: FloatArray, target: float
) -> BoolArray:
    """The cheapest choice that keeps the target, knowing the outcomes."""
    needed = premium_ok & ~cheap_ok
    best = float(np.where(needed, premium_ok, cheap_ok).sum())
    slack = best - target * float(premium_ok.sum())
    give_back = max(0, min(int(np.floor(slack + 1e-9)), int(needed.sum())))
    idx = np.nonzero(needed)[0]
    order = idx[np.argsort(-(premium_cost - cheap_cost)[idx], kind="stable")]
    premium = needed.copy()
    premium[order[:give_back]] = False
    return premium


def oracle_cost_fraction(
    cheap_ok: BoolArray, premium_ok: BoolArray, cheap_cost: FloatArray, premium_cost: FloatArray, target: float
) -> float:
    premium = oracle_premium(cheap_ok, premium_ok, cheap_cost, premium_cost, target)
    return cost_fraction(routed_cost(premium, cheap_cost, premium_cost), premium_cost)
