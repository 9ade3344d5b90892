"""dashboard.data.load against a seeded SQLite ledger; figures expected from the seed rows themselves."""

from __future__ import annotations

import inspect
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import switchyard.dashboard.data as data_module
from switchyard.config import ModelConfig
from switchyard.dashboard import load, model_source
from switchyard.store.sqlite import SQLiteStore, utc_day

from .seed import PROPRIETARY, seed_config, seed_rows


def test_load_matches_the_seed(tmp_path: Path) -> None:
    now = time.time()
    rows = seed_rows(now)
    store = SQLiteStore(tmp_path / "ledger.db")
    store.write([r.record for r in rows])
    since = now - 30 * 86400
    data = load(store, since, now + 1)
    inside = [r for r in rows if r.record.ts >= since]
    assert 0 < len(inside) < len(rows)
    assert data.requests == len(inside)
    assert data.errors == sum(not r.served for r in inside)
    assert data.cost == pytest.approx(sum(r.record.cost for r in inside))
    assert data.savings == pytest.approx(sum(r.record.counterfactual_cost - r.record.cost for r in inside))
    spend: dict[str, float] = defaultdict(float)
    for r in inside:
        spend[r.record.team or "-"] += r.record.cost
    assert {t.team: t.cost for t in data.teams} == pytest.approx(dict(spend))
    assert [t.cost for t in data.teams] == sorted((t.cost for t in data.teams), reverse=True)
    codes = Counter((r.record.route or "-", r.record.served_model, r.code) for r in inside)
    assert {(d.route, d.model, d.reason): d.requests for d in data.decisions} == dict(codes)
    served = Counter(r.record.served_model for r in inside if r.served)
    assert {m.model: m.requests for m in data.models} == dict(served)
    errors = sorted((r.record for r in inside if not r.served), key=lambda rec: -rec.ts)[:15]
    assert [(e.ts, e.status, e.error_class) for e in data.recent_errors] == [
        (e.ts, e.status, e.error_class) for e in errors
    ]
    assert len(data.days) in (30, 31) and sum(d.requests for d in data.days) == len(inside)
    assert data.days[-1].day == time.strftime("%Y-%m-%d", time.gmtime(now))


DAY = 86400.0
NOW = 1_780_000_000.0 // DAY * DAY + 0.6 * DAY  # 14:24 UTC


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (NOW - 7 * DAY, NOW),  # the 7d period: starts at 14:24 seven days ago
        (NOW - 30 * DAY, NOW),
        (NOW - DAY, NOW),
        (NOW - 9.3 * DAY, NOW - 2.5 * DAY),  # both ends mid-day, rows after the end on its last day
    ],
)
def test_a_window_starting_mid_day_equals_the_rows(tmp_path: Path, since: float, until: float) -> None:
    rows = seed_rows(NOW, n=900)
    store = SQLiteStore(tmp_path / "ledger.db")
    store.write([r.record for r in rows])
    data = load(store, since, until, error_limit=25)
    inside = [r for r in rows if since <= r.record.ts < until]
    first_day = [r for r in rows if utc_day(r.record.ts) == utc_day(since)]
    assert any(r.record.ts < since for r in first_day) and any(r.record.ts >= since for r in first_day)
    recs = [r.record for r in inside]
    assert (data.requests, data.errors) == (len(inside), sum(not r.served for r in inside))
    assert (data.input_tokens, data.output_tokens) == (
        sum(r.input_tokens for r in recs),
        sum(r.output_tokens for r in recs),
    )
    assert (data.cost, data.counterfactual) == pytest.approx(
        (sum(r.cost for r in recs), sum(r.counterfactual_cost for r in recs))
    )
    teams: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for r in inside:
        t = teams[r.record.team or "-"]
        t[0], t[1], t[2], t[3] = (
            t[0] + 1,
            t[1] + (not r.served),
            t[2] + r.record.cost,
            t[3] + r.record.counterfactual_cost,
        )
    assert {t.team: (t.requests, t.errors) for t in data.teams} == {k: (v[0], v[1]) for k, v in teams.items()}
    for t in data.teams:
        assert (t.cost, t.counterfactual) == pytest.approx((teams[t.team][2], teams[t.team][3]))
    models: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for r in inside:
        m = models[str(r.record.served_model)]
        m[0] += r.served
        m[1] += r.record.cost
        m[2] += r.record.input_tokens + r.record.output_tokens
    assert {m.model: (m.requests, m.tokens) for m in data.models} == {
        k: (v[0], v[2]) for k, v in models.items() if v[0]
    }
    for m in data.models:
        assert m.cost == pytest.approx(models[m.model][1])
    days = Counter(utc_day(r.ts) for r in recs)
    assert data.days[0].day == utc_day(since) and data.days[-1].day == utc_day(until - 1)
    assert {d.day: d.requests for d in data.days if d.requests} == dict(days)
    day_cost: dict[str, float] = defaultdict(float)
    for r in recs:
        day_cost[utc_day(r.ts)] += r.cost
    for d in data.days:
        assert d.cost == pytest.approx(day_cost.get(d.day, 0.0))
    codes = Counter((r.record.route or "-", str(r.record.served_model), r.code) for r in inside)
    assert {(d.route, d.model, d.reason): d.requests for d in data.decisions} == dict(codes)
    errors = sorted((r for r in recs if r.status >= 400), key=lambda rec: -rec.ts)[:25]
    assert [e.id for e in data.recent_errors] == [e.id for e in errors]


def test_the_dashboard_has_no_sql_of_its_own() -> None:
    source = inspect.getsource(data_module)
    assert "sqlite" not in source.lower() and "SELECT" not in source
    assert all(getattr(v, "__name__", "") != "sqlite3" for v in vars(data_module).values())


def test_empty_window(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db")
    data = load(store, 0.0, 86400.0 * 2)
    assert (data.requests, data.cost, data.savings_share, data.teams, data.decisions) == (0, 0.0, 0.0, [], [])
    assert [d.day for d in data.days] == ["1970-01-01", "1970-01-02"]


def test_model_source() -> None:
    cfg = seed_config()
    assert {m.name for m in cfg.models if model_source(m) == "proprietary"} == PROPRIETARY
    local = ModelConfig(name="l", provider="llamacpp", path="/x.gguf", locality="eu")
    tagged = ModelConfig(
        name="t", provider="openai", base_url="http://127.0.0.1:1/v1", locality="us", tags=["proprietary"]
    )
    assert (model_source(local), model_source(tagged), model_source(None)) == (
        "open_weight",
        "proprietary",
        "proprietary",
    )
