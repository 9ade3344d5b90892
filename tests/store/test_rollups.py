"""The ledger's rollups: always the exact sum of the rows, whatever the writers do."""

from __future__ import annotations

import random
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from switchyard.store.base import LedgerRecord, RollupFilter
from switchyard.store.migrations import MIGRATIONS, _apply
from switchyard.store.rollups import LATENCY_EDGES_MS, bucket_bounds, latency_bucket
from switchyard.store.sqlite import SQLiteStore, utc_day
from tests.store.test_sqlite import record

DAY = 86400.0
T0 = 1_780_000_000.0 // DAY * DAY  # a UTC midnight


def varied(i: int, rng: random.Random) -> LedgerRecord:
    r = record(i, team=rng.choice(["a", "b", "c"]), cost=rng.random(), ts=T0 + rng.random() * 5 * DAY)
    return replace(
        r,
        key_id=rng.choice(["k1", "k2", None]),
        route=rng.choice(["auto", "cheap", None]),
        served_model=rng.choice(["m1", "m2", None]),
        locality=rng.choice(["us", "on_prem"]),
        input_tokens=rng.randrange(1, 2000),
        output_tokens=rng.randrange(0, 500),
        cached_tokens=rng.randrange(0, 50),
        counterfactual_cost=rng.random() * 3,
        latency_ms=rng.lognormvariate(5, 1),
        status=rng.choice([200, 200, 200, 502, 429]),
        classes=rng.choice([[], [], ["pii"]]),
    )


def raw_totals(db: Path) -> dict[tuple[str, str, str], tuple[int, int, int, int, float, float]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        """SELECT day, COALESCE(team, ''), COALESCE(served_model, requested), COUNT(*), SUM(status >= 400),
                  SUM(input_tokens), SUM(output_tokens), ROUND(SUM(cost), 6), ROUND(SUM(counterfactual_cost), 6)
           FROM requests GROUP BY 1, 2, 3"""
    ).fetchall()
    conn.close()
    return {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}  # type: ignore[misc]


def rollup_totals(store: SQLiteStore) -> dict[tuple[str, str, str], tuple[int, int, int, int, float, float]]:
    out: dict[tuple[str, str, str], list[float]] = {}
    for d in store.daily(RollupFilter()):
        t = out.setdefault((d.day, d.team, d.model), [0, 0, 0, 0, 0.0, 0.0])
        for i, v in enumerate((d.requests, d.errors, d.input_tokens, d.output_tokens, d.cost, d.counterfactual_cost)):
            t[i] += v
    return {k: (int(v[0]), int(v[1]), int(v[2]), int(v[3]), round(v[4], 6), round(v[5], 6)) for k, v in out.items()}


