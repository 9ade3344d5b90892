"""GatewayMetrics on its own: per-instance registries, bounded labels, reason codes."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchyard.budgets import Budgets
from switchyard.config import BudgetConfig, GatewayConfig, ModelConfig, RouteConfig
from switchyard.observability import GatewayMetrics, LabelBounds, reason_codes
from switchyard.reasons import REASON_CODES, reason_code
from switchyard.store.base import LedgerRecord


def _config() -> GatewayConfig:
    models = [
        ModelConfig(name=n, provider="openai", base_url="http://127.0.0.1:9/v1", locality="us") for n in ("a", "b")
    ]
    return GatewayConfig(models=models, routes=[RouteConfig(name="auto", models=["a", "b"])])


def _record(**kw: object) -> LedgerRecord:
    base: dict[str, object] = dict(
        id="r", ts=0.0, key_id="k", team="t1", endpoint="chat", requested="auto", route="auto",
        served_model="a", provider="openai", locality="us", input_tokens=10, output_tokens=5, cost=0.5,
        counterfactual_cost=2.0, latency_ms=120.0, ttft_ms=30.0, stream=True, fallback_chain=["a"],
    )  # fmt: skip
    base.update(kw)
    return LedgerRecord(**base)  # type: ignore[arg-type]


def samples(m: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: GatewayMetrics, name: str, **labels: str) -> float:
    return samples(m).get((name, tuple(sorted(labels.items()))), 0.0)


def test_two_instances_share_nothing() -> None:
    one, two = GatewayMetrics(_config()), GatewayMetrics(_config())
    one.observe(_record())
    one.observe(_record(stream=False, status=502, error_class="UpstreamConnectError", served_model="b"))
    lab = {"team": "t1", "route": "auto", "model": "a"}
    assert value(one, "switchyard_requests_total", **lab, status="200") == 1
    assert value(one, "switchyard_tokens_total", **lab, type="input") == 10
    assert value(one, "switchyard_tokens_total", **lab, type="output") == 5
    assert value(one, "switchyard_cost_usd_total", **lab) == 0.5
    assert value(one, "switchyard_counterfactual_cost_usd_total", **lab) == 2.0
    assert value(one, "switchyard_time_to_first_token_seconds_count", route="auto", model="a") == 1
    assert value(one, "switchyard_time_to_first_token_seconds_count", route="auto", model="b") == 0  # not a stream
    assert value(one, "switchyard_request_duration_seconds_count", route="auto", model="b") == 1
    assert (
        value(one, "switchyard_request_errors_total", route="auto", model="b", error_type="UpstreamConnectError") == 1
    )
    assert value(two, "switchyard_requests_total", **lab, status="200") == 0


def test_label_values_are_bounded() -> None:
    bounds = LabelBounds(["known"], cap=2)
    assert [bounds(v) for v in ("known", "x", "y", "z", "x", None, "")] == ["known", "x", "y", "other", "x", "-", "-"]
    m = GatewayMetrics(_config(), cap=1)
    for i in range(5):
        m.observe(_record(team=f"team{i}", status=200 + i, error_class="Nonsense" if i else None))
    teams = {dict(k[1]).get("team") for k in samples(m) if k[0] == "switchyard_requests_total"}
    assert teams == {"team0", "other"}
    statuses = {dict(k[1])["status"] for k in samples(m) if k[0] == "switchyard_requests_total"}
    assert statuses == {"200", "other"}
    errors = {dict(k[1])["error_type"] for k in samples(m) if k[0] == "switchyard_request_errors_total"}
    assert errors == {"other"}


def test_reason_codes_come_from_a_fixed_set() -> None:
    trail = ["access: t may not use big", "residency: pii -> on_prem", "budget: downgraded past big", "whatever"]
    codes = reason_codes(trail, route="auto", fallback_chain=["a", "b"])
    assert codes == ["access_narrowed", "residency_restricted", "budget_downgrade", "other", "fallback"]
    assert reason_codes([], route="auto", fallback_chain=["a"]) == ["fallback_order"]
    assert reason_codes([], route=None, fallback_chain=["a"]) == ["direct"]
    assert reason_code("residency: pii pseudonymized for big") == "residency_pseudonymized"
    assert reason_code("router: p_as_good=0.83 score=0.012<=0.11 at target 0.95 -> cheap") == "router_cheap"
    assert reason_code("router: p_as_good=0.20 score=0.3>0.11 at target 0.95 -> premium") == "router_premium"
    assert set(codes) <= set(REASON_CODES)


def test_budget_gauges_read_the_counters_at_scrape_time() -> None:
    budgets = Budgets([BudgetConfig(team="t1", usd_per_day=5.0, requests_per_minute=100)], clock=lambda: 1_000_000.0)
    m = GatewayMetrics(_config(), budgets=budgets.current_use, backlog=lambda: 7)
    assert value(m, "switchyard_budget_used", scope="team:t1", limit="usd_per_day") == 0
    budgets.seed_spend({"team:t1": 1.25}, "day")
    assert value(m, "switchyard_budget_used", scope="team:t1", limit="usd_per_day") == 1.25
    assert value(m, "switchyard_budget_limit", scope="team:t1", limit="usd_per_day") == 5.0
    assert value(m, "switchyard_budget_limit", scope="team:t1", limit="requests_per_minute") == 100
    assert value(m, "switchyard_ledger_backlog") == 7


def test_histogram_buckets_are_cumulative_upper_bounds() -> None:
    m = GatewayMetrics(_config())
    for ms in (5.0, 120.0, 250.0, 999_000.0):
        m.observe(_record(latency_ms=ms, stream=False))
    name = "switchyard_request_duration_seconds_bucket"
    assert [value(m, name, route="auto", model="a", le=le) for le in ("0.005", "0.1", "0.25", "120.0", "+Inf")] == [
        1, 1, 3, 3, 4,
    ]  # fmt: skip
    assert value(m, "switchyard_request_duration_seconds_sum", route="auto", model="a") == pytest.approx(999.375)
