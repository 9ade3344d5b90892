"""The PostgreSQL side of :class:`~switchyard.store.guard.GuardStatsReader`, mixed into ``PostgresStore``
(same pool). Reads the ledger rows the guard judged (the ``requests_guard`` partial index by day)."""

from __future__ import annotations

from typing import Any

from .base import RollupFilter
from .guard import GuardChecks, GuardDelivered, GuardStats
from .postgres_connections import PostgresConnections


class PostgresGuardStats(PostgresConnections):
    def guard_stats(self, f: RollupFilter) -> GuardStats:
        where, args = _where(f)
        with self._snapshot() as read:
            checks = read(
                f"""SELECT COALESCE(r.route, ''), a.model, COUNT(*), COUNT(*) FILTER (WHERE a.check_result <> 'valid'),
                           COALESCE(SUM(a.cost) FILTER (WHERE a.check_result <> 'valid'), 0)
                    FROM requests r JOIN attempts a ON a.request_id = r.id
                    WHERE {where} AND a.check_result IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
                args,
            )
            outcomes = read(
                f"SELECT COALESCE(r.route, ''), r.guard, COUNT(*) FROM requests r WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
                args,
            )
        delivered: dict[str, GuardDelivered] = {}
        for route, outcome, n in outcomes:
            delivered.setdefault(route, GuardDelivered(route)).outcomes[outcome] = n
        return GuardStats([GuardChecks(*row) for row in checks], list(delivered.values()))


def _where(f: RollupFilter) -> tuple[str, list[Any]]:
    clauses, args = ["r.guard IS NOT NULL"], []
    for sql, value in (("r.day >= %s", f.since_day), ("r.day <= %s", f.until_day),
                       ("COALESCE(r.team, '') = %s", f.team), ("COALESCE(r.route, '') = %s", f.route)):  # fmt: skip
        if value is not None:
            clauses.append(sql)
            args.append(value)
    return " AND ".join(clauses), args
