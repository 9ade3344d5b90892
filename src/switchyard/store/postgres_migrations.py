"""Versioned schema migrations of the PostgreSQL store: an ordered list of named steps, each applied once and
recorded in ``switchyard_migrations``, as ``store/migrations.py`` does for SQLite. A step is SQL (one or more
statements) or a function of a cursor.

The first step creates the schema at SQLite's migration 0013 in one go (there were no PostgreSQL ledgers
before it); later issues append steps here and to the SQLite list side by side. Every step runs in its own
transaction holding a transaction-level advisory lock, and checks under the lock whether another process
applied it meanwhile: replicas and CLIs starting together migrate once. PostgreSQL's DDL is transactional,
so a failing step leaves nothing half-applied (a future step that cannot run in a transaction, such as
``CREATE INDEX CONCURRENTLY``, needs its own path).

Text columns are ``COLLATE "C"``: byte order, as SQLite compares, whatever the database's locale (the
reads' ``ORDER BY`` and the dashboard's sorting agree on both stores).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .postgres_connections import Cursor

Step = str | Callable[[Cursor], None]

# pg_advisory_xact_lock key of the ledger's migrations ("SWLED"; the RAG store's is "SWRAG").
MIGRATION_LOCK = 0x5357_4C45_44

T = 'TEXT COLLATE "C"'

_SCHEMA_0001 = f"""
CREATE TABLE requests (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,  -- insertion order (SQLite's rowid): ties in ts
    id {T} PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    day {T} NOT NULL,
    key_id {T},
    team {T},
    endpoint {T} NOT NULL,
    requested {T} NOT NULL,
    route {T},
    served_model {T},
    provider {T},
    locality {T},
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    tokens_estimated BOOLEAN NOT NULL DEFAULT FALSE,
    cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    ttft_ms DOUBLE PRECISION,
    status INTEGER NOT NULL,
    error_class {T},
    fallback_chain {T} NOT NULL DEFAULT '',
    stream BOOLEAN NOT NULL DEFAULT FALSE,
    counterfactual_cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    reasons {T} NOT NULL DEFAULT '',
    classes {T} NOT NULL DEFAULT '',
    eval_run {T},
    guard {T}
);
CREATE INDEX requests_ts ON requests (ts);
CREATE INDEX requests_errors ON requests (ts) WHERE status >= 400;
CREATE INDEX requests_team_errors ON requests (team, ts) WHERE status >= 400;
CREATE INDEX requests_eval_run ON requests (eval_run) WHERE eval_run IS NOT NULL;
CREATE INDEX requests_guard ON requests (day) WHERE guard IS NOT NULL;
CREATE TABLE attempts (
    request_id {T} NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    model {T} NOT NULL,
    provider {T} NOT NULL,
    locality {T} NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    status {T} NOT NULL,
    error_class {T},
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    check_result {T},
    PRIMARY KEY (request_id, seq)
);
CREATE TABLE api_keys (
    id {T} PRIMARY KEY,
    team {T} NOT NULL,
    name {T} NOT NULL DEFAULT '',
    prefix {T} NOT NULL,
    secret_hash {T} NOT NULL UNIQUE,
    roles {T} NOT NULL DEFAULT '',
    created DOUBLE PRECISION NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE usage_daily (
    day {T} NOT NULL,
    team {T} NOT NULL,
    route {T} NOT NULL,
    model {T} NOT NULL,
    provider {T} NOT NULL,
    locality {T} NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    sensitive BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    counterfactual_cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (day, team, route, model, provider, locality)
);
CREATE TABLE key_daily (
    day {T} NOT NULL,
    key_id {T} NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id)
);
CREATE TABLE latency_daily (
    day {T} NOT NULL,
    model {T} NOT NULL,
    bucket INTEGER NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model, bucket)
);
CREATE TABLE requests_minutely (
    minute BIGINT PRIMARY KEY,
    requests BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE decisions_daily (
    day {T} NOT NULL,
    team {T} NOT NULL,
    route {T} NOT NULL,
    model {T} NOT NULL,
    reason {T} NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, team, route, model, reason)
);
CREATE TABLE eval_runs (
    id {T} PRIMARY KEY,
    name {T} NOT NULL UNIQUE,
    created DOUBLE PRECISION NOT NULL,
    set_name {T} NOT NULL,
    set_digest {T} NOT NULL,
    targets {T} NOT NULL,
    team {T} NOT NULL,
    items INTEGER NOT NULL,
    kind {T} NOT NULL DEFAULT 'run',
    meta {T} NOT NULL DEFAULT '{{}}'
);
CREATE TABLE eval_results (
    run_id {T} NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    item_id {T} NOT NULL,
    target {T} NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    request_id {T},
    served_model {T},
    answer {T},
    tool_calls {T},
    score DOUBLE PRECISION,
    passed BOOLEAN,
    detail {T},
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    error {T},
    extra {T} NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (run_id, item_id, target)
);
CREATE TABLE responses (
    id {T} PRIMARY KEY,
    team {T} NOT NULL,
    key_id {T} NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    messages BYTEA NOT NULL,
    body BYTEA NOT NULL
);
CREATE INDEX responses_expires ON responses (expires);
"""

MIGRATIONS: tuple[tuple[str, Step], ...] = (
    # The ledger with its attempts, keys, rollups, eval runs, the guard's columns and stored responses:
    # SQLite's 0001..0013 as they stand.
    ("0001_schema_of_sqlite_0013", _SCHEMA_0001),
)


def migrate(cur: Cursor) -> list[str]:
    """Apply pending migrations in order, each in its own transaction under the advisory lock; returns the
    names applied. ``cur`` belongs to an autocommit connection outside any transaction."""
    conn = cur.connection
    with conn.transaction():
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS switchyard_migrations (name TEXT PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
        )
        cur.execute("SELECT name FROM switchyard_migrations")
        done = {row[0] for row in cur.fetchall()}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with conn.transaction():
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            # Another process may have applied it since the read above: only the lock held now makes the
            # check and the step one.
            cur.execute("SELECT 1 FROM switchyard_migrations WHERE name = %s", (name,))
            if cur.fetchone() is not None:
                continue
            if callable(step):
                step(cur)
            else:
                cur.execute(step)
            cur.execute("INSERT INTO switchyard_migrations (name, applied) VALUES (%s, %s)", (name, time.time()))
        applied.append(name)
    return applied
