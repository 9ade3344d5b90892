"""Which RAG store a config opens (``rag.store``): a registry of openers, one per implementation."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ...config import RagConfig
from ...errors import ConfigError
from .base import RagStore

DSN_ENV = "SWITCHYARD_RAG_POSTGRES_DSN"


def rag_db_path(ledger_path: str, cfg: RagConfig) -> str:
    if cfg.db_path:
        return cfg.db_path
    if ledger_path == ":memory:":
        return ":memory:"
    p = Path(ledger_path)
    return str(p.with_name(p.stem + ".rag.db"))


def postgres_dsn(cfg: RagConfig, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    dsn = cfg.postgres_dsn or env.get(DSN_ENV)
    if not dsn:
        raise ConfigError(f"rag.store is postgres but neither rag.postgres_dsn nor {DSN_ENV} is set")
    return dsn


def _sqlite(cfg: RagConfig, ledger_path: str, environ: Mapping[str, str] | None) -> RagStore:
    from .sqlite import SQLiteRagStore

    return SQLiteRagStore(rag_db_path(ledger_path, cfg))


def _postgres(cfg: RagConfig, ledger_path: str, environ: Mapping[str, str] | None) -> RagStore:
    from .postgres import PostgresRagStore

    return PostgresRagStore(
        postgres_dsn(cfg, environ),
        pool_size=cfg.postgres_pool_size,
        pgvector=cfg.postgres_pgvector,
        ef_search=cfg.postgres_ef_search,
    )


STORES: dict[str, Callable[[RagConfig, str, Mapping[str, str] | None], RagStore]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


def open_store(cfg: RagConfig, ledger_path: str, environ: Mapping[str, str] | None = None) -> RagStore:
    """The configured store; the embedded one lives next to the ledger unless ``rag.db_path`` says where."""
    return STORES[cfg.store](cfg, ledger_path, environ)
