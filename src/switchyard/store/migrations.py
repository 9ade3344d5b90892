"""Versioned schema migrations: an ordered list of named steps, each applied once and recorded. A step is
SQL (statements separated by ``;``) or a function of the connection, for what SQL alone cannot compute."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ..reasons import reason_codes

Step = str | Callable[[sqlite3.Connection], None]

# Latency histogram buckets of migration 0005, frozen with it: bucket i holds latencies in
# [10^(i/10), 10^((i+1)/10)) ms (ten a decade, so a percentile read from it is within ~12%); bucket 0
# also holds everything under 1.26 ms, bucket 59 everything from 794 s.
LATENCY_EDGES_0005 = tuple(10 ** (k / 10) for k in range(1, 60))
_BUCKET_0005 = (
    "CASE "
    + " ".join(f"WHEN latency_ms < {edge!r} THEN {i}" for i, edge in enumerate(LATENCY_EDGES_0005))
    + f" ELSE {len(LATENCY_EDGES_0005)} END"
)
_ROLLUPS_0005 = f"""
        CREATE TABLE usage_daily (
            day TEXT NOT NULL,
            team TEXT NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            locality TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            sensitive INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            counterfactual_cost REAL NOT NULL DEFAULT 0,
            latency_ms_sum REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (day, team, route, model, provider, locality)
        ) WITHOUT ROWID;
        CREATE TABLE key_daily (
            day TEXT NOT NULL,
            key_id TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (day, key_id)
        ) WITHOUT ROWID;
        CREATE TABLE latency_daily (
            day TEXT NOT NULL,
            model TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, model, bucket)
        ) WITHOUT ROWID;
        CREATE TABLE requests_minutely (
            minute INTEGER PRIMARY KEY,
            requests INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO usage_daily
            SELECT day, COALESCE(team, ''), COALESCE(route, ''), COALESCE(served_model, requested),
                   COALESCE(provider, ''), COALESCE(locality, ''), COUNT(*), SUM(status >= 400), SUM(classes != ''),
                   SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cost), SUM(counterfactual_cost),
                   SUM(latency_ms)
            FROM requests GROUP BY 1, 2, 3, 4, 5, 6;
        INSERT INTO key_daily
            SELECT day, key_id, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost)
            FROM requests WHERE key_id IS NOT NULL GROUP BY 1, 2;
        INSERT INTO latency_daily
            SELECT day, served_model, {_BUCKET_0005}, COUNT(*)
            FROM requests WHERE status < 400 AND served_model IS NOT NULL GROUP BY 1, 2, 3;
        INSERT INTO requests_minutely
            SELECT CAST(ts / 60 AS INTEGER), COUNT(*), SUM(input_tokens), SUM(output_tokens)
            FROM requests GROUP BY 1
"""


def stored_codes(route: str, reasons: str, fallback_chain: str) -> list[str]:
    """The reason codes of a ledger row, from its stored columns (``route`` ``""`` when none)."""
    trail = [r for r in reasons.split("\n") if r]
    return reason_codes(trail, route=route or None, fallback_chain=[m for m in fallback_chain.split(",") if m])


def _decisions_0007(conn: sqlite3.Connection) -> None:
    """``decisions_daily``: requests per day, route, served model and reason code (the dashboard's route
    decisions), kept like the other rollups. Existing rows are folded in; their codes come from the
    policies' reasons, which only Python can read (``switchyard.reasons``)."""
    conn.execute(
        """CREATE TABLE decisions_daily (
            day TEXT NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            reason TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, route, model, reason)
        ) WITHOUT ROWID"""
    )
    counts: dict[tuple[str, str, str, str], int] = {}
    trails = conn.execute(
        """SELECT day, COALESCE(route, ''), COALESCE(served_model, ''), reasons, fallback_chain, COUNT(*)
           FROM requests GROUP BY 1, 2, 3, 4, 5"""
    )
    for day, route, model, reasons, chain, n in trails:
        for code in stored_codes(route, reasons, chain):
            key = (day, route, model, code)
            counts[key] = counts.get(key, 0) + n
    conn.executemany("INSERT INTO decisions_daily VALUES (?,?,?,?,?)", [(*k, n) for k, n in counts.items()])


def _decisions_by_team_0009(conn: sqlite3.Connection) -> None:
    """``decisions_daily`` split by team too, so a reader allowed one team's usage is answered from the
    rollup (``LedgerWindows.decisions_window(team=)``). The table is built again from the ledger's rows,
    as 0007 built it: the old one cannot say which team each count belongs to."""
    conn.execute("DROP TABLE decisions_daily")
    conn.execute(
        """CREATE TABLE decisions_daily (
            day TEXT NOT NULL,
            team TEXT NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            reason TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, team, route, model, reason)
        ) WITHOUT ROWID"""
    )
    counts: dict[tuple[str, str, str, str, str], int] = {}
    trails = conn.execute(
        """SELECT day, COALESCE(team, ''), COALESCE(route, ''), COALESCE(served_model, ''), reasons,
                  fallback_chain, COUNT(*)
           FROM requests GROUP BY 1, 2, 3, 4, 5, 6"""
    )
    for day, team, route, model, reasons, chain, n in trails:
        for code in stored_codes(route, reasons, chain):
            key = (day, team, route, model, code)
            counts[key] = counts.get(key, 0) + n
    conn.executemany("INSERT INTO decisions_daily VALUES (?,?,?,?,?,?)", [(*k, n) for k, n in counts.items()])