def test_rollups_equal_the_ledger_under_concurrent_writers(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    SQLiteStore(db).close()
    rng = random.Random(7)
    batches = [[varied(b * 1000 + i, rng) for i in range(150)] for b in range(12)]

    def writer(mine: list[list[LedgerRecord]]) -> None:
        store = SQLiteStore(db)  # one connection per writer, like separate processes
        for batch in mine:
            store.write(batch)
        store.close()

    threads = [threading.Thread(target=writer, args=(batches[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = SQLiteStore(db)
    assert raw_totals(db) == rollup_totals(store)
    assert sum(d.requests for d in store.daily(RollupFilter())) == 1800
    ok = sum(1 for b in batches for r in b if r.status < 400 and r.served_model)
    assert sum(c.requests for c in store.latency_histogram(RollupFilter())) == ok
    store.close()


def test_a_replayed_batch_is_not_counted_twice(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    batch = [record(i, ts=T0 + i) for i in range(10)]
    store.write(batch)
    store.write([*batch[5:], record(99, ts=T0 + 99)])
    (row,) = store.daily(RollupFilter())
    assert row.requests == 11 and row.cost == pytest.approx(5.5)
    assert len(store.recent(100)) == 11
    store.close()


def test_migration_folds_existing_rows_into_the_rollups(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    for name, sql in MIGRATIONS:
        if name == "0005_rollups":
            break
        _apply(conn, name, sql)
    rng = random.Random(3)
    records = [varied(i, rng) for i in range(300)]
    # rows written by a switchyard before the rollups existed
    for r in records:
        conn.execute(
            "INSERT INTO requests (id, ts, day, key_id, team, endpoint, requested, route, served_model, provider, "
            "locality, input_tokens, output_tokens, cost, latency_ms, status, counterfactual_cost, classes) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r.id, r.ts, utc_day(r.ts), r.key_id, r.team, r.endpoint, r.requested, r.route, r.served_model,
             r.provider, r.locality, r.input_tokens, r.output_tokens, r.cost, r.latency_ms, r.status,
             r.counterfactual_cost, ",".join(r.classes)),
        )  # fmt: skip
    conn.close()
    store = SQLiteStore(db)  # applies 0005
    assert raw_totals(db) == rollup_totals(store)
    # the SQL bucketing of the migration agrees with the Python one used for new rows
    expected: dict[tuple[str, int], int] = {}
    for r in records:
        if r.status < 400 and r.served_model:
            key = (r.served_model, latency_bucket(r.latency_ms))
            expected[key] = expected.get(key, 0) + 1
    got = {(c.model, c.bucket): c.requests for c in store.latency_histogram(RollupFilter())}
    assert got == expected
    store.close()


def test_budget_spend_reads_whole_days_from_rollups_and_a_part_day_from_the_ledger(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    store.write(
        [
            record(1, team="a", cost=1.0, ts=T0 - 10),  # the day before
            record(2, team="a", cost=2.0, ts=T0 + 100),
            record(3, team="a", cost=4.0, ts=T0 + 7200),
            record(4, team="b", cost=8.0, ts=T0 + DAY + 5),
        ]
    )
    assert store.spend_by_scope(T0) == {"team:a": 6.0, "team:b": 8.0, "key:k": 14.0}
    assert store.spend_by_scope(T0 + 3600) == {"team:a": 4.0, "team:b": 8.0, "key:k": 12.0}
    usage = {(u.day, u.team): u.requests for u in store.usage(T0 + 3600)}
    assert usage == {(utc_day(T0), "a"): 1, (utc_day(T0 + DAY), "b"): 1}
    store.close()


def test_filters_and_peak_minute(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    recs = [replace(record(i, team="a" if i % 2 else "b", ts=T0 + 60 * 3 + i * 0.1), route="x") for i in range(30)]
    recs.append(replace(record(100, team="a", ts=T0 + DAY + 1), route="y"))
    store.write(recs)
    assert {d.team for d in store.daily(RollupFilter(team="a"))} == {"a"}
    assert sum(d.requests for d in store.daily(RollupFilter(route="y"))) == 1
    assert sum(d.requests for d in store.daily(RollupFilter(until_day=utc_day(T0)))) == 30
    assert sum(d.requests for d in store.daily(RollupFilter(since_day=utc_day(T0 + DAY)))) == 1
    assert store.peak_minute_requests(T0, T0 + 2 * DAY) == 30
    assert store.peak_minute_requests(T0 + DAY, T0 + 2 * DAY) == 1
    store.close()


def test_latency_buckets_are_ten_a_decade() -> None:
    assert latency_bucket(0.5) == 0 and latency_bucket(1.3) == 1
    assert latency_bucket(100.0) == 20  # 10^(20/10)
    assert latency_bucket(10**7) == len(LATENCY_EDGES_MS)
    for ms in (0.7, 3.0, 42.0, 999.0, 12_345.0):
        low, high = bucket_bounds(latency_bucket(ms))
        assert low <= ms < high


def test_writes_keep_the_ledger_rows_intact(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    rng = random.Random(1)
    recs = [varied(i, rng) for i in range(50)]
    store.write(recs)
    got = store.get(recs[7].id)
    assert got is not None and got.classes == recs[7].classes and got.status == recs[7].status
    assert got.input_tokens == recs[7].input_tokens and got.latency_ms == pytest.approx(recs[7].latency_ms)
    store.close()
