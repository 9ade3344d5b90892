"""Right to erasure: after erasing a data subject nothing of theirs is found, and the store's files no
longer contain their unique strings (text, chunks, FTS5 index, vectors' rows, cached answers). The
end-to-end test runs on each store: the embedded SQLite file and PostgreSQL (its database directory), with
vectors in pgvector (HNSW index) and in bytea."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.config import GatewayConfig, embedded_defaults, load_config
from switchyard.rag.cli import app
from switchyard.rag.serving.service import RagService

from .conftest import needs_model, pgvector_missing

pytestmark = needs_model
runner = CliRunner()
UNIQUE = ("Zyqlofaxine", "Wexbridgeham", "QX-4471-KLM")


def _files(folder: Path) -> tuple[Path, Path]:
    mine = folder / "subject"
    other = folder / "other"
    mine.mkdir()
    other.mkdir()
    (mine / "visit.md").write_text(
        f"# Visit note\n\nMr {UNIQUE[1]} was prescribed {UNIQUE[0]} for palpitations.\n\n"
        f"## Identifiers\n\n- record {UNIQUE[2]}\n- ward 3\n"
    )
    (mine / "letter.html").write_text(f"<h1>Letter</h1><p>Dear {UNIQUE[1]}, your {UNIQUE[0]} dose is unchanged.</p>")
    (other / "leaflet.txt").write_text("Palpitations are often harmless.\n\nSee a doctor if they come with chest pain.")
    return mine, other


def _bytes_of_store(db: Path) -> bytes:
    out = b""
    for path in db.parent.glob(db.name + "*"):
        out += path.read_bytes()
    return out


def _postgres_database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pgvector: bool
) -> tuple[GatewayConfig, Callable[[], bytes]]:
    """A fresh database on the session's PostgreSQL, named by the config file the CLI reads."""
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = "e_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        (oid,) = admin.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone() or (0,)
    request.addfinalizer(lambda: _drop_database(server.dsn, name))
    config = tmp_path / "switchyard.yaml"
    config.write_text(f"rag:\n  store: postgres\n  postgres_pgvector: {str(pgvector).lower()}\n")
    monkeypatch.setenv("SWITCHYARD_CONFIG", str(config))
    monkeypatch.setenv("SWITCHYARD_RAG_POSTGRES_DSN", server.dsn_for(name))

    def files() -> bytes:
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute("CHECKPOINT")  # shared buffers out to the files
        return b"".join(p.read_bytes() for p in (server.data_dir / "base" / str(oid)).iterdir() if p.is_file())

    return load_config(config), files


def _drop_database(dsn: str, name: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.parametrize("store", ["sqlite", "postgres-pgvector", "postgres-bytea"])
def test_erasing_a_subject_leaves_nothing(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    ledger = tmp_path / "gw.db"
    monkeypatch.setenv("SWITCHYARD_DB_PATH", str(ledger))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    rag_db = tmp_path / "gw.rag.db"
    config = embedded_defaults()

    def store_bytes() -> bytes:
        return _bytes_of_store(rag_db)

    if store.startswith("postgres"):
        config, store_bytes = _postgres_database(request, tmp_path, monkeypatch, store == "postgres-pgvector")
    mine, other = _files(tmp_path)
    assert (
        runner.invoke(app, ["create", "ward", "--sensitivity", "confidential", "--read", "cardiology"]).exit_code == 0
    )
    out = runner.invoke(app, ["ingest", "ward", str(mine), "--subject", "patient-7"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["added"] == 2
    assert runner.invoke(app, ["ingest", "ward", str(other)]).exit_code == 0

    service = RagService.from_config(config, str(ledger))
    if store.startswith("postgres") and getattr(service.store, "vector_layout", None) != store.split("-")[1]:
        service.close()
        pgvector_missing()
    try:
        hits = asyncio.run(service.search(None, ["ward"], UNIQUE[0], 5))
        assert hits[0].subject == "patient-7" and UNIQUE[0] in hits[0].chunk.text
        service.store.cache_answer("ward", "answer-1", f"{UNIQUE[1]} takes {UNIQUE[0]}", [("ward", "visit.md")])
    finally:
        service.close()
    assert all(u.encode() in store_bytes() for u in UNIQUE)

    out = runner.invoke(app, ["erase", "--subject", "patient-7"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["erased"] == {"ward": 2}

    service = RagService.from_config(config, str(ledger))
    try:
        for text in UNIQUE:
            hits = asyncio.run(service.search(None, ["ward"], text, 10))
            assert all(h.subject is None and text not in h.chunk.text for h in hits)
            assert service.store.lexical_search("ward", text, 10) == []
        assert service.store.cached_answer("answer-1") is None
        assert [d["id"] for d in service.store.list_documents("ward")] == ["leaflet.txt"]
        ids, matrix = service.store.vectors("ward", service.default_embedder().model_id)
        assert len(ids) == matrix.shape[0] == 1
    finally:
        service.close()
    raw = store_bytes()
    for text in UNIQUE:
        assert text.encode() not in raw and text.lower().encode() not in raw
    assert b"harmless" in raw  # the other document is still there


def test_deleting_one_document_removes_it_and_its_index_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHYARD_DB_PATH", str(tmp_path / "gw.db"))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    mine, _ = _files(tmp_path)
    runner.invoke(app, ["create", "ward"])
    assert runner.invoke(app, ["ingest", "ward", str(mine / "visit.md")]).exit_code == 0
    assert UNIQUE[2].encode() in _bytes_of_store(tmp_path / "gw.rag.db")
    out = runner.invoke(app, ["remove", "ward", "visit.md"])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, ["remove", "ward", "visit.md"]).exit_code == 2
    assert UNIQUE[2].encode() not in _bytes_of_store(tmp_path / "gw.rag.db")
    listed = runner.invoke(app, ["list"])
    assert json.loads(listed.stdout)["documents"] == 0
