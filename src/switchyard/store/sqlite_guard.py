"""The SQLite side of :class:`~switchyard.store.guard.GuardStatsReader`, mixed into ``SQLiteStore``
(same connection and lock). Reads the ledger rows the guard judged (``requests_guard`` index by day)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from .base import RollupFilter
from .guard import GuardChecks, GuardDelivered, GuardStats


class SQLiteGuardStats:
    _conn: sqlite3.Connection
    _lock: threading.Lock

    def guard_stats(self, f: RollupFilter) -> GuardStats:
        where, args = _where(f)
        with self._lock:
            checks = self._conn.execute(
                f"""SELECT COALESCE(r.route, ''), a.model, COUNT(*), SUM(a.check_result != 'valid'),
                           SUM(CASE WHEN a.check_result != 'valid' THEN a.cost ELSE 0 END)
                    FROM requests r INDEXED BY requests_guard JOIN attempts a ON a.request_id = r.id
                    WHERE {where} AND a.check_result IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
                args,
            ).fetchall()
            outcomes = self._conn.execute(
                f"""SELECT COALESCE(r.route, ''), r.guard, COUNT(*) FROM requests r INDEXED BY requests_guard
                    WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
                args,
            ).fetchall()
        delivered: dict[str, GuardDelivered] = {}
        for route, outcome, n in outcomes:
            delivered.setdefault(route, GuardDelivered(route)).outcomes[outcome] = n
        return GuardStats([GuardChecks(*row) for row in checks], list(delivered.values()))


def _where(f: RollupFilter) -> tuple[str, list[Any]]:
    clauses, args = ["r.guard IS NOT NULL"], []
    for sql, value in (("r.day >= ?", f.since_day), ("r.day <= ?", f.until_day),
                       ("COALESCE(r.team, '') = ?", f.team), ("COALESCE(r.route, '') = ?", f.route)):  # fmt: skip
        if value is not None:
            clauses.append(sql)
            args.append(value)
    return " AND ".join(clauses), args
