"""The SQLite side of :class:`~switchyard.store.responses.ResponseStore`, mixed into ``SQLiteStore`` (same
connection and lock; the table of migration 0013)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import orjson

from .responses import StoredResponse

_COLUMNS = "id, team, key_id, created, expires, messages, body"


class SQLiteResponseStore:
    _conn: sqlite3.Connection
    _lock: threading.Lock

    def put_response(self, response: StoredResponse) -> None:
        r = response
        row = (r.id, r.team, r.key_id, r.created, r.expires, orjson.dumps(r.messages), orjson.dumps(r.body))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # expired responses go as new ones come (the index on expires makes this a range delete)
                self._conn.execute("DELETE FROM responses WHERE expires <= ?", (r.created,))
                self._conn.execute(f"INSERT OR REPLACE INTO responses ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)", row)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def find_response(self, response_id: str, team: str, now: float) -> StoredResponse | None:
        with self._lock:
            found = self._conn.execute(
                f"SELECT {_COLUMNS} FROM responses WHERE id = ? AND team = ? AND expires > ?", (response_id, team, now)
            ).fetchone()
        return None if found is None else _stored(found)

    def delete_response(self, response_id: str, team: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM responses WHERE id = ? AND team = ?", (response_id, team))
        return cur.rowcount > 0


def _stored(row: tuple[Any, ...]) -> StoredResponse:
    return StoredResponse(
        id=row[0], team=row[1], key_id=row[2], created=row[3], expires=row[4],
        messages=orjson.loads(row[5]), body=orjson.loads(row[6]),
    )  # fmt: skip
