"""Two gateway replicas (``switchyard serve --workers 2`` each, on its own port) on one PostgreSQL and one
Redis, under concurrent load spread over both: the deployment the design promises for "more than one
machine", started as an operator would.

What is checked: a team's request budget (in Redis) admits exactly its limit across the four workers, the
rest are refused with 429; the shared PostgreSQL ledger has exactly one row per answered request (a budget
refusal comes before routing, so it has no ledger row: it is counted by ``switchyard_http_errors``); and the
``switchyard_requests_total`` the two replicas' ``/metrics`` report (each scrape: its machine's workers)
add up to the ledger's rows. PostgreSQL and Redis come from the session fixtures: without them the test
skips on a workstation and fails in CI (``CI=true``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families

from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY, PostgresServer, fresh_database
from tests.server.test_workers import Workers, chat, model_config, requests_total, requests_total_of, serve_workers

LIMIT = 20  # the team's requests per minute
BUDGETED = 60  # requests with the team's key: LIMIT admitted, the rest refused
UNBUDGETED = 40  # requests with the admin key (no budget) in the same load
THREADS = 16
METRICS_TIMEOUT = 10.0  # each worker writes its snapshot every second
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def start_of_a_minute_with_room(seconds_needed: float = 20.0) -> None:
    """Budgets count per UTC minute: wait for the next minute when this one ends before the load would."""
    into = time.time() % 60
    if into > 60 - seconds_needed:
        time.sleep(60 - into + 0.2)


def http_errors(exposition: str, status: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "switchyard_http_errors"
        for s in family.samples
        if s.name == "switchyard_http_errors_total" and s.labels["status"] == status
    )


def scrape_totals(replicas: list[Workers]) -> tuple[float, float]:
    """``switchyard_requests_total`` and 429 ``switchyard_http_errors_total``, summed over the replicas: one
    scrape of each on a fresh connection (whichever worker answers reports its machine's totals)."""
    answered = refused = 0.0
    for replica in replicas:
        text = httpx.get(replica.url + "/metrics", timeout=10).text
        answered += requests_total(text)
        refused += http_errors(text, "429")
    return answered, refused


def wait_for_metrics(replicas: list[Workers], expected: tuple[float, float]) -> tuple[float, float]:
    deadline = time.monotonic() + METRICS_TIMEOUT
    totals = scrape_totals(replicas)
    while totals != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        totals = scrape_totals(replicas)
    return totals


def ledger_statuses(dsn: str) -> dict[tuple[int, str], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT status, team, COUNT(*) FROM requests GROUP BY status, team").fetchall()
    return {(int(status), str(team)): int(n) for status, team, n in rows}


def test_two_replicas_share_budgets_ledger_and_metrics(
    tmp_path: Path, postgres_server: PostgresServer, redis_url: str
) -> None:
    with redis.Redis.from_url(redis_url) as r:
        r.flushdb()
    with fresh_database(postgres_server) as dsn, MockUpstream(record=False) as upstream, ExitStack() as stack:
        cfg = model_config(upstream, budgets=[{"team": "t", "requests_per_minute": LIMIT}])
        env = {
            "SWITCHYARD_STORE": "postgres",
            "SWITCHYARD_POSTGRES_DSN": dsn,
            "SWITCHYARD_REDIS_URL": redis_url,
            "SWITCHYARD_METRICS_PUBLIC": "true",
            "SWITCHYARD_LEDGER_FLUSH_INTERVAL": "0.05",
        }
        replicas = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(stack.enter_context(serve_workers(tmp_path / name, cfg, workers=2, **env)))
        created = httpx.post(replicas[0].url + "/v1/admin/keys", json={"team": "t"}, headers=ADMIN, timeout=10)
        assert created.status_code == 201, created.text
        key = created.json()["secret"]  # made on replica a, used on both: the keys live in PostgreSQL

        def send(i: int) -> tuple[bool, int]:
            budgeted = i % 5 < 3  # 3 in 5 with the team's key, interleaved with admin-key requests
            url = replicas[i % 2].url  # a fresh connection per request: the kernel picks the worker
            return budgeted, chat(url, i, key if budgeted else ADMIN_KEY)

        start_of_a_minute_with_room()
        with ThreadPoolExecutor(THREADS) as pool:
            sent = list(pool.map(send, range(BUDGETED + UNBUDGETED)))
        team = [status for budgeted, status in sent if budgeted]
        admin = [status for budgeted, status in sent if not budgeted]
        assert len(team) == BUDGETED and len(admin) == UNBUDGETED
        assert team.count(200) == LIMIT and team.count(429) == BUDGETED - LIMIT, team  # never past the limit
        assert admin.count(200) == UNBUDGETED, admin

        answered = LIMIT + UNBUDGETED
        totals = wait_for_metrics(replicas, (answered, BUDGETED - LIMIT))
        assert totals == (answered, BUDGETED - LIMIT), totals
        time.sleep(1.2)  # every worker's snapshot is fresh: each of the four answered some of the load
        for replica in replicas:
            per_worker = [
                requests_total_of(s) + requests_total_of(s, "switchyard_http_errors") for s in replica.snapshots()
            ]
            assert len(per_worker) == 2 and all(per_worker), per_worker
        for replica in replicas:
            replica.proc.terminate()  # a graceful stop writes what is queued
        for replica in replicas:
            assert replica.proc.wait(timeout=60) == 0, replica.stderr()
        ledger = ledger_statuses(dsn)
    # one row per answered request, from both replicas' workers; the budget's refusals have none
    assert ledger == {(200, "t"): LIMIT, (200, "admin"): UNBUDGETED}, ledger
    assert sum(ledger.values()) == totals[0]
