from __future__ import annotations

import pytest

from switchyard.evals.report import build_report, pareto_front, per_item_scores
from switchyard.store.evals import EvalResult, EvalRunRecord

IDS = [f"q{i:03d}" for i in range(100)]


def run(targets: list[str], name: str = "r") -> EvalRunRecord:
    return EvalRunRecord(name, name, 0.0, "set.jsonl", "d", targets, "t", len(IDS), meta={"item_ids": IDS})


def answers(target: str, correct: int, cost: float, *, failed: int = 0, run_id: str = "r") -> list[EvalResult]:
    """``correct`` right answers, then wrong ones, the last ``failed`` items failing."""
    out = []
    for i, item in enumerate(IDS):
        if i >= len(IDS) - failed:
            out.append(EvalResult(run_id, item, target, 0.0, error="UpstreamTimeout: slow", cost=0.0))
            continue
        ok = i < correct
        out.append(
            EvalResult(run_id, item, target, 0.0, answer="B", score=float(ok), passed=ok, cost=cost,
                       latency_ms=10.0 + i, served_model=target, input_tokens=5, output_tokens=1)
        )  # fmt: skip
    return out


def test_report_quality_cost_latency_and_failures() -> None:
    results = answers("premium", 90, 0.01) + answers("cheap", 70, 0.001, failed=10)
    report = build_report(run(["premium", "cheap"]), results, IDS)
    premium, cheap = report.targets
    assert premium.quality == 0.90 and premium.interval.low < 0.90 < premium.interval.high
    assert premium.cost_per_1k == pytest.approx(10.0) and premium.failures == 0 and premium.answered == 100
    assert premium.latency_p50_ms == pytest.approx(59.5) and premium.latency_p95_ms == pytest.approx(104.05)
    # a failed item scores 0 in quality and counts as a failure
    assert cheap.failures == 10 and cheap.answered == 90 and cheap.quality == 0.70
    assert cheap.cost_per_1k == pytest.approx(0.9)
    assert report.pareto == ["cheap", "premium"]
    rec = report.recommendation
    assert rec is not None and rec.target == "premium"  # cheap is 0.2 below the best


def test_recommendation_is_the_cheapest_within_the_margin_with_evidence() -> None:
    results = answers("premium", 90, 0.01) + answers("mid", 89, 0.002) + answers("cheap", 60, 0.001)
    report = build_report(run(["premium", "mid", "cheap"]), results, IDS, margin=0.02)
    rec = report.recommendation
    assert rec is not None and rec.target == "mid" and rec.best == "premium"
    assert rec.evidence is not None and rec.evidence.losses == 1 and rec.evidence.wins == 0
    assert rec.evidence.drop == pytest.approx(0.01)
    assert "80% lower cost" in rec.reason
    assert report.to_json()["recommendation"]["target"] == "mid"
    tight = build_report(run(["premium", "mid", "cheap"]), results, IDS, margin=0.005).recommendation
    assert tight is not None and tight.target == "premium"


def test_pareto_front_drops_dominated_targets() -> None:
    results = answers("a", 90, 0.01) + answers("b", 80, 0.02) + answers("c", 50, 0.001) + answers("d", 50, 0.005)
    report = build_report(run(["a", "b", "c", "d"]), results, IDS)
    assert report.pareto == ["c", "a"]
    assert pareto_front(report.targets) == ["c", "a"]


def test_items_never_tried_score_zero_and_are_counted_missing() -> None:
    results = answers("a", 100, 0.01)[:40]
    report = build_report(run(["a"]), results, IDS)
    assert report.targets[0].missing == 60 and report.targets[0].quality == 0.40
    assert per_item_scores(results, "a", IDS[38:42]) == [1.0, 1.0, 0.0, 0.0]


def test_pareto_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from switchyard.evals.plots import pareto_png

    results = answers("a", 90, 0.01) + answers("b", 80, 0.02) + answers("c", 85, 0.001)
    out = pareto_png(build_report(run(["a", "b", "c"]), results, IDS), tmp_path / "pareto.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