MIGRATIONS: tuple[tuple[str, Step], ...] = (
    (
        "0001_ledger",
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            ts REAL NOT NULL,
            day TEXT NOT NULL,
            key_id TEXT,
            team TEXT,
            endpoint TEXT NOT NULL,
            requested TEXT NOT NULL,
            route TEXT,
            served_model TEXT,
            provider TEXT,
            locality TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            tokens_estimated INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            ttft_ms REAL,
            status INTEGER NOT NULL,
            error_class TEXT,
            fallback_chain TEXT NOT NULL DEFAULT '',
            stream INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX requests_ts ON requests (ts);
        CREATE INDEX requests_day_team ON requests (day, team);
        CREATE TABLE attempts (
            request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            locality TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            ttft_ms REAL,
            status TEXT NOT NULL,
            error_class TEXT,
            PRIMARY KEY (request_id, seq)
        );
        """,
    ),
    (
        "0002_api_keys",
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            team TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            prefix TEXT NOT NULL,
            secret_hash TEXT NOT NULL UNIQUE,
            roles TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
    (
        "0003_routing_trail",
        """
        ALTER TABLE requests ADD COLUMN counterfactual_cost REAL NOT NULL DEFAULT 0;
        ALTER TABLE requests ADD COLUMN reasons TEXT NOT NULL DEFAULT '';
        ALTER TABLE requests ADD COLUMN classes TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        "0004_attempt_usage",
        """
        ALTER TABLE attempts ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN cost REAL NOT NULL DEFAULT 0
        """,
    ),
    # Rollups kept in the same transaction as the rows they summarise (store/rollups.py), so reports and
    # budget seeding read a few thousand rows instead of scanning the ledger. Existing rows are folded in.
    ("0005_rollups", _ROLLUPS_0005),
    # Day/team questions are answered by usage_daily now; the index only slowed every insert down.
    ("0006_drop_requests_day_team", "DROP INDEX IF EXISTS requests_day_team"),
    ("0007_decisions_daily", _decisions_0007),
    # Recent errors of a window, newest first, without walking the window's successful rows.
    ("0008_requests_errors", "CREATE INDEX requests_errors ON requests (ts) WHERE status >= 400"),
    ("0009_decisions_by_team", _decisions_by_team_0009),
    # One team's recent errors, newest first, without walking the other teams' errors.
    ("0010_requests_team_errors", "CREATE INDEX requests_team_errors ON requests (team, ts) WHERE status >= 400"),
    # Eval runs (issue 12): the ledger says which run a call answered for; runs and their answers.
    (
        "0011_evals",
        """
        ALTER TABLE requests ADD COLUMN eval_run TEXT;
        CREATE INDEX requests_eval_run ON requests (eval_run) WHERE eval_run IS NOT NULL;
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created REAL NOT NULL,
            set_name TEXT NOT NULL,
            set_digest TEXT NOT NULL,
            targets TEXT NOT NULL,
            team TEXT NOT NULL,
            items INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'run',
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE eval_results (
            run_id TEXT NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            target TEXT NOT NULL,
            ts REAL NOT NULL,
            request_id TEXT,
            served_model TEXT,
            answer TEXT,
            tool_calls TEXT,
            score REAL,
            passed INTEGER,
            detail TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            error TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, item_id, target)
        ) WITHOUT ROWID
        """,
    ),
    # The output guard (issue 13): each attempt's verdict, and what the client was finally delivered.
    (
        "0012_guard",
        """
        ALTER TABLE requests ADD COLUMN guard TEXT;
        ALTER TABLE attempts ADD COLUMN check_result TEXT;
        CREATE INDEX requests_guard ON requests (day) WHERE guard IS NOT NULL
        """,
    ),
    # Stored Responses (issue 13, POST /v1/responses with server.responses_store): the conversation a
    # continuation sends the model (JSON of internal chat messages) and the Response object, per team, until
    # they expire.
    (
        "0013_responses",
        """
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            team TEXT NOT NULL,
            key_id TEXT NOT NULL,
            created REAL NOT NULL,
            expires REAL NOT NULL,
            messages BLOB NOT NULL,
            body BLOB NOT NULL
        );
        CREATE INDEX responses_expires ON responses (expires)
        """,
    ),
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the names applied.
    The connection must be in autocommit mode (``isolation_level=None``)."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (a CLI beside the server, a second worker) may have applied it since the
            # read above: only the write lock held now makes the check and the step one.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            _apply(conn, name, sql)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(name)
    return applied


def _apply(conn: sqlite3.Connection, name: str, step: Step) -> None:
    if callable(step):
        step(conn)
    else:
        for statement in (s.strip() for s in step.split(";")):
            if statement:
                conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations (name, applied) VALUES (?, ?)", (name, time.time()))
