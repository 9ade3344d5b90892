"""``switchyard eval compare RUN_A RUN_B``: is B (a candidate model, a new prompt, a new route) worse than
A on the same items? Per-item wins and losses, the mean drop with its bootstrap interval, and an exact
paired sign test. The gate fails (exit code 1) when the drop is over ``max_drop`` *and* significant
(one-sided p below ``alpha``): a material drop that chance explains passes, and so does a real but
negligible one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InvalidRequest
from ..store.evals import EvalResult, EvalRunRecord
from ..strict_json import finite
from .report import Paired, paired, per_item_scores

DEFAULT_MAX_DROP = 0.01
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    target_a: str
    target_b: str
    quality_a: float
    quality_b: float
    max_drop: float
    alpha: float
    paired: Paired
    regression: bool
    verdict: str
    only_in_a: int  # items A has and B does not (left out of the pairing)
    only_in_b: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = finite(asdict(self))
        return out


def pick_targets(a: EvalRunRecord, b: EvalRunRecord, target_a: str | None, target_b: str | None) -> tuple[str, str]:
    """Which target of each run to compare: the ones named, else the one target each run has, else the
    one target both runs share."""
    if target_a is None and target_b is None:
        if len(a.targets) == 1 and len(b.targets) == 1:
            return a.targets[0], b.targets[0]
        shared = [t for t in a.targets if t in b.targets]
        if len(shared) == 1:
            return shared[0], shared[0]
        raise InvalidRequest(
            "the runs have several targets: name the ones to compare (--target-a, --target-b)", param="target"
        )
    ta = target_a or target_b
    tb = target_b or target_a
    assert ta is not None and tb is not None
    for run, t, flag in ((a, ta, "target-a"), (b, tb, "target-b")):
        if t not in run.targets:
            raise InvalidRequest(f"run {run.name!r} has no target {t!r} (it has {', '.join(run.targets)})", param=flag)
    return ta, tb


def compare(
    a: EvalRunRecord,
    results_a: Sequence[EvalResult],
    b: EvalRunRecord,
    results_b: Sequence[EvalResult],
    *,
    target_a: str | None = None,
    target_b: str | None = None,
    max_drop: float = DEFAULT_MAX_DROP,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    ta, tb = pick_targets(a, b, target_a, target_b)
    ids_a = set(a.meta.get("item_ids") or {r.item_id for r in results_a})
    ids_b = set(b.meta.get("item_ids") or {r.item_id for r in results_b})
    common = sorted(ids_a & ids_b)
    if not common:
        raise InvalidRequest("the runs share no items: compare runs over the same eval set", param="run")
    sa = per_item_scores(results_a, ta, common)
    sb = per_item_scores(results_b, tb, common)
    p = paired(sa, sb, f"{a.name}:{ta}", f"{b.name}:{tb}")
    regression = p.drop > max_drop and p.p_worse < alpha
    if regression:
        verdict = f"regression: quality drops {p.drop:.3f} (> {max_drop}) with p = {p.p_worse:.3g} < {alpha}"
    elif p.drop > max_drop:
        verdict = f"no significant regression: a drop of {p.drop:.3f} but p = {p.p_worse:.3g} >= {alpha}"
    else:
        verdict = f"no regression: the drop {p.drop:.3f} is within {max_drop}"
    return Comparison(
        run_a=a.name,
        run_b=b.name,
        target_a=ta,
        target_b=tb,
        quality_a=sum(sa) / len(sa),
        quality_b=sum(sb) / len(sb),
        max_drop=max_drop,
        alpha=alpha,
        paired=p,
        regression=regression,
        verdict=verdict,
        only_in_a=len(ids_a - ids_b),
        only_in_b=len(ids_b - ids_a),
    )
