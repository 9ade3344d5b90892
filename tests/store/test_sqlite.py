from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from switchyard.store.base import AttemptRecord, KeyRecord, LedgerRecord
from switchyard.store.migrations import MIGRATIONS, migrate
from switchyard.store.sqlite import SQLiteStore


def record(i: int, team: str = "t", cost: float = 0.5, ts: float | None = None) -> LedgerRecord:
    return LedgerRecord(
        id=f"r{i}",
        ts=ts or time.time(),
        key_id="k",
        team=team,
        endpoint="chat",
        requested="auto",
        route="auto",
        served_model="m",
        provider="openai",
        locality="us",
        input_tokens=10,
        output_tokens=5,
        cost=cost,
        fallback_chain=["a", "m"],
        attempts=[
            AttemptRecord(0, 1.0, "a", "openai:x", "us", 3.0, None, "error", "UpstreamTimeout"),
            AttemptRecord(1, 2.0, "m", "openai:y", "us", 4.0, 1.0, "ok"),
        ],
    )


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    assert migrate(conn) == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_wal_mode_and_roundtrip(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    assert store._query("PRAGMA journal_mode")[0][0] == "wal"
    store.write([record(1), record(2, team="u", cost=1.5)])
    got = store.get("r1")
    assert got is not None and got.fallback_chain == ["a", "m"]
    assert [(a.model, a.status, a.error_class) for a in got.attempts] == [
        ("a", "error", "UpstreamTimeout"),
        ("m", "ok", None),
    ]
    rows = {(r.team, r.requests, r.cost) for r in store.usage()}
    assert rows == {("t", 1, 0.5), ("u", 1, 1.5)}
    assert store.usage(since=time.time() + 3600) == []
    store.close()


def test_keys_store_hashes_only(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "k.db")
    store.add_key(KeyRecord("key_1", "team", "ci", "sy-abcdefg", "f" * 64, ("admin",), time.time()))
    assert store.find_key("f" * 64) is not None and store.find_key("0" * 64) is None
    assert store.revoke_key("key_1") and not store.revoke_key("key_1")
    assert store.list_keys()[0].revoked
    store.close()


def test_processes_opening_a_new_database_together_migrate_it_once(tmp_path: Path) -> None:
    """A CLI (``eval run``, ``keys create``) opened beside a starting server: each reads the applied
    migrations, then takes the write lock; a step the other applied in between must not run again."""
    import subprocess
    import sys

    db = tmp_path / "shared.db"
    script = (
        "import sys, time\n"
        "from switchyard.store.sqlite import SQLiteStore\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "SQLiteStore(sys.argv[1]).close()\n"
    )
    start = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db), str(start)], stderr=subprocess.PIPE) for _ in range(6)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
