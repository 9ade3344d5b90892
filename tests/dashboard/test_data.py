"""dashboard.data.load against a seeded SQLite ledger; figures expected from the seed rows themselves."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from switchyard.config import ModelConfig
from switchyard.dashboard import load, model_source
from switchyard.store.sqlite import SQLiteStore

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
