"""``switchyard eval report``: per target quality with a bootstrap interval, cost per 1,000 items, latency,
failures; the cost-quality Pareto front; and a recommendation — the cheapest target whose quality is within
a margin of the best, with the paired evidence against the best.

Quality is the mean score over *every* item of the set: an item a target failed to answer (after its
retries) scores 0, since production would have had no answer either. Failures are also counted apart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..store.evals import EvalResult, EvalRunRecord
from ..strict_json import finite
from .stats import Interval, bootstrap_mean, percentile, sign_test_greater

DEFAULT_MARGIN = 0.01


@dataclass(frozen=True)
class TargetSummary:
    target: str
    items: int  # items in the set
    answered: int
    failures: int
    missing: int  # items never tried (an interrupted run)
    quality: float
    interval: Interval
    cost: float  # total billed for this target's answers, USD
    cost_per_1k: float  # per 1,000 items
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    served_models: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Paired:
    """Target ``b`` against target ``a`` on the items both were asked: per-item wins and losses of ``b``,
    the mean drop ``a - b`` with its bootstrap interval, and one-sided sign-test p-values."""

    a: str
    b: str
    items: int
    wins: int
    losses: int
    ties: int
    drop: float
    drop_interval: Interval
    p_worse: float  # small when b is worse than a
    p_better: float  # small when b is better than a


@dataclass(frozen=True)
class Recommendation:
    target: str
    best: str
    margin: float
    reason: str
    evidence: Paired | None


@dataclass(frozen=True)
class RunReport:
    run: str
    set_name: str
    items: int
    targets: list[TargetSummary]
    pareto: list[str]  # targets on the cost-quality front, cheapest first
    recommendation: Recommendation | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = finite(asdict(self))
        return out


def per_item_scores(results: Sequence[EvalResult], target: str, item_ids: Sequence[str]) -> list[float]:
    """The target's score on each item, 0 for a failed or missing answer."""
    by_item = {r.item_id: r for r in results if r.target == target}
    out = []
    for item_id in item_ids:
        r = by_item.get(item_id)
        out.append(float(r.score) if r is not None and r.answered and r.score is not None else 0.0)
    return out


def summarize_target(
    results: Sequence[EvalResult], target: str, item_ids: Sequence[str], seed: int = 0
) -> TargetSummary:
    mine = [r for r in results if r.target == target]
    answered = [r for r in mine if r.answered]
    scores = per_item_scores(results, target, item_ids)
    n = len(item_ids)
    cost = sum(r.cost for r in mine)
    latencies = [r.latency_ms for r in answered]
    served: dict[str, int] = {}
    for r in answered:
        if r.served_model:
            served[r.served_model] = served.get(r.served_model, 0) + 1
    return TargetSummary(
        target=target,
        items=n,
        answered=len(answered),
        failures=len(mine) - len(answered),
        missing=n - len(mine),
        quality=sum(scores) / n if n else math.nan,
        interval=bootstrap_mean(scores, seed=seed),
        cost=cost,
        cost_per_1k=cost / n * 1000 if n else math.nan,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        input_tokens=sum(r.input_tokens for r in mine),
        output_tokens=sum(r.output_tokens for r in mine),
        served_models=served,
    )


def paired(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, seed: int = 0) -> Paired:
    """Paired comparison of two score lists over the same items (same order)."""
    if len(a) != len(b):
        raise ValueError("paired scores must cover the same items")
    wins = sum(1 for x, y in zip(a, b, strict=True) if y > x)
    losses = sum(1 for x, y in zip(a, b, strict=True) if y < x)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    return Paired(
        a=name_a,
        b=name_b,
        items=n,
        wins=wins,
        losses=losses,
        ties=n - wins - losses,
        drop=sum(diffs) / n if n else 0.0,
        drop_interval=bootstrap_mean(diffs, seed=seed),
        p_worse=sign_test_greater(losses, wins),
        p_better=sign_test_greater(wins, losses),
    )


def pareto_front(targets: Sequence[TargetSummary]) -> list[str]:
    """Targets no other target beats on both cost and quality (cheaper or equal, and better or equal,
    strictly better on one), cheapest first."""
    front = []
    for t in targets:
        dominated = any(
            o is not t
            and o.cost_per_1k <= t.cost_per_1k
            and o.quality >= t.quality
            and (o.cost_per_1k < t.cost_per_1k or o.quality > t.quality)
            for o in targets
        )
        if not dominated:
            front.append(t)
    return [t.target for t in sorted(front, key=lambda t: (t.cost_per_1k, -t.quality))]


def recommend(
    targets: Sequence[TargetSummary], results: Sequence[EvalResult], item_ids: Sequence[str], margin: float
) -> Recommendation | None:
    """The cheapest target whose quality is within ``margin`` (absolute) of the best target's."""
    if not targets:
        return None
    best = max(targets, key=lambda t: (t.quality, -t.cost_per_1k))
    good = [t for t in targets if t.quality >= best.quality - margin]
    pick = min(good, key=lambda t: (t.cost_per_1k, -t.quality))
    if pick is best:
        return Recommendation(
            pick.target, best.target, margin, "the best quality is also the cheapest within the margin", None
        )
    evidence = paired(
        per_item_scores(results, best.target, item_ids),
        per_item_scores(results, pick.target, item_ids),
        best.target,
        pick.target,
    )
    saving = 1 - pick.cost_per_1k / best.cost_per_1k if best.cost_per_1k > 0 else 0.0
    reason = (
        f"quality {pick.quality:.3f} vs the best {best.quality:.3f} ({best.target}): within the margin of "
        f"{margin:.3f}, at {saving:.0%} lower cost per item"
    )
    return Recommendation(pick.target, best.target, margin, reason, evidence)


def build_report(
    run: EvalRunRecord,
    results: Sequence[EvalResult],
    item_ids: Sequence[str] | None = None,
    *,
    margin: float = DEFAULT_MARGIN,
) -> RunReport:
    """``item_ids``: the set's items (default: every item any target answered or failed)."""
    ids = list(item_ids) if item_ids is not None else sorted({r.item_id for r in results})
    summaries = [summarize_target(results, t, ids) for t in run.targets]
    return RunReport(
        run=run.name,
        set_name=run.set_name,
        items=len(ids),
        targets=summaries,
        pareto=pareto_front(summaries),
        recommendation=recommend(summaries, results, ids, margin),
    )
