"""The ledger and key stores on a PostgreSQL server (``store: postgres``; eval runs, guard statistics and
stored responses mixed in): one database shared by stateless gateway replicas and the CLIs. Same tables and
semantics as the embedded SQLite store (``store/sqlite.py``), schema from ``postgres_migrations``.

A batch of ledger records is one transaction: the new requests, their attempts, and the rollup increments
(``store/rollups.py``) as upserts that add to the totals, so the rollups are exactly the sum of the ledger
whatever the number of writers. Replicas upsert the same rollup rows; each batch takes the rows' locks in
one order (tables in a fixed order, keys sorted), so two writers wait for each other instead of
deadlocking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import rollups
from .base import (
    DAILY_DIMENSIONS,
    AttemptRecord,
    DailyRollup,
    DecisionCount,
    KeyRecord,
    LatencyCount,
    LedgerRecord,
    RollupFilter,
    UsageRow,
)
from .migrations import stored_codes
from .postgres_connections import DEFAULT_POOL_SIZE, Cursor, Read
from .postgres_evals import PostgresEvalStore
from .postgres_guard import PostgresGuardStats
from .postgres_migrations import migrate
from .postgres_responses import PostgresResponseStore
from .windows import WindowPlan, plan_window, utc_day

_REQUEST_COLUMNS = (
    "id, ts, day, key_id, team, endpoint, requested, route, served_model, provider, locality, input_tokens, "
    "output_tokens, cached_tokens, tokens_estimated, cost, latency_ms, ttft_ms, status, error_class, "
    "fallback_chain, stream, counterfactual_cost, reasons, classes, eval_run, guard"
)
_READ_COLUMNS = _REQUEST_COLUMNS.replace("ts, day, ", "ts, ")
_ATTEMPT_COLUMNS = (
    "seq, ts, model, provider, locality, latency_ms, ttft_ms, status, error_class, input_tokens, output_tokens, "
    "cost, check_result"
)


def _upsert(table: str, keys: tuple[str, ...], sums: tuple[str, ...]) -> str:
    """``INSERT ... ON CONFLICT DO UPDATE`` adding ``sums`` to the row of ``keys`` (PostgreSQL needs the
    target's columns qualified where SQLite takes them bare)."""
    columns = (*keys, *sums)
    adds = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in sums)
    return (
        f"INSERT INTO {table} AS t ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


# The rollups in the order every batch writes them, with the rows of ``rollups.Increments`` each takes.
_DAILY_SUMS = (
    "requests", "errors", "sensitive", "input_tokens", "output_tokens", "cached_tokens", "cost", "counterfactual_cost",
    "latency_ms_sum",
)  # fmt: skip
_ROLLUPS = (
    (
        _upsert("usage_daily", ("day", "team", "route", "model", "provider", "locality"), _DAILY_SUMS),
        rollups.Increments.daily_rows,
    ),
    (
        _upsert("key_daily", ("day", "key_id"), ("requests", "input_tokens", "output_tokens", "cost")),
        rollups.Increments.key_rows,
    ),
    (_upsert("latency_daily", ("day", "model", "bucket"), ("requests",)), rollups.Increments.latency_rows),
    (
        _upsert("requests_minutely", ("minute",), ("requests", "input_tokens", "output_tokens")),
        rollups.Increments.minute_rows,
    ),
    (
        _upsert("decisions_daily", ("day", "team", "route", "model", "reason"), ("requests",)),
        rollups.Increments.decision_rows,
    ),
)

# The rollup dimensions as read from ledger rows, and the sums of usage_daily and of the rows (integer sums
# cast back from numeric, which PostgreSQL's SUM of a bigint gives).
_ROW_DIMENSIONS = {
    "day": "day", "team": "COALESCE(team, '')", "route": "COALESCE(route, '')",
    "model": "COALESCE(served_model, requested)", "provider": "COALESCE(provider, '')",
    "locality": "COALESCE(locality, '')",
}  # fmt: skip
_ROLLUP_SUMS = (
    "SUM(requests)::bigint, SUM(errors)::bigint, SUM(sensitive)::bigint, SUM(input_tokens)::bigint, "
    "SUM(output_tokens)::bigint, SUM(cached_tokens)::bigint, SUM(cost), SUM(counterfactual_cost), SUM(latency_ms_sum)"
)
_ROW_SUMS = (
    "COUNT(*), COUNT(*) FILTER (WHERE status >= 400), COUNT(*) FILTER (WHERE classes <> ''), "
    "SUM(input_tokens)::bigint, SUM(output_tokens)::bigint, SUM(cached_tokens)::bigint, SUM(cost), "
    "SUM(counterfactual_cost), SUM(latency_ms)"
)


class PostgresStore(PostgresEvalStore, PostgresGuardStats, PostgresResponseStore):
    """The store on a server at ``dsn``, through a pool of up to ``pool_size`` connections (the ledger
    writer's thread and the readers share it). Opening migrates the schema (``postgres_migrations``)."""

    def __init__(self, dsn: str, *, pool_size: int = DEFAULT_POOL_SIZE, connect_timeout: float = 10.0) -> None:
        super().__init__(dsn, pool_size=pool_size, connect_timeout=connect_timeout)
        try:
            with self._connection() as conn, conn.cursor() as cur:
                self.migrations_applied = migrate(cur)
        except BaseException:
            self.close()
            raise

    # ledger ---------------------------------------------------------------------------------------
    def write(self, records: Sequence[LedgerRecord]) -> None:
        """Insert records and add them to the rollups, in one transaction. Records are immutable: an id
        already in the ledger (a replayed batch, a retry after a lost commit acknowledgement) is left out of
        the attempts and the rollups, so they never count it twice. Unlike SQLite (which inserts, finds a
        duplicate, rolls back and starts again with the fresh records) the insert itself says which ids are
        new (``ON CONFLICT DO NOTHING RETURNING id``), in one pass; a replica writing the same id at the same
        time waits for the first one's commit and leaves it out too."""
        if not records:
            return
        unique = list({r.id: r for r in records}.values())
        with self._tx() as cur:
            fresh_ids = self._insert_requests(cur, unique)
            fresh = [r for r in unique if r.id in fresh_ids]
            if not fresh:
                return
            attempts = [
                (
                    r.id, a.seq, a.ts, a.model, a.provider, a.locality, a.latency_ms, a.ttft_ms, a.status,
                    a.error_class, a.input_tokens, a.output_tokens, a.cost, a.check,
                )
                for r in fresh
                for a in r.attempts
            ]  # fmt: skip
            if attempts:
                cur.executemany(
                    f"INSERT INTO attempts (request_id, {_ATTEMPT_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})",
                    attempts,
                )
            inc = rollups.increments(fresh, {r.id: utc_day(r.ts) for r in fresh})
            for sql, rows_of in _ROLLUPS:
                # keys first and unique in a batch: sorting the rows sorts the keys (the lock order)
                rows = sorted(rows_of(inc))  # type: ignore[type-var]
                if rows:
                    cur.executemany(sql, rows)

    @staticmethod
    def _insert_requests(cur: Cursor, records: list[LedgerRecord]) -> set[str]:
        rows = [
            (
                r.id, r.ts, utc_day(r.ts), r.key_id, r.team, r.endpoint, r.requested, r.route, r.served_model,
                r.provider, r.locality, r.input_tokens, r.output_tokens, r.cached_tokens, r.tokens_estimated,
                r.cost, r.latency_ms, r.ttft_ms, r.status, r.error_class, ",".join(r.fallback_chain), r.stream,
                r.counterfactual_cost, "\n".join(r.reasons), ",".join(r.classes), r.eval_run, r.guard,
            )
            for r in records
        ]  # fmt: skip
        cur.executemany(
            f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({', '.join(['%s'] * 27)}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            rows,
            returning=True,
        )
        inserted: set[str] = set()
        while True:
            inserted.update(row[0] for row in cur.fetchall())
            if not cur.nextset():
                return inserted

    @staticmethod
    def _split(since: float) -> tuple[str, tuple[float, float] | None]:
        """The first whole UTC day the rollups answer for, and the leading part-day (if ``since`` is
        not midnight) to read from the ledger itself — bounded to that day by the ``ts`` index."""
        start = since // 86400 * 86400
        if since == start:
            return utc_day(start), None
        return utc_day(start + 86400), (since, start + 86400)

    def usage(self, since: float | None = None, *, team: str | None = None) -> list[UsageRow]:
        """Spend per day, team and model, from the rollups (and the ledger for a leading part-day); of
        ``team`` only when given."""
        first_day, partial = self._split(since or 0.0)
        only, args = _team_clause(team)
        with self._snapshot() as read:
            rows = read(
                f"""SELECT day, CASE team WHEN '' THEN '-' ELSE team END, model, SUM(requests)::bigint,
                          SUM(input_tokens)::bigint, SUM(output_tokens)::bigint, SUM(cached_tokens)::bigint,
                          SUM(cost), SUM(errors)::bigint
                   FROM usage_daily WHERE day >= %s{only} GROUP BY 1, 2, 3""",
                (first_day, *args),
            )
            if partial is not None:
                rows += read(
                    f"""SELECT day, COALESCE(team, '-'), COALESCE(served_model, requested), COUNT(*),
                              SUM(input_tokens)::bigint, SUM(output_tokens)::bigint, SUM(cached_tokens)::bigint,
                              SUM(cost), COUNT(*) FILTER (WHERE status >= 400)
                       FROM requests WHERE ts >= %s AND ts < %s{only} GROUP BY 1, 2, 3""",
                    (*partial, *args),
                )
        return sorted((UsageRow(*row) for row in rows), key=lambda r: (r.day, r.team, r.model))

    def spend_by_scope(self, since: float) -> dict[str, float]:
        """Spend since ``since`` per team (``team:x``) and per key (``key:id``), for budget windows:
        whole days from the rollups, a leading part-day from the ledger's ``ts`` index."""
        first_day, partial = self._split(since)
        out: dict[str, float] = {}
        with self._snapshot() as read:
            for scope, column, table in (("team", "team", "usage_daily"), ("key", "key_id", "key_daily")):
                found = read(
                    f"SELECT {column}, SUM(cost) FROM {table} WHERE day >= %s AND {column} <> '' GROUP BY 1",
                    (first_day,),
                )
                if partial is not None:
                    found += read(
                        f"SELECT {column}, SUM(cost) FROM requests WHERE ts >= %s AND ts < %s "
                        f"AND {column} IS NOT NULL GROUP BY 1",
                        partial,
                    )
                for name, cost in found:
                    out[f"{scope}:{name}"] = out.get(f"{scope}:{name}", 0.0) + float(cost or 0)
        return out

    # rollups --------------------------------------------------------------------------------------
    @staticmethod
    def _where(f: RollupFilter) -> tuple[str, list[Any]]:
        clauses, args = [], []
        for sql, value in (("day >= %s", f.since_day), ("day <= %s", f.until_day), ("team = %s", f.team),
                           ("route = %s", f.route)):  # fmt: skip
            if value is not None:
                clauses.append(sql)
                args.append(value)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def daily(self, f: RollupFilter, group_by: Sequence[str] = DAILY_DIMENSIONS) -> list[DailyRollup]:
        """Rollup totals grouped by ``group_by`` (a subset of :data:`DAILY_DIMENSIONS`); dimensions not
        grouped by come back as ``""``."""
        rollups.check_group_by(group_by)
        where, args = self._where(f)
        dims = ", ".join(d if d in group_by else "''" for d in DAILY_DIMENSIONS)
        keys = ", ".join(group_by)
        rows = self._query(
            f"SELECT {dims}, {_ROLLUP_SUMS} FROM usage_daily {where} GROUP BY {keys} ORDER BY {keys}", args
        )
        return [rollups.daily_rollup(row[:6], row[6:]) for row in rows]

    def latency_histogram(self, f: RollupFilter) -> list[LatencyCount]:
        """Latency counts per model and bucket over ``f``'s days (the histogram has no team or route)."""
        where, args = self._where(RollupFilter(f.since_day, f.until_day))
        rows = self._query(
            f"SELECT model, bucket, SUM(requests)::bigint FROM latency_daily {where} GROUP BY 1, 2 ORDER BY 1, 2", args
        )
        return [LatencyCount(*row) for row in rows]

    def peak_minute_requests(self, since: float, until: float) -> int:
        rows = self._query(
            "SELECT MAX(requests) FROM requests_minutely WHERE minute >= %s AND minute < %s",
            (int(since // 60), int(until // 60) + 1),
        )
        return int(rows[0][0] or 0)

    # windows ----------------------------------------------------------------------------------------
    @staticmethod
    def _plan(read: Read, since: float, until: float) -> tuple[WindowPlan, tuple[str, str] | None]:
        """The window's plan, and its rollup days as an inclusive range of ``YYYY-MM-DD``."""

        def rows_between(lo: float, hi: float) -> int:
            sql = "SELECT COALESCE(SUM(requests), 0)::bigint FROM requests_minutely WHERE minute >= %s AND minute < %s"
            return int(read(sql, (int(lo // 60), int(-(-hi // 60))))[0][0])

        p = plan_window(since, until, rows_between)
        return p, None if p.days is None else (utc_day(p.days[0]), utc_day(p.days[1] - 1))

    def usage_window(
        self, since: float, until: float, group_by: Sequence[str] = DAILY_DIMENSIONS, *, team: str | None = None
    ) -> list[DailyRollup]:
        """Totals of ``[since, until)`` grouped by ``group_by``: whole days from ``usage_daily``, the
        edges from the ledger's ``ts`` index (see ``store/windows.py``); of ``team`` only when given."""
        rollups.check_group_by(group_by)
        only, team_args = _team_clause(team)
        rollup_dims = ", ".join(d if d in group_by else "''" for d in DAILY_DIMENSIONS)
        row_dims = ", ".join(_ROW_DIMENSIONS[d] if d in group_by else "''" for d in DAILY_DIMENSIONS)
        keys = ", ".join(str(i + 1) for i, d in enumerate(DAILY_DIMENSIONS) if d in group_by)
        totals: dict[tuple[str, ...], list[float]] = {}

        def add(rows: list[tuple[Any, ...]], sign: int) -> None:
            for row in rows:
                t = totals.setdefault(row[:6], [0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0])
                for i, v in enumerate(row[6:]):
                    t[i] += sign * (v or 0)

        with self._snapshot() as read:
            p, days = self._plan(read, since, until)
            if days is not None:
                sql = (
                    f"SELECT {rollup_dims}, {_ROLLUP_SUMS} FROM usage_daily WHERE day >= %s AND day <= %s{only} "
                    f"GROUP BY {keys}"
                )
                add(read(sql, (*days, *team_args)), 1)
            for sign, stretches in ((1, p.add), (-1, p.subtract)):
                for lo, hi in stretches:
                    sql = (
                        f"SELECT {row_dims}, {_ROW_SUMS} FROM requests WHERE ts >= %s AND ts < %s{only} GROUP BY {keys}"
                    )
                    add(read(sql, (lo, hi, *team_args)), sign)
        return [rollups.daily_rollup(k, v) for k, v in sorted(totals.items()) if v[0]]

    def decisions_window(self, since: float, until: float, *, team: str | None = None) -> list[DecisionCount]:
        """Requests per route, model and reason code over ``[since, until)``: whole days from
        ``decisions_daily``, the edges from the ledger's rows; of ``team`` only when given."""
        only, team_args = _team_clause(team)
        counts: dict[tuple[str, str, str], int] = {}
        with self._snapshot() as read:
            p, days = self._plan(read, since, until)
            if days is not None:
                sql = (
                    "SELECT route, model, reason, SUM(requests)::bigint FROM decisions_daily "
                    f"WHERE day >= %s AND day <= %s{only} GROUP BY 1, 2, 3"
                )
                for route, model, reason, n in read(sql, (*days, *team_args)):
                    counts[(route, model, reason)] = counts.get((route, model, reason), 0) + n
            for sign, stretches in ((1, p.add), (-1, p.subtract)):
                for lo, hi in stretches:
                    sql = (
                        "SELECT COALESCE(route, ''), COALESCE(served_model, ''), reasons, fallback_chain, COUNT(*) "
                        f"FROM requests WHERE ts >= %s AND ts < %s{only} GROUP BY 1, 2, 3, 4"
                    )
                    for route, model, reasons, chain, n in read(sql, (lo, hi, *team_args)):
                        for code in stored_codes(route, reasons, chain):
                            counts[(route, model, code)] = counts.get((route, model, code), 0) + sign * n
        return [DecisionCount("", *k, n) for k, n in sorted(counts.items()) if n]

    def recent_errors(
        self, since: float, until: float, limit: int = 15, *, team: str | None = None
    ) -> list[LedgerRecord]:
        """Failed requests of ``[since, until)``, newest first (the partial indexes ``requests_errors`` and,
        for one team, ``requests_team_errors``)."""
        only, team_args = _team_clause(team)
        return self._records(
            f"WHERE status >= 400{only} AND ts >= %s AND ts < %s ORDER BY ts DESC, rowid DESC LIMIT %s",
            (*team_args, since, until, limit),
        )

    def get(self, request_id: str) -> LedgerRecord | None:
        found = self._records("WHERE id = %s", (request_id,))
        return found[0] if found else None

    def recent(self, limit: int = 100) -> list[LedgerRecord]:
        return self._records("ORDER BY ts DESC, rowid DESC LIMIT %s", (limit,))

    def _records(self, where: str, args: Sequence[Any]) -> list[LedgerRecord]:
        """The requests ``where`` selects, in its order, with their attempts (one query for all of them)."""
        with self._snapshot() as read:
            rows = read(f"SELECT {_READ_COLUMNS} FROM requests {where}", args)
            attempts: dict[str, list[AttemptRecord]] = {}
            if rows:
                for a in read(
                    f"SELECT request_id, {_ATTEMPT_COLUMNS} FROM attempts WHERE request_id = ANY(%s) "
                    "ORDER BY request_id, seq",
                    ([row[0] for row in rows],),
                ):
                    attempts.setdefault(a[0], []).append(AttemptRecord(*a[1:]))
        out = []
        for row in rows:
            rec = LedgerRecord(*row[:19])
            rec.fallback_chain = [m for m in row[19].split(",") if m]
            rec.stream = row[20]
            rec.counterfactual_cost = row[21]
            rec.reasons = [x for x in row[22].split("\n") if x]
            rec.classes = [x for x in row[23].split(",") if x]
            rec.eval_run, rec.guard = row[24], row[25]
            rec.attempts = attempts.get(rec.id, [])
            out.append(rec)
        return out

    # keys -----------------------------------------------------------------------------------------
    def add_key(self, key: KeyRecord) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO api_keys (id, team, name, prefix, secret_hash, roles, created, revoked) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (key.id, key.team, key.name, key.prefix, key.secret_hash, ",".join(key.roles), key.created,
                 key.revoked),
            )  # fmt: skip

    def find_key(self, secret_hash: str) -> KeyRecord | None:
        rows = self._query(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE secret_hash = %s", (secret_hash,))
        return _key(rows[0]) if rows else None

    def list_keys(self) -> list[KeyRecord]:
        return [_key(r) for r in self._query(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created, id")]

    def revoke_key(self, key_id: str) -> bool:
        with self._tx() as cur:
            cur.execute("UPDATE api_keys SET revoked = TRUE WHERE id = %s AND NOT revoked", (key_id,))
            return cur.rowcount > 0


_KEY_COLUMNS = "id, team, name, prefix, secret_hash, roles, created, revoked"


def _team_clause(team: str | None) -> tuple[str, tuple[str, ...]]:
    """The SQL that narrows a read to one team, the same in the rollups and the rows, and its argument."""
    return ("", ()) if team is None else (" AND team = %s", (team,))


def _key(row: tuple[Any, ...]) -> KeyRecord:
    roles = tuple(r for r in str(row[5]).split(",") if r)
    return KeyRecord(row[0], row[1], row[2], row[3], row[4], roles, row[6], bool(row[7]))
