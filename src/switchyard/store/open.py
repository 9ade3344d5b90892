"""Which store a gateway opens: a registry of openers, one per implementation. The server and every CLI
command open the ledger and key store here, never by naming an implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..config import ServerOptions
from ..errors import ConfigError
from .base import KeyStore, LedgerRollups, LedgerStore, LedgerWindows
from .evals import EvalStore
from .guard import GuardStatsReader
from .responses import ResponseStore


class Store(LedgerStore, LedgerRollups, LedgerWindows, KeyStore, EvalStore, GuardStatsReader, ResponseStore, Protocol):
    """Everything the gateway keeps: the ledger, its rollups (by days and by time windows), the API keys,
    eval runs, what the output guard did, stored responses."""

    def close(self) -> None: ...


def _sqlite(options: ServerOptions) -> Store:
    from .sqlite import SQLiteStore

    return SQLiteStore(options.db_path)


def _postgres(options: ServerOptions) -> Store:
    from .postgres import PostgresStore

    if not options.postgres_dsn:
        raise ConfigError("server.store is postgres but neither SWITCHYARD_POSTGRES_DSN nor server.postgres_dsn is set")
    return PostgresStore(options.postgres_dsn, pool_size=options.postgres_pool_size)


STORES: dict[str, Callable[[ServerOptions], Store]] = {"sqlite": _sqlite, "postgres": _postgres}


def open_store(options: ServerOptions) -> Store:
    """The configured store (``server.store`` / ``SWITCHYARD_STORE``): the embedded SQLite at ``db_path`` by
    default, or ``postgres`` at ``SWITCHYARD_POSTGRES_DSN`` (``server.postgres_dsn`` without a password)."""
    opener = STORES.get(options.store)
    if opener is None:
        raise ConfigError(f"unknown store {options.store!r}: one of {', '.join(sorted(STORES))}")
    return opener(options)
