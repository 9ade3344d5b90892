"""Time-window reads (``usage_window``, ``decisions_window``, ``recent_errors``): whole days from the
rollups, part-days from the rows, always equal to the rows of the window; and the ``decisions_daily``
rollup: never counted twice, filled by its migration."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from switchyard.reasons import reason_codes
from switchyard.store.base import DAILY_DIMENSIONS, LedgerRecord
from switchyard.store.migrations import MIGRATIONS, _apply
from switchyard.store.sqlite import SQLiteStore, utc_day
from switchyard.store.windows import DAY, plan_window
from tests.store.test_rollups import T0, varied

TRAILS = [
    ([], ["m1"]),
    ([], ["m2", "m1"]),
    (["residency: pii -> on_prem"], ["m1"]),
    (["budget: downgraded past gpt-4o", "router: -> cheap"], ["m2"]),
    (["something new"], ["m1", "m2"]),
]
# Windows over the five days of records: starting and ending mid-day (early, late), at midnight, inside
# one day, past the last record, and empty.
WINDOWS = [
    (T0 + 0.1 * DAY, T0 + 3.9 * DAY),
    (T0 + 0.9 * DAY, T0 + 2.2 * DAY),
    (T0 + 1.5 * DAY, T0 + 4.5 * DAY),
    (T0 + DAY, T0 + 3 * DAY),
    (T0 + 2.2 * DAY, T0 + 2.7 * DAY),
    (T0 + 2.05 * DAY, T0 + 2.95 * DAY),
    (T0 - 3 * DAY, T0 + 9.5 * DAY),
    (T0 + 3.5 * DAY, T0 + 3.5 * DAY),
]


def trailed(i: int, rng: random.Random) -> LedgerRecord:
    reasons, chain = TRAILS[rng.randrange(len(TRAILS))]
    return replace(varied(i, rng), id=f"w{i:05d}", reasons=list(reasons), fallback_chain=list(chain))


def expected_usage(records: list[LedgerRecord], since: float, until: float) -> dict[tuple[str, ...], tuple[float, ...]]:
    out: dict[tuple[str, ...], list[float]] = {}
    for r in records:
        if since <= r.ts < until:
            key = (utc_day(r.ts), r.team or "", r.route or "", r.served_model or r.requested, r.provider or "",
                   r.locality or "")  # fmt: skip
            t = out.setdefault(key, [0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0])
            for i, v in enumerate((1, r.status >= 400, bool(r.classes), r.input_tokens, r.output_tokens,
                                   r.cached_tokens, r.cost, r.counterfactual_cost, r.latency_ms)):  # fmt: skip
                t[i] += v
    return {k: tuple(v) for k, v in out.items()}


def expected_decisions(records: list[LedgerRecord], since: float, until: float) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for r in records:
        if since <= r.ts < until:
            for code in reason_codes(r.reasons, route=r.route, fallback_chain=r.fallback_chain):
                out[(r.route or "", r.served_model or "", code)] += 1
    return out


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[SQLiteStore, list[LedgerRecord]]:
    rng = random.Random(11)
    records = [trailed(i, rng) for i in range(1500)]
    store = SQLiteStore(tmp_path / "l.db")
    for i in range(0, len(records), 200):
        store.write(records[i : i + 200])
    return store, records


def test_usage_window_equals_the_rows(ledger: tuple[SQLiteStore, list[LedgerRecord]]) -> None:
    store, records = ledger
    for since, until in WINDOWS:
        want = expected_usage(records, since, until)
        got = {
            (d.day, d.team, d.route, d.model, d.provider, d.locality): (
                d.requests, d.errors, d.sensitive, d.input_tokens, d.output_tokens, d.cached_tokens, d.cost,
                d.counterfactual_cost, d.latency_ms_sum,
            )
            for d in store.usage_window(since, until)
        }  # fmt: skip
        assert got.keys() == want.keys(), (since - T0, until - T0)
        for key, values in want.items():
            assert got[key][:6] == values[:6], key  # counts are exact
            assert got[key][6:] == pytest.approx(values[6:], rel=1e-9, abs=1e-9), key
        by_team = {d.team: d.requests for d in store.usage_window(since, until, ("team",))}
        teams: Counter[str] = Counter()
        for key, values in want.items():
            teams[key[1]] += int(values[0])
        assert by_team == dict(teams)
    store.close()


def test_both_ways_of_reading_an_edge_are_exercised(ledger: tuple[SQLiteStore, list[LedgerRecord]]) -> None:
    store, _ = ledger
    counted = store._query("SELECT minute, requests FROM requests_minutely")

    def rows_between(lo: float, hi: float) -> int:
        return sum(n for m, n in counted if lo // 60 <= m < -(-hi // 60))

    plans = [plan_window(since, until, rows_between) for since, until in WINDOWS]
    assert any(p.subtract for p in plans) and any(p.add for p in plans)
    # an early start reads the day minus its first hours; a late one reads its last hours
    early, late = plans[0], plans[1]
    assert early.subtract[0] == (T0, T0 + 0.1 * DAY) and early.days is not None and early.days[0] == T0
    assert late.add[0] == (T0 + 0.9 * DAY, T0 + DAY)
    store.close()


def test_plan_window_shapes() -> None:
    def uniform(lo: float, hi: float) -> int:
        return int(hi - lo)

    assert plan_window(T0, T0 + 2 * DAY, uniform).days == (T0, T0 + 2 * DAY)
    inside = plan_window(T0 + 0.4 * DAY, T0 + 0.5 * DAY, uniform)
    assert (inside.days, inside.add, inside.subtract) == (None, ((T0 + 0.4 * DAY, T0 + 0.5 * DAY),), ())
    most = plan_window(T0 + 0.1 * DAY, T0 + 0.9 * DAY, uniform)
    assert most.days == (T0, T0 + DAY) and most.subtract == ((T0, T0 + 0.1 * DAY), (T0 + 0.9 * DAY, T0 + DAY))
    # "the last 24 hours" at 06:00, nothing written after now: today is its rollup minus the (empty) rest
    # of the day, yesterday its rollup minus its first six hours
    now = T0 + 3.25 * DAY
    last = plan_window(now - DAY, now, lambda lo, hi: 0 if lo >= now else int(hi - lo))
    assert last.days == (T0 + 2 * DAY, T0 + 4 * DAY) and last.add == ()
    assert last.subtract == ((T0 + 2 * DAY, now - DAY), (now, T0 + 4 * DAY))
    assert plan_window(T0 + 5, T0 + 5, uniform).days is None


def test_decisions_window_equals_the_rows(ledger: tuple[SQLiteStore, list[LedgerRecord]]) -> None:
    store, records = ledger
    for since, until in WINDOWS:
        got = {(c.route, c.model, c.reason): c.requests for c in store.decisions_window(since, until)}
        assert got == dict(expected_decisions(records, since, until)), (since - T0, until - T0)
    store.close()


def test_recent_errors_are_the_windows_newest_failures(ledger: tuple[SQLiteStore, list[LedgerRecord]]) -> None:
    store, records = ledger
    since, until = WINDOWS[2]
    failed = sorted((r for r in records if since <= r.ts < until and r.status >= 400), key=lambda r: -r.ts)
    assert [e.id for e in store.recent_errors(since, until, 20)] == [r.id for r in failed[:20]]
    assert store.recent_errors(T0 + 10 * DAY, T0 + 11 * DAY) == []
    plan = store._query(
        "EXPLAIN QUERY PLAN SELECT id FROM requests INDEXED BY requests_errors WHERE status >= 400 AND ts >= ? "
        "AND ts < ? ORDER BY ts DESC, rowid DESC LIMIT 5",
        (since, until),
    )
    assert "requests_errors" in str(plan) and "TEMP B-TREE" not in str(plan)
    store.close()


def test_a_team_filter_reads_that_teams_rows_only(ledger: tuple[SQLiteStore, list[LedgerRecord]]) -> None:
    """Every window read narrowed to one team equals that team's rows alone (issue 11: a usage reader of
    one team must not get the others' figures), whole days and edges alike."""
    store, records = ledger
    for team in ("a", "b", "nobody"):
        mine = [r for r in records if r.team == team]
        for since, until in WINDOWS:
            got = {
                (d.day, d.team, d.route, d.model, d.provider, d.locality): (d.requests, d.errors, d.input_tokens)
                for d in store.usage_window(since, until, team=team)
            }
            want = {k: (int(v[0]), int(v[1]), int(v[3])) for k, v in expected_usage(mine, since, until).items()}
            assert got == want, (team, since - T0, until - T0)
            decisions = {
                (c.route, c.model, c.reason): c.requests for c in store.decisions_window(since, until, team=team)
            }
            assert decisions == dict(expected_decisions(mine, since, until)), (team, since - T0, until - T0)
            failed = sorted((r for r in mine if since <= r.ts < until and r.status >= 400), key=lambda r: -r.ts)
            assert [e.id for e in store.recent_errors(since, until, 20, team=team)] == [r.id for r in failed[:20]]
        since = T0 + 1.5 * DAY  # a leading part-day read from the rows, then whole days from the rollup
        usage = {(u.day, u.model): (u.requests, u.errors) for u in store.usage(since, team=team)}
        want_usage: Counter[tuple[str, str]] = Counter()
        want_errors: Counter[tuple[str, str]] = Counter()
        for r in mine:
            if r.ts >= since:
                want_usage[(utc_day(r.ts), r.served_model or r.requested)] += 1
                want_errors[(utc_day(r.ts), r.served_model or r.requested)] += r.status >= 400
        assert usage == {k: (n, want_errors[k]) for k, n in want_usage.items()}, team
        assert {u.team for u in store.usage(since, team=team)} <= {team}
    plan = store._query(
        "EXPLAIN QUERY PLAN SELECT id FROM requests INDEXED BY requests_team_errors WHERE status >= 400 "
        "AND team = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, rowid DESC LIMIT 5",
        ("a", *WINDOWS[2]),
    )
    assert "requests_team_errors" in str(plan) and "TEMP B-TREE" not in str(plan)
    store.close()


