"""The PostgreSQL side of :class:`~switchyard.store.evals.EvalStore`, mixed into ``PostgresStore`` (same
pool; tables of ``postgres_migrations``). JSON is kept as text, as in SQLite, so both stores give back
exactly what they were given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from ..errors import Conflict
from .base import RollupFilter
from .evals import EvalResult, EvalRunRecord, EvalSpend
from .postgres_connections import PostgresConnections

_RUN_COLUMNS = "id, name, created, set_name, set_digest, targets, team, items, kind, meta"
_RESULT_COLUMNS = (
    "run_id, item_id, target, ts, request_id, served_model, answer, tool_calls, score, passed, detail, "
    "input_tokens, output_tokens, cost, latency_ms, error, extra"
)
_RESULT_KEY = ("run_id", "item_id", "target")
_REPLACE_RESULT = ", ".join(
    f"{c} = excluded.{c}" for c in (c.strip() for c in _RESULT_COLUMNS.split(",")) if c not in _RESULT_KEY
)


class PostgresEvalStore(PostgresConnections):
    def create_eval_run(self, run: EvalRunRecord) -> None:
        row = (
            run.id, run.name, run.created, run.set_name, run.set_digest, orjson.dumps(run.targets).decode(),
            run.team, run.items, run.kind, orjson.dumps(run.meta).decode(),
        )  # fmt: skip
        try:
            with self._tx() as cur:
                cur.execute(f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", row)
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"an eval run named {run.name!r} exists already", param="name") from None

    def find_eval_run(self, name_or_id: str) -> EvalRunRecord | None:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE name = %s OR id = %s LIMIT 1", (name_or_id, name_or_id)
        )
        return _run(rows[0]) if rows else None

    def eval_runs(self, limit: int = 100) -> list[EvalRunRecord]:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created DESC LIMIT %s", (limit,))
        return [_run(r) for r in rows]

    def add_eval_results(self, results: Sequence[EvalResult]) -> None:
        rows = [
            (
                r.run_id, r.item_id, r.target, r.ts, r.request_id, r.served_model, r.answer,
                None if r.tool_calls is None else orjson.dumps(r.tool_calls).decode(), r.score, r.passed, r.detail,
                r.input_tokens, r.output_tokens, r.cost, r.latency_ms, r.error, orjson.dumps(r.extra).decode(),
            )
            for r in results
        ]  # fmt: skip
        if not rows:
            return
        with self._tx() as cur:
            cur.executemany(
                f"INSERT INTO eval_results ({_RESULT_COLUMNS}) VALUES ({', '.join(['%s'] * 17)}) "
                f"ON CONFLICT (run_id, item_id, target) DO UPDATE SET {_REPLACE_RESULT}",
                rows,
            )

    def eval_spend(self, f: RollupFilter) -> EvalSpend:
        clauses, args = ["eval_run IS NOT NULL"], []
        for sql, value in (("day >= %s", f.since_day), ("day <= %s", f.until_day),
                           ("COALESCE(team, '') = %s", f.team), ("COALESCE(route, '') = %s", f.route)):  # fmt: skip
            if value is not None:
                clauses.append(sql)
                args.append(value)
        n, cost, runs = self._query(
            "SELECT COUNT(*), COALESCE(SUM(cost), 0), COUNT(DISTINCT eval_run) FROM requests "
            f"WHERE {' AND '.join(clauses)}",
            args,
        )[0]
        return EvalSpend(int(n), float(cost), int(runs))

    def eval_results(self, run_id: str) -> list[EvalResult]:
        rows = self._query(
            f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_id = %s ORDER BY item_id, target", (run_id,)
        )
        return [_result(r) for r in rows]


def _run(row: tuple[Any, ...]) -> EvalRunRecord:
    return EvalRunRecord(
        id=row[0], name=row[1], created=row[2], set_name=row[3], set_digest=row[4],
        targets=orjson.loads(row[5]), team=row[6], items=row[7], kind=row[8], meta=orjson.loads(row[9]),
    )  # fmt: skip


def _result(row: tuple[Any, ...]) -> EvalResult:
    return EvalResult(
        run_id=row[0], item_id=row[1], target=row[2], ts=row[3], request_id=row[4], served_model=row[5],
        answer=row[6], tool_calls=None if row[7] is None else orjson.loads(row[7]), score=row[8], passed=row[9],
        detail=row[10], input_tokens=row[11], output_tokens=row[12], cost=row[13], latency_ms=row[14],
        error=row[15], extra=orjson.loads(row[16]),
    )  # fmt: skip
