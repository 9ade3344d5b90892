"""SQLite (WAL) implementation of the ledger and key stores (eval runs and stored responses mixed in): the
embedded default."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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
from .migrations import migrate, stored_codes
from .sqlite_evals import SQLiteEvalStore
from .sqlite_guard import SQLiteGuardStats
from .sqlite_responses import SQLiteResponseStore
from .windows import WindowPlan, plan_window
from .windows import utc_day as utc_day  # kept importable from here (reports, CLI, bench)

_REQUEST_COLUMNS = (
    "id, ts, day, key_id, team, endpoint, requested, route, served_model, provider, locality, input_tokens, "
    "output_tokens, cached_tokens, tokens_estimated, cost, latency_ms, ttft_ms, status, error_class, "
    "fallback_chain, stream, counterfactual_cost, reasons, classes, eval_run, guard"
)


# The rollup dimensions as read from ledger rows, and the usage_daily sums as the rows give them.
_ROW_DIMENSIONS = {
    "day": "day", "team": "COALESCE(team, '')", "route": "COALESCE(route, '')",
    "model": "COALESCE(served_model, requested)", "provider": "COALESCE(provider, '')",
    "locality": "COALESCE(locality, '')",
}  # fmt: skip
_ROLLUP_SUMS = (
    "SUM(requests), SUM(errors), SUM(sensitive), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(cost), SUM(counterfactual_cost), SUM(latency_ms_sum)"
)
_ROW_SUMS = (
    "COUNT(*), SUM(status >= 400), SUM(classes != ''), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(cost), SUM(counterfactual_cost), SUM(latency_ms)"
)
Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class _Replayed(Exception):
    """Some records of a batch are already in the ledger."""


class SQLiteStore(SQLiteEvalStore, SQLiteGuardStats, SQLiteResponseStore):
    """One connection guarded by a lock: writes come in batches from the ledger writer's thread, reads
    are rare (key look-ups are cached by the caller)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache (default 2 MiB): reports and inserts on a large ledger stay in memory
            self._conn.execute("PRAGMA cache_size=-65536")
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # ledger ---------------------------------------------------------------------------------------
    def write(self, records: Sequence[LedgerRecord]) -> None:
        """Insert records and add them to the rollups, in one transaction. Records are immutable: an id
        already in the ledger (a replayed batch) is skipped, so the rollups never count it twice."""
        if not records:
            return
        unique = list({r.id: r for r in records}.values())
        with self._lock:
            for careful in (False, True):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    # Replays are rare: insert optimistically, and only when some id was already there
                    # start again, leaving out the ids the ledger has.
                    self._insert(self._fresh(unique) if careful else unique)
                except _Replayed:
                    self._conn.execute("ROLLBACK")
                    if careful:
                        raise
                    continue
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return

    def _fresh(self, records: list[LedgerRecord]) -> list[LedgerRecord]:
        seen: set[str] = set()
        for i in range(0, len(records), 500):
            ids = [r.id for r in records[i : i + 500]]
            sql = f"SELECT id FROM requests WHERE id IN ({','.join('?' * len(ids))})"
            seen.update(row[0] for row in self._conn.execute(sql, ids))
        return [r for r in records if r.id not in seen] if seen else records

    def _insert(self, records: list[LedgerRecord]) -> None:
        if not records:
            return
        days = {r.id: utc_day(r.ts) for r in records}
        rows = [
            (
                r.id, r.ts, days[r.id], r.key_id, r.team, r.endpoint, r.requested, r.route, r.served_model,
                r.provider, r.locality, r.input_tokens, r.output_tokens, r.cached_tokens, int(r.tokens_estimated),
                r.cost, r.latency_ms, r.ttft_ms, r.status, r.error_class, ",".join(r.fallback_chain), int(r.stream),
                r.counterfactual_cost, "\n".join(r.reasons), ",".join(r.classes), r.eval_run, r.guard,
            )
            for r in records
        ]  # fmt: skip
        attempts = [
            (
                r.id, a.seq, a.ts, a.model, a.provider, a.locality, a.latency_ms, a.ttft_ms, a.status,
                a.error_class, a.input_tokens, a.output_tokens, a.cost, a.check,
            )
            for r in records
            for a in r.attempts
        ]  # fmt: skip
        conn = self._conn
        cur = conn.executemany(
            f"INSERT OR IGNORE INTO requests ({_REQUEST_COLUMNS}) VALUES ({','.join('?' * 27)})", rows
        )
        if cur.rowcount != len(rows):
            raise _Replayed
        conn.executemany(
            "INSERT INTO attempts (request_id, seq, ts, model, provider, locality, latency_ms, "
            "ttft_ms, status, error_class, input_tokens, output_tokens, cost, check_result) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            attempts,
        )
        inc = rollups.increments(records, days)
        conn.executemany(rollups.UPSERT_DAILY, inc.daily_rows())
        conn.executemany(rollups.UPSERT_KEY, inc.key_rows())
        conn.executemany(rollups.UPSERT_LATENCY, inc.latency_rows())
        conn.executemany(rollups.UPSERT_MINUTE, inc.minute_rows())
        conn.executemany(rollups.UPSERT_DECISION, inc.decision_rows())

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
        rows = self._query(
            f"""SELECT day, CASE team WHEN '' THEN '-' ELSE team END, model, SUM(requests), SUM(input_tokens),
                      SUM(output_tokens), SUM(cached_tokens), SUM(cost), SUM(errors)
               FROM usage_daily WHERE day >= ?{only} GROUP BY 1, 2, 3""",
            (first_day, *args),
        )
        if partial is not None:
            rows += self._query(
                f"""SELECT day, COALESCE(team, '-'), COALESCE(served_model, requested), COUNT(*),
                          SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cost), SUM(status >= 400)
                   FROM requests WHERE ts >= ? AND ts < ?{only} GROUP BY 1, 2, 3""",
                (*partial, *args),
            )
        return sorted((UsageRow(*row) for row in rows), key=lambda r: (r.day, r.team, r.model))

    def spend_by_scope(self, since: float) -> dict[str, float]:
        """Spend since ``since`` per team (``team:x``) and per key (``key:id``), for budget windows:
        whole days from the rollups, a leading part-day from the ledger's ``ts`` index."""
        first_day, partial = self._split(since)
        out: dict[str, float] = {}
        for scope, column, table in (("team", "team", "usage_daily"), ("key", "key_id", "key_daily")):
            found = self._query(
                f"SELECT {column}, SUM(cost) FROM {table} WHERE day >= ? AND {column} != '' GROUP BY 1", (first_day,)
            )
            if partial is not None:
                found += self._query(
                    f"SELECT {column}, SUM(cost) FROM requests WHERE ts >= ? AND ts < ? AND {column} IS NOT NULL "
                    "GROUP BY 1",
                    partial,
                )
            for name, cost in found:
                out[f"{scope}:{name}"] = out.get(f"{scope}:{name}", 0.0) + float(cost or 0)
        return out

    # rollups --------------------------------------------------------------------------------------
    @staticmethod
    def _where(f: RollupFilter) -> tuple[str, list[Any]]:
        clauses, args = [], []
        for sql, value in (("day >= ?", f.since_day), ("day <= ?", f.until_day), ("team = ?", f.team),
                           ("route = ?", f.route)):  # fmt: skip
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
            f"""SELECT {dims}, SUM(requests), SUM(errors), SUM(sensitive), SUM(input_tokens), SUM(output_tokens),
                       SUM(cached_tokens), SUM(cost), SUM(counterfactual_cost), SUM(latency_ms_sum)
                FROM usage_daily {where} GROUP BY {keys} ORDER BY {keys}""",
            args,
        )
        return [DailyRollup(*row) for row in rows]

    def latency_histogram(self, f: RollupFilter) -> list[LatencyCount]:
        """Latency counts per model and bucket over ``f``'s days (the histogram has no team or route)."""
        where, args = self._where(RollupFilter(f.since_day, f.until_day))
        rows = self._query(
            f"SELECT model, bucket, SUM(requests) FROM latency_daily {where} GROUP BY 1, 2 ORDER BY 1, 2", args
        )
        return [LatencyCount(*row) for row in rows]

    def peak_minute_requests(self, since: float, until: float) -> int:
        rows = self._query(
            "SELECT MAX(requests) FROM requests_minutely WHERE minute >= ? AND minute < ?",
            (int(since // 60), int(until // 60) + 1),
        )
        return int(rows[0][0] or 0)

    # windows ----------------------------------------------------------------------------------------
    @contextmanager
    def _snapshot(self) -> Iterator[Read]:
        """Reads that see one state of the ledger (a rollup day and the rows subtracted from it must
        agree, whoever else writes to the file)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield lambda sql, args: self._conn.execute(sql, args).fetchall()
            finally:
                self._conn.execute("COMMIT")

    @staticmethod
    def _plan(read: Read, since: float, until: float) -> tuple[WindowPlan, tuple[str, str] | None]:
        """The window's plan, and its rollup days as an inclusive range of ``YYYY-MM-DD``."""

        def rows_between(lo: float, hi: float) -> int:
            sql = "SELECT COALESCE(SUM(requests), 0) FROM requests_minutely WHERE minute >= ? AND minute < ?"
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
                    f"SELECT {rollup_dims}, {_ROLLUP_SUMS} FROM usage_daily WHERE day >= ? AND day <= ?{only} "
                    f"GROUP BY {keys}"
                )
                add(read(sql, (*days, *team_args)), 1)
            for sign, stretches in ((1, p.add), (-1, p.subtract)):
                for lo, hi in stretches:
                    sql = f"SELECT {row_dims}, {_ROW_SUMS} FROM requests WHERE ts >= ? AND ts < ?{only} GROUP BY {keys}"
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
                    f"SELECT route, model, reason, SUM(requests) FROM decisions_daily WHERE day >= ? AND day <= ?{only} "
                    "GROUP BY 1, 2, 3"
                )
                for route, model, reason, n in read(sql, (*days, *team_args)):
                    counts[(route, model, reason)] = counts.get((route, model, reason), 0) + n
            for sign, stretches in ((1, p.add), (-1, p.subtract)):
                for lo, hi in stretches:
                    sql = (
                        "SELECT COALESCE(route, ''), COALESCE(served_model, ''), reasons, fallback_chain, COUNT(*) "
                        f"FROM requests WHERE ts >= ? AND ts < ?{only} GROUP BY 1, 2, 3, 4"
                    )
                    for route, model, reasons, chain, n in read(sql, (lo, hi, *team_args)):
                        for code in stored_codes(route, reasons, chain):
                            counts[(route, model, code)] = counts.get((route, model, code), 0) + sign * n
        return [DecisionCount("", *k, n) for k, n in sorted(counts.items()) if n]

    def recent_errors(
        self, since: float, until: float, limit: int = 15, *, team: str | None = None
    ) -> list[LedgerRecord]:
        """Failed requests of ``[since, until)``, newest first, read from the errors' partial indexes (one
        team's: ``requests_team_errors``)."""
        if team is None:
            return self._records(
                "INDEXED BY requests_errors WHERE status >= 400 AND ts >= ? AND ts < ? "
                "ORDER BY ts DESC, rowid DESC LIMIT ?",
                (since, until, limit),
            )
        return self._records(
            "INDEXED BY requests_team_errors WHERE status >= 400 AND team = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts DESC, rowid DESC LIMIT ?",
            (team, since, until, limit),
        )

    def get(self, request_id: str) -> LedgerRecord | None:
        found = self._records("WHERE id = ?", (request_id,))
        return found[0] if found else None

    def recent(self, limit: int = 100) -> list[LedgerRecord]:
        return self._records("ORDER BY ts DESC, rowid DESC LIMIT ?", (limit,))

    def _records(self, where: str, args: Sequence[Any]) -> list[LedgerRecord]:
        cols = (
            "id, ts, key_id, team, endpoint, requested, route, served_model, provider, locality, input_tokens, "
            "output_tokens, cached_tokens, tokens_estimated, cost, latency_ms, ttft_ms, status, error_class, "
            "fallback_chain, stream, counterfactual_cost, reasons, classes, eval_run, guard"
        )
        out = []
        for row in self._query(f"SELECT {cols} FROM requests {where}", args):
            rec = LedgerRecord(*row[:13], bool(row[13]), *row[14:19])  # type: ignore[arg-type,call-arg]
            rec.fallback_chain = [m for m in row[19].split(",") if m]
            rec.stream = bool(row[20])
            rec.counterfactual_cost = row[21]
            rec.reasons = [x for x in row[22].split("\n") if x]
            rec.classes = [x for x in row[23].split(",") if x]
            rec.eval_run, rec.guard = row[24], row[25]
            rec.attempts = [
                AttemptRecord(*a)
                for a in self._query(
                    "SELECT seq, ts, model, provider, locality, latency_ms, ttft_ms, status, error_class, "
                    "input_tokens, output_tokens, cost, check_result "
                    "FROM attempts WHERE request_id = ? ORDER BY seq",
                    (rec.id,),
                )
            ]
            out.append(rec)
        return out

    # keys -----------------------------------------------------------------------------------------
    def add_key(self, key: KeyRecord) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys VALUES (?,?,?,?,?,?,?,?)",
                (key.id, key.team, key.name, key.prefix, key.secret_hash, ",".join(key.roles), key.created,
                 int(key.revoked)),
            )  # fmt: skip

    def find_key(self, secret_hash: str) -> KeyRecord | None:
        rows = self._query("SELECT * FROM api_keys WHERE secret_hash = ?", (secret_hash,))
        return _key(rows[0]) if rows else None

    def list_keys(self) -> list[KeyRecord]:
        return [_key(r) for r in self._query("SELECT * FROM api_keys ORDER BY created")]

    def revoke_key(self, key_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("UPDATE api_keys SET revoked = 1 WHERE id = ? AND revoked = 0", (key_id,))
            return cur.rowcount > 0


def _team_clause(team: str | None) -> tuple[str, tuple[str, ...]]:
    """The SQL that narrows a read to one team, the same in the rollups and the rows, and its argument."""
    return ("", ()) if team is None else (" AND team = ?", (team,))


def _key(row: tuple[Any, ...]) -> KeyRecord:
    roles = tuple(r for r in str(row[5]).split(",") if r)
    return KeyRecord(row[0], row[1], row[2], row[3], row[4], roles, row[6], bool(row[7]))