def test_a_replayed_record_is_not_counted_twice_in_decisions(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    rng = random.Random(5)
    batch = [trailed(i, rng) for i in range(40)]
    store.write(batch)
    extra = trailed(99, rng)
    store.write([*batch[10:], extra])  # a replayed batch with one new record
    store.write(batch[:3])  # replayed alone
    everything = [*batch, extra]
    got = {(c.route, c.model, c.reason): c.requests for c in store.decisions_window(0, T0 + 100 * DAY)}
    assert got == dict(expected_decisions(everything, 0, T0 + 100 * DAY))
    stored = store._query("SELECT SUM(requests) FROM decisions_daily")[0][0]
    assert stored == sum(
        len(reason_codes(r.reasons, route=r.route, fallback_chain=r.fallback_chain)) for r in everything
    )
    store.close()


def test_migration_folds_existing_rows_into_decisions(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    for name, step in MIGRATIONS:
        if name == "0007_decisions_daily":
            break
        _apply(conn, name, step)
    rng = random.Random(8)
    old = [trailed(i, rng) for i in range(400)]
    for r in old:  # rows written by a switchyard before decisions_daily existed
        conn.execute(
            "INSERT INTO requests (id, ts, day, key_id, team, endpoint, requested, route, served_model, provider, "
            "locality, status, reasons, fallback_chain) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r.id, r.ts, utc_day(r.ts), r.key_id, r.team, r.endpoint, r.requested, r.route, r.served_model,
             r.provider, r.locality, r.status, "\n".join(r.reasons), ",".join(r.fallback_chain)),
        )  # fmt: skip
    conn.close()
    store = SQLiteStore(db)  # applies 0007 and the later ones (0009 builds decisions_daily again, by team)
    names = [row[0] for row in store._query("SELECT name FROM schema_migrations ORDER BY name")]
    assert names[names.index("0007_decisions_daily") :] == [name for name, _ in MIGRATIONS[6:]]
    assert names[6:10] == [
        "0007_decisions_daily",
        "0008_requests_errors",
        "0009_decisions_by_team",
        "0010_requests_team_errors",
    ]
    new = [replace(trailed(1000 + i, rng), ts=T0 + 6 * DAY + i) for i in range(30)]
    store.write(new)
    for since, until in ((0.0, T0 + 10 * DAY), WINDOWS[0]):
        got = {(c.route, c.model, c.reason): c.requests for c in store.decisions_window(since, until)}
        assert got == dict(expected_decisions([*old, *new], since, until))
        for team in ("a", "b"):
            mine = [r for r in (*old, *new) if r.team == team]
            got = {(c.route, c.model, c.reason): c.requests for c in store.decisions_window(since, until, team=team)}
            assert got == dict(expected_decisions(mine, since, until)), team
    # the whole days come from the rollup alone
    days = store._query("SELECT day, SUM(requests) FROM decisions_daily GROUP BY 1")
    assert len(days) >= 5 and all(n > 0 for _, n in days)
    store.close()


def test_group_by_is_checked(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    with pytest.raises(ValueError):
        store.usage_window(T0, T0 + DAY, ("colour",))
    assert store.usage_window(T0, T0 + DAY, DAILY_DIMENSIONS) == []
    store.close()


def test_a_window_is_read_from_one_state_while_another_connection_writes(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    store = SQLiteStore(db)
    rng = random.Random(2)
    base = [replace(trailed(i, rng), ts=T0 + 2 * DAY + i * 60) for i in range(600)]  # day 2, 00:00-10:00
    store.write(base)
    since, until = T0 + 0.5 * DAY, T0 + 2.3 * DAY  # ends at 07:12: the rest of day 2 gets written meanwhile
    want = sum(1 for r in base if since <= r.ts < until)
    done = threading.Event()

    def writer() -> None:
        other = SQLiteStore(db)  # another connection, as another process would have
        for b in range(40):
            other.write([replace(trailed(10_000 + b * 25 + i, rng), ts=T0 + 2.5 * DAY + b * 25 + i) for i in range(25)])
        other.close()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    while not done.is_set():
        seen.append(sum(d.requests for d in store.usage_window(since, until, ("team",))))
    thread.join()
    assert seen and set(seen) == {want}
    store.close()
