"""The connections of the PostgreSQL store: one pool shared by the ledger writer's thread and the readers'
(``psycopg_pool``, autocommit connections with explicit transactions), and where the server's failures
become the project's errors. The store and its mixins (``postgres_evals``, ``postgres_guard``,
``postgres_responses``) all derive from :class:`PostgresConnections`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import ConfigError, StoreUnavailable

Cursor = psycopg.Cursor[Any]
Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
DEFAULT_POOL_SIZE = 4


class PostgresConnections:
    """Up to ``pool_size`` connections, each checked before use (a connection the server dropped is
    replaced without an error); no connection within ``connect_timeout`` seconds, or a server that stops
    answering mid-call, is :class:`StoreUnavailable` (503), and the pool reconnects once it is back."""

    def __init__(self, dsn: str, *, pool_size: int = DEFAULT_POOL_SIZE, connect_timeout: float = 10.0) -> None:
        if pool_size < 1:
            raise ConfigError("server.postgres_pool_size must be at least 1")
        self._timeout = max(1.0, float(connect_timeout))
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            check=ConnectionPool.check_connection,
            timeout=self._timeout,
            name="switchyard-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=self._timeout)
        except PoolTimeout:
            self._pool.close()
            # The DSN may hold a password: name the failure, never the DSN.
            raise ConfigError("store postgres: cannot connect to PostgreSQL") from None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A live connection of the pool; a lost server becomes ``StoreUnavailable``."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            # PoolTimeout (no connection within the timeout) is an OperationalError too
            raise StoreUnavailable(f"the store (PostgreSQL) did not answer: {type(exc).__name__}") from None

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """A cursor in one transaction: committed when the block ends, rolled back when it raises."""
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    @contextmanager
    def _snapshot(self) -> Iterator[Read]:
        """Reads that see one state of the ledger (a rollup day and the rows subtracted from it must agree
        while replicas write): one read-only REPEATABLE READ transaction."""
        with self._tx() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

            def read(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
                cur.execute(sql, args)
                return cur.fetchall()

            yield read
