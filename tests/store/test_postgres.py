"""What only the PostgreSQL store has to show (the shared behaviour is in ``test_contract.py``): migrations
applied once by replicas starting together, replicas writing the same rollup rows at once, a server that goes
away and comes back, and where its DSN comes from."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from switchyard.config import GatewayConfig, ServerConfig, Settings, server_options
from switchyard.errors import ConfigError, StoreUnavailable
from switchyard.store.base import LedgerRecord, RollupFilter
from switchyard.store.open import open_store
from switchyard.store.postgres import PostgresStore
from switchyard.store.postgres_migrations import MIGRATIONS

from ..conftest import PostgresServer, fresh_database
from .test_rollups import varied


@pytest.fixture
def dsn(postgres_server: PostgresServer) -> Iterator[str]:
    with fresh_database(postgres_server) as d:
        yield d


def test_replicas_opening_a_new_database_together_migrate_it_once(dsn: str) -> None:
    together = threading.Barrier(4, timeout=30)
    applied: list[list[str]] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            together.wait()
            store = PostgresStore(dsn, pool_size=1)
            applied.append(store.migrations_applied)
            store.close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(applied, key=len) == [[], [], [], [name for name, _ in MIGRATIONS]]
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM switchyard_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_replicas_writing_at_once_keep_the_rollups_exact(dsn: str) -> None:
    """Two stores (two replicas) write batches that touch the same rollup rows at the same time: no
    deadlock, no lost increment; the rollups are the sum of the rows."""
    rng = random.Random(5)
    records = [replace(varied(i, rng), id=f"x{i:05d}") for i in range(1200)]
    replicas = [PostgresStore(dsn, pool_size=2) for _ in range(2)]
    try:
        go = threading.Barrier(2, timeout=30)
        failures: list[BaseException] = []

        def write(store: PostgresStore, mine: list[LedgerRecord]) -> None:
            try:
                go.wait()
                for i in range(0, len(mine), 50):
                    store.write(mine[i : i + 50])
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(s, records[n::2])) for n, s in enumerate(replicas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        daily = replicas[0].daily(RollupFilter(), ("team",))
        assert sum(d.requests for d in daily) == len(records)
        for d in daily:
            mine = [r for r in records if r.team == d.team]
            assert (d.requests, d.input_tokens) == (len(mine), sum(r.input_tokens for r in mine))
            assert d.cost == pytest.approx(sum(r.cost for r in mine))
        rows = replicas[1]._query("SELECT team, COUNT(*), SUM(input_tokens)::bigint FROM requests GROUP BY 1")
        assert {t: (n, s) for t, n, s in rows} == {d.team: (d.requests, d.input_tokens) for d in daily}
    finally:
        for s in replicas:
            s.close()


def test_an_unreachable_server_is_unavailable_then_reconnects(dsn: str, postgres_server: PostgresServer) -> None:
    store = PostgresStore(dsn, connect_timeout=1)
    try:
        store.write([varied(1, random.Random(1))])
        (database,) = store._query("SELECT current_database()")[0]
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
            try:
                with pytest.raises(StoreUnavailable):
                    store.write([varied(2, random.Random(2))])
                with pytest.raises(StoreUnavailable):
                    store.recent()
            finally:
                admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        deadline = time.monotonic() + 20
        while True:  # the pool reconnects in the background with a backoff
            try:
                store.write([varied(2, random.Random(2))])
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert len(store.recent()) == 2
    finally:
        store.close()


def test_no_server_at_open_is_a_config_error_naming_no_secret(tmp_path: Path) -> None:
    from ..conftest import free_port

    secret_dsn = f"postgresql://u:hunter2@127.0.0.1:{free_port()}/db"
    with pytest.raises(ConfigError) as caught:
        PostgresStore(secret_dsn, connect_timeout=1)
    assert "hunter2" not in str(caught.value)


def test_the_dsn_comes_from_the_environment_and_never_with_a_password_from_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHYARD_STORE", "postgres")
    with pytest.raises(ConfigError, match="SWITCHYARD_POSTGRES_DSN"):
        open_store(server_options(Settings(), GatewayConfig()))
    monkeypatch.setenv("SWITCHYARD_POSTGRES_DSN", "postgresql://u:secret@db.internal/ledger")
    options = server_options(Settings(), GatewayConfig(server=ServerConfig(postgres_dsn="host=other dbname=x")))
    assert options.store == "postgres" and options.postgres_dsn == "postgresql://u:secret@db.internal/ledger"
    assert "secret" not in repr(options)
    monkeypatch.delenv("SWITCHYARD_POSTGRES_DSN")
    from_file = server_options(Settings(), GatewayConfig(server=ServerConfig(postgres_dsn="host=db dbname=ledger")))
    assert from_file.postgres_dsn == "host=db dbname=ledger" and from_file.postgres_pool_size == 4
    for with_password in ("postgresql://u:pw@db/ledger", "host=db password=pw"):
        with pytest.raises(ValueError, match="does not belong in the config file"):
            ServerConfig(postgres_dsn=with_password)


def test_recent_errors_read_the_partial_indexes(dsn: str) -> None:
    """PostgreSQL has no ``INDEXED BY``: the planner must pick ``requests_errors`` (all teams) and
    ``requests_team_errors`` (one team) by itself, walking the window's failures newest first."""
    from .test_rollups import DAY, T0

    rng = random.Random(9)
    store = PostgresStore(dsn)
    try:
        records = [replace(varied(i, rng), id=f"e{i:05d}") for i in range(3000)]
        for i in range(0, len(records), 500):
            store.write(records[i : i + 500])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE requests")
            for index, team in (("requests_errors", ""), ("requests_team_errors", " AND team = 'a'")):
                plan = conn.execute(
                    f"EXPLAIN SELECT id FROM requests WHERE status >= 400{team} AND ts >= %s AND ts < %s "
                    "ORDER BY ts DESC, rowid DESC LIMIT 15",
                    (T0 + DAY, T0 + 2 * DAY),
                ).fetchall()
                text = "\n".join(r[0] for r in plan)
                assert f"Index Scan Backward using {index} " in text, text
    finally:
        store.close()
