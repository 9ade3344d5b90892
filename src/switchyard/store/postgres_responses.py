"""The PostgreSQL side of :class:`~switchyard.store.responses.ResponseStore`, mixed into ``PostgresStore``
(same pool; the ``responses`` table of ``postgres_migrations``)."""

from __future__ import annotations

from typing import Any

import orjson

from .postgres_connections import PostgresConnections
from .responses import StoredResponse

_COLUMNS = "id, team, key_id, created, expires, messages, body"


class PostgresResponseStore(PostgresConnections):
    def put_response(self, response: StoredResponse) -> None:
        r = response
        row = (r.id, r.team, r.key_id, r.created, r.expires, orjson.dumps(r.messages), orjson.dumps(r.body))
        with self._tx() as cur:
            # expired responses go as new ones come (the index on expires makes this a range delete)
            cur.execute("DELETE FROM responses WHERE expires <= %s", (r.created,))
            cur.execute(
                f"INSERT INTO responses ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE "
                "SET team = excluded.team, key_id = excluded.key_id, created = excluded.created, "
                "expires = excluded.expires, messages = excluded.messages, body = excluded.body",
                row,
            )

    def find_response(self, response_id: str, team: str, now: float) -> StoredResponse | None:
        found = self._query(
            f"SELECT {_COLUMNS} FROM responses WHERE id = %s AND team = %s AND expires > %s", (response_id, team, now)
        )
        return _stored(found[0]) if found else None

    def delete_response(self, response_id: str, team: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM responses WHERE id = %s AND team = %s", (response_id, team))
            return cur.rowcount > 0


def _stored(row: tuple[Any, ...]) -> StoredResponse:
    return StoredResponse(
        id=row[0], team=row[1], key_id=row[2], created=row[3], expires=row[4],
        messages=orjson.loads(row[5]), body=orjson.loads(row[6]),
    )  # fmt: skip
