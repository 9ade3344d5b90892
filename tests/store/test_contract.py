"""The store seam's contract, one suite for every implementation (``STORES``): the embedded SQLite and
PostgreSQL (a fresh database on the session's throwaway server; in CI a PostgreSQL that cannot be started
fails these tests, it never skips them). Each store is opened through ``open_store``, as the gateway and
the CLIs open it, and every read is checked against what the written records say."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from switchyard.config import ServerOptions
from switchyard.errors import Conflict
from switchyard.store.base import AttemptRecord, KeyRecord, LedgerRecord, RollupFilter
from switchyard.store.evals import EvalResult, EvalRunRecord
from switchyard.store.open import STORES, Store, open_store
from switchyard.store.responses import StoredResponse
from switchyard.store.rollups import latency_bucket
from switchyard.store.windows import DAY, utc_day

from ..conftest import fresh_database
from .test_rollups import T0
from .test_windows import WINDOWS, expected_decisions, expected_usage, trailed


def options(store: str, db_path: Path, dsn: str | None = None) -> ServerOptions:
    return ServerOptions("127.0.0.1", 0, str(db_path), 1 << 20, store=store, postgres_dsn=dsn)


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        with fresh_database(request.getfixturevalue("postgres_server")) as dsn:
            s = open_store(options("postgres", tmp_path / "unused.db", dsn))
            try:
                yield s
            finally:
                s.close()
        return
    s = open_store(options(request.param, tmp_path / "ledger.db"))
    yield s
    s.close()


def full(i: int, ts: float, **changes: object) -> LedgerRecord:
    """A record with every field set to something other than its default."""
    r = LedgerRecord(
        id=f"req_{i}", ts=ts, key_id="key_1", team="alpha", endpoint="chat", requested="auto", route="auto",
        served_model="m2", provider="openai:b", locality="eu", input_tokens=120, output_tokens=30, cached_tokens=7,
        tokens_estimated=True, cost=0.0125, latency_ms=812.5, ttft_ms=95.25, status=200, error_class=None,
        fallback_chain=["m1", "m2"], stream=True, counterfactual_cost=0.25,
        reasons=["residency: pii -> on_prem", "router: -> cheap"], classes=["pii", "health"], eval_run="run_1",
        guard="repaired",
        attempts=[
            AttemptRecord(0, ts - 1.5, "m1", "openai:a", "us", 400.0, None, "error", "UpstreamTimeout", 120, 0, 0.001,
                          None),
            AttemptRecord(1, ts - 1.0, "m2", "openai:b", "eu", 300.0, 95.25, "ok", None, 120, 12, 0.005,
                          "invalid: json"),
            AttemptRecord(2, ts - 0.5, "m2", "openai:b", "eu", 112.5, 40.0, "ok", None, 130, 30, 0.0065, "valid"),
        ],
    )  # fmt: skip
    return replace(r, **changes)  # type: ignore[arg-type]


# ledger -------------------------------------------------------------------------------------------------
def test_a_record_reads_back_as_written(store: Store) -> None:
    rec = full(1, T0 + 100.0)
    bare = LedgerRecord("req_2", T0 + 200.0, None, None, "embed", "local-embed", None, None, None, None, status=502)
    store.write([rec, bare])
    assert store.get("req_1") == rec
    assert store.get("req_2") == bare
    assert store.get("nope") is None


def test_recent_is_newest_first_and_ties_keep_the_order_written(store: Store) -> None:
    store.write([full(1, T0 + 10), full(2, T0 + 30), full(3, T0 + 20)])
    store.write([full(4, T0 + 30), full(5, T0 + 30)])
    assert [r.id for r in store.recent()] == ["req_5", "req_4", "req_2", "req_3", "req_1"]
    assert [r.id for r in store.recent(2)] == ["req_5", "req_4"]
    assert [len(r.attempts) for r in store.recent()] == [3] * 5


def test_a_replayed_batch_is_not_counted_twice(store: Store) -> None:
    """The ledger writer retries a batch whose write failed, perhaps after it was committed: records already
    in the ledger are skipped, so the rollups and the attempts never count them twice."""
    rng = random.Random(3)
    batch = [trailed(i, rng) for i in range(40)]
    store.write(batch)
    store.write(batch)  # all replayed
    more = [trailed(i, rng) for i in range(40, 60)]
    store.write(batch[30:] + more + more[:3])  # some replayed, some new, some twice in one batch
    records = batch + more
    assert sum(d.requests for d in store.daily(RollupFilter())) == len(records)
    assert {r.id: len(r.attempts) for r in store.recent(1000)} == {r.id: len(r.attempts) for r in records}
    got = {(c.route, c.model, c.reason): c.requests for c in store.decisions_window(T0 - DAY, T0 + 9 * DAY)}
    assert got == dict(expected_decisions(records, T0 - DAY, T0 + 9 * DAY))
    latency = sum(c.requests for c in store.latency_histogram(RollupFilter()))
    assert latency == sum(1 for r in records if r.status < 400 and r.served_model is not None)
    spend = store.spend_by_scope(T0)
    for key in ("k1", "k2"):
        assert spend[f"key:{key}"] == pytest.approx(sum(r.cost for r in records if r.key_id == key))


@pytest.fixture
def ledger(store: Store) -> tuple[Store, list[LedgerRecord]]:
    rng = random.Random(11)
    records = [trailed(i, rng) for i in range(600)]
    for i in range(0, len(records), 150):
        store.write(records[i : i + 150])
    return store, records


def test_usage_and_spend_by_scope(ledger: tuple[Store, list[LedgerRecord]]) -> None:
    store, records = ledger
    for since in (None, T0 + 1.5 * DAY, T0 + 2 * DAY):
        for team in (None, "a", "nobody"):
            got = {(u.day, u.team, u.model): (u.requests, u.errors, u.input_tokens, u.output_tokens, u.cached_tokens)
                   for u in store.usage(since, team=team)}  # fmt: skip
            cost = {(u.day, u.team, u.model): u.cost for u in store.usage(since, team=team)}
            want: dict[tuple[str, str, str], list[float]] = {}
            for r in records:
                if (since is None or r.ts >= since) and (team is None or r.team == team):
                    key = (utc_day(r.ts), r.team or "-", r.served_model or r.requested)
                    w = want.setdefault(key, [0, 0, 0, 0, 0, 0.0])
                    for i, v in enumerate((1, r.status >= 400, r.input_tokens, r.output_tokens, r.cached_tokens,
                                           r.cost)):  # fmt: skip
                        w[i] += v
            assert got == {k: tuple(int(x) for x in v[:5]) for k, v in want.items()}, (since, team)
            assert cost == pytest.approx({k: v[5] for k, v in want.items()})
    since = T0 + 2.5 * DAY
    spend = store.spend_by_scope(since)
    want_spend: dict[str, float] = {}
    for r in records:
        for scope in ([f"team:{r.team}"] if r.team else []) + ([f"key:{r.key_id}"] if r.key_id else []):
            if r.ts >= since:
                want_spend[scope] = want_spend.get(scope, 0.0) + r.cost
    assert spend == pytest.approx(want_spend)


def test_daily_latency_and_peak_minute(ledger: tuple[Store, list[LedgerRecord]]) -> None:
    store, records = ledger
    days = utc_day(T0 + DAY), utc_day(T0 + 3 * DAY)
    f = RollupFilter(*days, team="b", route="auto")
    mine = [r for r in records if days[0] <= utc_day(r.ts) <= days[1] and r.team == "b" and r.route == "auto"]
    by_model = {(d.day, d.model): (d.requests, d.errors, d.sensitive) for d in store.daily(f, ("day", "model"))}
    want: Counter[tuple[str, str]] = Counter()
    errors: Counter[tuple[str, str]] = Counter()
    sensitive: Counter[tuple[str, str]] = Counter()
    for r in mine:
        key = (utc_day(r.ts), r.served_model or r.requested)
        want[key] += 1
        errors[key] += r.status >= 400
        sensitive[key] += bool(r.classes)
    assert by_model == {k: (n, errors[k], sensitive[k]) for k, n in want.items()}
    assert [(d.model, d.day) for d in store.daily(f, ("model", "day"))] == sorted((m, d) for d, m in want)
    assert all(d.team == "" and d.provider == "" for d in store.daily(f, ("day", "model")))
    with pytest.raises(ValueError):
        store.daily(f, ("colour",))
    histogram = {(c.model, c.bucket): c.requests for c in store.latency_histogram(RollupFilter(*days, team="b"))}
    want_latency: Counter[tuple[str, int]] = Counter()
    for r in records:  # the histogram is not split by team or route
        if days[0] <= utc_day(r.ts) <= days[1] and r.status < 400 and r.served_model is not None:
            want_latency[(r.served_model, latency_bucket(r.latency_ms))] += 1
    assert histogram == dict(want_latency)
    per_minute = Counter(int(r.ts // 60) for r in records if T0 + DAY <= r.ts < T0 + 2 * DAY)
    assert store.peak_minute_requests(T0 + DAY, T0 + 2 * DAY - 60) == max(per_minute.values())
    assert store.peak_minute_requests(T0 - 5 * DAY, T0 - 4 * DAY) == 0


def test_windows_equal_the_rows_for_every_team_and_all(ledger: tuple[Store, list[LedgerRecord]]) -> None:
    store, records = ledger
    for team in (None, "a", "nobody"):
        mine = [r for r in records if team is None or r.team == team]
        for since, until in WINDOWS:
            want = expected_usage(mine, since, until)
            got = {
                (d.day, d.team, d.route, d.model, d.provider, d.locality): (
                    d.requests, d.errors, d.sensitive, d.input_tokens, d.output_tokens, d.cached_tokens, d.cost,
                    d.counterfactual_cost, d.latency_ms_sum,
                )
                for d in store.usage_window(since, until, team=team)
            }  # fmt: skip
            assert got.keys() == want.keys(), (team, since - T0, until - T0)
            for key, values in want.items():
                assert got[key][:6] == values[:6], key
                assert got[key][6:] == pytest.approx(values[6:], rel=1e-9, abs=1e-9), key
            by_route = {d.route: d.requests for d in store.usage_window(since, until, ("route",), team=team)}
            routes: Counter[str] = Counter()
            for key, values in want.items():
                routes[key[2]] += int(values[0])
            assert by_route == dict(routes)
            decisions = {
                (c.route, c.model, c.reason): c.requests for c in store.decisions_window(since, until, team=team)
            }
            assert decisions == dict(expected_decisions(mine, since, until)), (team, since - T0, until - T0)
            failed = sorted((r for r in mine if since <= r.ts < until and r.status >= 400), key=lambda r: -r.ts)
            errors = store.recent_errors(since, until, 20, team=team)
            assert [e.id for e in errors] == [r.id for r in failed[:20]]
            assert all(e.status >= 400 and e.attempts for e in errors)


# keys ---------------------------------------------------------------------------------------------------
def test_keys_add_find_list_revoke(store: Store) -> None:
    first = KeyRecord("key_1", "alpha", "ci", "sy-abcdefg", "f" * 64, ("admin", "usage:read"), T0)
    second = KeyRecord("key_2", "beta", "", "sy-hijklmn", "e" * 64, (), T0 + 1)
    store.add_key(second)
    store.add_key(first)
    assert store.find_key("f" * 64) == first and store.find_key("0" * 64) is None
    assert store.list_keys() == [first, second]
    assert store.revoke_key("key_1") and not store.revoke_key("key_1") and not store.revoke_key("key_9")
    found = store.find_key("f" * 64)
    assert found is not None and found.revoked
    assert [k.revoked for k in store.list_keys()] == [True, False]
    with pytest.raises(Exception):  # noqa: B017 - each store's own integrity error: the id is taken
        store.add_key(first)


# eval runs ----------------------------------------------------------------------------------------------
def run(name: str, created: float = 1.0) -> EvalRunRecord:
    return EvalRunRecord(
        id=f"id-{name}", name=name, created=created, set_name="qa.jsonl", set_digest="d" * 64,
        targets=["cheap", "premium"], team="evals", items=2, kind="run", meta={"concurrency": 4, "nested": {"b": [1]}},
    )  # fmt: skip


def test_eval_runs_and_results(store: Store) -> None:
    store.create_eval_run(run("r1"))
    store.create_eval_run(replace(run("r2", created=2.0), kind="shadow"))
    with pytest.raises(Conflict):
        store.create_eval_run(run("r1"))
    assert store.find_eval_run("r1") == run("r1") and store.find_eval_run("id-r1") == run("r1")
    assert store.find_eval_run("nope") is None
    assert [r.name for r in store.eval_runs()] == ["r2", "r1"] and [r.name for r in store.eval_runs(1)] == ["r2"]
    answered = EvalResult(
        "id-r1", "q1", "cheap", 2.0, request_id="req", served_model="m", answer="B — ß", score=1.0, passed=True,
        input_tokens=10, output_tokens=1, cost=0.001, latency_ms=12.5, detail="exact", extra={"judge_prompt": "v1"},
        tool_calls=[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    )  # fmt: skip
    failed = EvalResult("id-r1", "q2", "cheap", 3.0, error="UpstreamTimeout: slow")
    other = EvalResult("id-r1", "Q0", "premium", 3.5, answer="A", score=0.0, passed=False)
    store.add_eval_results([answered, failed, other])
    store.add_eval_results([])
    assert store.eval_results("id-r1") == [other, answered, failed]  # byte order: "Q0" before "q1"
    retried = EvalResult("id-r1", "q2", "cheap", 4.0, answer="A", score=0.0, passed=False)
    store.add_eval_results([retried])
    assert store.eval_results("id-r1") == [other, answered, retried]
    assert store.eval_results("id-r2") == []


def test_eval_spend_counts_calls_made_for_runs(store: Store) -> None:
    store.write([
        full(1, T0 + 10, eval_run="id-r1", cost=0.5),
        full(2, T0 + DAY + 10, eval_run="id-r1", cost=0.25, team="beta"),
        full(3, T0 + DAY + 20, eval_run="id-r2", cost=1.0),
        full(4, T0 + DAY + 30, eval_run=None, cost=8.0),
    ])  # fmt: skip
    spend = store.eval_spend(RollupFilter())
    assert (spend.requests, spend.cost, spend.runs) == (3, pytest.approx(1.75), 2)
    day2 = store.eval_spend(RollupFilter(since_day=utc_day(T0 + DAY), team="alpha"))
    assert (day2.requests, day2.cost, day2.runs) == (1, pytest.approx(1.0), 1)
    assert store.eval_spend(RollupFilter(route="nope")).requests == 0


# guard --------------------------------------------------------------------------------------------------
def test_guard_stats(store: Store) -> None:
    def checked(i: int, route: str | None, guard: str | None, checks: list[str | None]) -> LedgerRecord:
        attempts = [
            AttemptRecord(n, T0, f"m{n}", "p", "us", 10.0, None, "ok", None, 10, 5, 0.1 * (n + 1), c)
            for n, c in enumerate(checks)
        ]
        return full(i, T0 + i, route=route, guard=guard, attempts=attempts)

    store.write([
        checked(1, "json", "repaired", ["invalid: json", "valid"]),
        checked(2, "json", "valid", ["valid"]),
        checked(3, "json", "failed", ["invalid: schema", "invalid: json"]),
        checked(4, None, "escalated", ["invalid: tool", "valid"]),
        checked(5, "json", None, [None]),
        replace(checked(6, "json", "valid", ["valid"]), ts=T0 + 3 * DAY),
    ])  # fmt: skip
    stats = store.guard_stats(RollupFilter(until_day=utc_day(T0 + DAY)))
    checks = {(c.route, c.model): (c.checked, c.invalid, round(c.refused_cost, 6)) for c in stats.checks}
    assert checks == {("", "m0"): (1, 1, 0.1), ("", "m1"): (1, 0, 0.0), ("json", "m0"): (3, 2, 0.2),
                      ("json", "m1"): (2, 1, 0.2)}  # fmt: skip
    assert [c.route for c in stats.checks] == ["", "", "json", "json"]
    delivered = {d.route: d.outcomes for d in stats.delivered}
    assert delivered == {"": {"escalated": 1}, "json": {"failed": 1, "repaired": 1, "valid": 1}}
    assert store.guard_stats(RollupFilter(route="json")).delivered[0].outcomes["valid"] == 2
    assert store.guard_stats(RollupFilter(team="nobody")).checks == []


# stored responses ---------------------------------------------------------------------------------------
def stored(rid: str, team: str = "a", created: float = 100.0, ttl: float = 50.0) -> StoredResponse:
    return StoredResponse(
        id=rid, team=team, key_id=f"key_{team}", created=created, expires=created + ttl,
        messages=[{"role": "user", "content": "héllo"}, {"role": "assistant", "content": "hi"}],
        body={"id": rid, "object": "response", "output": [], "z": 1, "a": 2},
    )  # fmt: skip


def test_responses_put_find_delete_per_team(store: Store) -> None:
    store.put_response(stored("resp_1"))
    found = store.find_response("resp_1", "a", now=120.0)
    assert found == stored("resp_1") and found is not None and list(found.body) == ["id", "object", "output", "z", "a"]
    assert store.find_response("resp_1", "b", now=120.0) is None
    assert store.find_response("resp_2", "a", now=120.0) is None
    assert not store.delete_response("resp_1", "b")
    assert store.delete_response("resp_1", "a")
    assert store.find_response("resp_1", "a", now=120.0) is None
    assert not store.delete_response("resp_1", "a")
    store.put_response(stored("resp_3"))
    store.put_response(replace(stored("resp_3"), body={"id": "resp_3", "v": 2}))  # the same id again replaces it
    again = store.find_response("resp_3", "a", now=120.0)
    assert again is not None and again.body == {"id": "resp_3", "v": 2}


def test_expired_responses_are_not_found_and_go_when_new_ones_come(store: Store) -> None:
    store.put_response(stored("resp_old", created=100.0, ttl=50.0))  # expires at 150
    store.put_response(stored("resp_other_team", team="b", created=100.0, ttl=50.0))
    assert store.find_response("resp_old", "a", now=149.0) is not None
    assert store.find_response("resp_old", "a", now=150.0) is None
    store.put_response(stored("resp_new", created=160.0))
    # every team's expired ones went: even with a clock that reads them as live, they are not found
    assert store.find_response("resp_old", "a", now=120.0) is None
    assert store.find_response("resp_other_team", "b", now=120.0) is None
    assert store.find_response("resp_new", "a", now=170.0) is not None
