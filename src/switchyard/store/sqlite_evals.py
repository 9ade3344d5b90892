"""The SQLite side of :class:`~switchyard.store.evals.EvalStore`, mixed into ``SQLiteStore`` (same
connection and lock; tables from migration 0011)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import Conflict
from .base import RollupFilter
from .evals import EvalResult, EvalRunRecord, EvalSpend

_RUN_COLUMNS = "id, name, created, set_name, set_digest, targets, team, items, kind, meta"
_RESULT_COLUMNS = (
    "run_id, item_id, target, ts, request_id, served_model, answer, tool_calls, score, passed, detail, "
    "input_tokens, output_tokens, cost, latency_ms, error, extra"
)


class SQLiteEvalStore:
    _conn: sqlite3.Connection
    _lock: threading.Lock

    def create_eval_run(self, run: EvalRunRecord) -> None:
        row = (
            run.id, run.name, run.created, run.set_name, run.set_digest, orjson.dumps(run.targets).decode(),
            run.team, run.items, run.kind, orjson.dumps(run.meta).decode(),
        )  # fmt: skip
        with self._lock:
            try:
                self._conn.execute(f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                raise Conflict(f"an eval run named {run.name!r} exists already", param="name") from None

    def find_eval_run(self, name_or_id: str) -> EvalRunRecord | None:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE name = ? OR id = ? LIMIT 1", (name_or_id, name_or_id)
            ).fetchall()
        return _run(rows[0]) if rows else None

    def eval_runs(self, limit: int = 100) -> list[EvalRunRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_run(r) for r in rows]

    def add_eval_results(self, results: Sequence[EvalResult]) -> None:
        rows = [
            (
                r.run_id, r.item_id, r.target, r.ts, r.request_id, r.served_model, r.answer,
                None if r.tool_calls is None else orjson.dumps(r.tool_calls).decode(), r.score,
                None if r.passed is None else int(r.passed), r.detail, r.input_tokens, r.output_tokens, r.cost,
                r.latency_ms, r.error, orjson.dumps(r.extra).decode(),
            )
            for r in results
        ]  # fmt: skip
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO eval_results ({_RESULT_COLUMNS}) VALUES ({','.join('?' * 17)})", rows
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def eval_spend(self, f: RollupFilter) -> EvalSpend:
        clauses, args = ["eval_run IS NOT NULL"], []
        for sql, value in (("day >= ?", f.since_day), ("day <= ?", f.until_day),
                           ("COALESCE(team, '') = ?", f.team), ("COALESCE(route, '') = ?", f.route)):  # fmt: skip
            if value is not None:
                clauses.append(sql)
                args.append(value)
        with self._lock:
            n, cost, runs = self._conn.execute(
                f"SELECT COUNT(*), COALESCE(SUM(cost), 0), COUNT(DISTINCT eval_run) FROM requests WHERE {' AND '.join(clauses)}",
                args,
            ).fetchone()
        return EvalSpend(n, cost, runs)

    def eval_results(self, run_id: str) -> list[EvalResult]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_id = ? ORDER BY item_id, target", (run_id,)
            ).fetchall()
        return [_result(r) for r in rows]


def _run(row: tuple[Any, ...]) -> EvalRunRecord:
    return EvalRunRecord(
        id=row[0], name=row[1], created=row[2], set_name=row[3], set_digest=row[4],
        targets=orjson.loads(row[5]), team=row[6], items=row[7], kind=row[8], meta=orjson.loads(row[9]),
    )  # fmt: skip


def _result(row: tuple[Any, ...]) -> EvalResult:
    return EvalResult(
        run_id=row[0], item_id=row[1], target=row[2], ts=row[3], request_id=row[4], served_model=row[5],
        answer=row[6], tool_calls=None if row[7] is None else orjson.loads(row[7]), score=row[8],
        passed=None if row[9] is None else bool(row[9]), detail=row[10], input_tokens=row[11],
        output_tokens=row[12], cost=row[13], latency_ms=row[14], error=row[15], extra=orjson.loads(row[16]),
    )  # fmt: skip
