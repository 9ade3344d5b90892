"""The report, from the rollups, against numbers worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.config import GatewayConfig, ModelConfig, Price
from switchyard.economics.report import ReportFilters, build_report, models_from_config, percentile_ms
from switchyard.store.base import LedgerRecord
from switchyard.store.rollups import latency_bucket
from switchyard.store.sqlite import SQLiteStore, utc_day
from tests.store.test_sqlite import record

runner = CliRunner(env={"COLUMNS": "200"})
DAY = 86400.0
T0 = 1_780_000_000.0 // DAY * DAY
D0, D1 = utc_day(T0), utc_day(T0 + DAY)

MODELS = [
    {"name": "premium", "provider": "openai", "locality": "us", "price": {"input": 10.0, "output": 30.0}},
    {"name": "open-api", "provider": "openai", "locality": "us", "weights": "open-weight",
     "price": {"input": 0.28, "output": 0.42}},
    {"name": "onprem", "provider": "openai", "locality": "on_prem", "price": {"input": 0.1, "output": 0.2}},
]  # fmt: skip


def cfg() -> GatewayConfig:
    return GatewayConfig(models=[ModelConfig.model_validate(m) for m in MODELS])


def served(
    i: int, model: str, locality: str, *, team: str, ts: float, tin: int, tout: int, **kw: object
) -> LedgerRecord:
    prices = {"premium": (10.0, 30.0), "open-api": (0.28, 0.42), "onprem": (0.1, 0.2)}[model]
    cost = (tin * prices[0] + tout * prices[1]) / 1e6
    counterfactual = (tin * 10.0 + tout * 30.0) / 1e6
    base = record(i, team=team, ts=ts)
    return replace(
        base, route="auto", served_model=model, provider="openai", locality=locality, input_tokens=tin,
        output_tokens=tout, cost=cost, counterfactual_cost=counterfactual, **kw,
    )  # fmt: skip


def ledger(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.write(
        [
            served(1, "premium", "us", team="a", ts=T0 + 10, tin=1000, tout=500, latency_ms=900.0),
            served(2, "open-api", "us", team="a", ts=T0 + 20, tin=2000, tout=1000, latency_ms=300.0),
            served(3, "onprem", "on_prem", team="b", ts=T0 + 30, tin=4000, tout=0, latency_ms=50.0, classes=["pii"]),
            served(4, "onprem", "on_prem", team="b", ts=T0 + DAY + 5, tin=1000, tout=1000, latency_ms=60.0),
            # refused before any model answered: counted as an error, not in the served shares
            replace(record(5, team="a", ts=T0 + DAY + 9), route="auto", served_model=None, provider=None,
                    locality=None, input_tokens=0, output_tokens=0, cost=0.0, status=503),
        ]
    )  # fmt: skip
    return store


def test_report_totals_savings_shares_and_blends(tmp_path: Path) -> None:
    store = ledger(tmp_path / "l.db")
    r = build_report(store, models_from_config(cfg()), ReportFilters())
    store.close()
    cost = (1000 * 10 + 500 * 30 + 2000 * 0.28 + 1000 * 0.42 + 4000 * 0.1 + 1000 * 0.1 + 1000 * 0.2) / 1e6
    counterfactual = (1000 * 10 + 500 * 30 + 2000 * 10 + 1000 * 30 + 4000 * 10 + 1000 * 10 + 1000 * 30) / 1e6
    t = r.total
    assert t.requests == 5 and t.errors == 1 and t.sensitive == 1
    assert (t.input_tokens, t.output_tokens) == (8000, 2500)
    assert t.cost == pytest.approx(cost) and t.counterfactual_cost == pytest.approx(counterfactual)
    assert t.savings == pytest.approx(counterfactual - cost)
    assert t.savings_share == pytest.approx(1 - cost / counterfactual)
    assert t.usd_per_million_observed == pytest.approx(cost / 10_500 * 1e6)
    std = {"premium": 0.8 * 10 + 0.2 * 30, "open-api": 0.308, "onprem": 0.8 * 0.1 + 0.2 * 0.2}
    weighted = (1500 * std["premium"] + 3000 * std["open-api"] + 6000 * std["onprem"]) / 10_500
    assert t.usd_per_million_standard == pytest.approx(weighted)
    # shares of served requests (4) and tokens (10,500)
    s = r.shares
    assert s.requests == 4 and s.proprietary_requests == 1 and s.proprietary_request_share == pytest.approx(0.25)
    assert s.proprietary_token_share == pytest.approx(1500 / 10_500)
    assert s.on_prem_request_share == pytest.approx(0.5) and s.on_prem_token_share == pytest.approx(6000 / 10_500)
    assert [d.key for d in r.shares_by_day] == [D0, D1]
    assert r.shares_by_day[1].proprietary_request_share == 0.0
    # groupings
    assert {m.key: m.weights for m in r.by_model} == {
        "premium": "proprietary",
        "open-api": "open-weight",
        "onprem": "open-weight",
        "auto": "unknown",
    }
    assert [x.key for x in r.by_team] == ["a", "b"]  # by cost, highest first
    assert [(d.key, d.requests) for d in r.by_day] == [(D0, 3), (D1, 2)]
    assert r.day_model_cost[D0]["premium"] == pytest.approx(0.025)
    onprem = next(m for m in r.by_model if m.key == "onprem")
    assert onprem.p50_ms is not None and onprem.p50_ms == pytest.approx(55, rel=0.15)


def test_filters_narrow_to_team_route_and_days(tmp_path: Path) -> None:
    store = ledger(tmp_path / "l.db")
    models = models_from_config(cfg())
    assert build_report(store, models, ReportFilters(team="b")).total.requests == 2
    assert build_report(store, models, ReportFilters(since_day=D1)).total.requests == 2
    assert build_report(store, models, ReportFilters(until_day=D0)).total.requests == 3
    assert build_report(store, models, ReportFilters(route="other")).total.requests == 0
    store.close()


def test_percentiles_from_a_histogram_stay_within_their_bucket() -> None:
    latencies = [float(v) for v in range(10, 1010, 10)]  # 10 .. 1000 ms, uniform
    hist: dict[int, int] = {}
    for v in latencies:
        hist[latency_bucket(v)] = hist.get(latency_bucket(v), 0) + 1
    assert percentile_ms(hist, 0.5) == pytest.approx(500, rel=0.13)
    assert percentile_ms(hist, 0.95) == pytest.approx(950, rel=0.13)
    assert percentile_ms({}, 0.5) is None


def write_config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "sy.yaml"
    path.write_text(yaml.safe_dump({"server": {"db_path": str(db)}, "models": MODELS}))
    return path


def test_report_command_table_json_csv_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHYARD_DB_PATH", raising=False)
    db = tmp_path / "l.db"
    ledger(db).close()
    config = str(write_config(tmp_path, db))
    table = runner.invoke(app, ["report", "-c", config])
    assert table.exit_code == 0, table.output
    assert "saved" in table.stdout and "25.0% of requests" in table.stdout and "open-weight" in table.stdout
    data = json.loads(runner.invoke(app, ["report", "-c", config, "--format", "json", "--team", "a"]).stdout)
    assert data["total"]["requests"] == 3 and data["filters"]["team"] == "a"
    assert data["shares"]["proprietary_request_share"] == pytest.approx(0.5)
    out = runner.invoke(app, ["report", "-c", config, "--format", "csv", "--plots", str(tmp_path / "png")])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    sections = {row["section"] for row in rows}
    assert sections == {"total", "team", "route", "model", "provider", "day", "shares", "shares_day"}
    total = next(row for row in rows if row["section"] == "total")
    assert int(total["requests"]) == 5
    for name in ("spend_per_day", "cumulative_savings", "proprietary_share", "latency"):
        png = tmp_path / "png" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_report_command_rejects_bad_options(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    config = str(write_config(tmp_path, db))
    bad = runner.invoke(app, ["report", "-c", config, "--since", "last week"])
    assert bad.exit_code == 2 and "--since" in bad.output
    fmt = runner.invoke(app, ["report", "-c", config, "--format", "xml"])
    assert fmt.exit_code == 2 and "--format" in fmt.output


def test_weights_default_from_tags_provider_and_locality() -> None:
    def weights(**kw: object) -> str | None:
        return ModelConfig.model_validate({"name": "m", "provider": "openai", "locality": "us", **kw}).weights

    assert weights() == "proprietary"
    assert weights(locality="on_prem") == "open-weight"
    assert weights(tags=["open-weight"]) == "open-weight"
    assert weights(weights="open-weight", tags=["proprietary"]) == "open-weight"
    assert weights(provider="anthropic", price=Price(input=3, output=15)) == "proprietary"
    assert weights(provider="llamacpp", path="/x.gguf") == "open-weight"
