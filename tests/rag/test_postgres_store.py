"""What only the PostgreSQL store has: opening from config, its schema version, its connection pool (dropped
connections replaced, an unreachable server a 503), full-text ranking, vectors kept bit for bit, and erasure
down to the table files after ``compact`` (text and vectors, HNSW index included) — on each vector layout."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from switchyard.config import RagConfig, embedded_defaults
from switchyard.errors import ConfigError, StoreUnavailable
from switchyard.rag.serving.service import RagService
from switchyard.rag.stores.base import NewDocument
from switchyard.rag.stores.open import DSN_ENV, open_store
from switchyard.rag.stores.postgres import SCHEMA_VERSION, PostgresRagStore
from switchyard.rag.stores.postgres_vectors import PgVectorLayout
from switchyard.rag.types import Chunk, Collection

from ..conftest import PostgresServer
from .conftest import open_pg_store

UNIQUE = ("Zyqlofaxine", "Wexbridgeham", "QX-4471-KLM")


def _doc(doc_id: str, texts: list[str], subject: str | None = None, dim: int = 8) -> NewDocument:
    chunks = [Chunk(f"{doc_id}#{i}", doc_id, i, t, len(t.split())) for i, t in enumerate(texts)]
    rng = np.random.default_rng(abs(hash(doc_id)) % 2**32)
    vecs = rng.standard_normal((len(texts), dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return NewDocument(doc_id, "Note", subject, {"source": doc_id}, "h-" + doc_id, " ".join(texts), chunks, vecs)


def test_open_store_needs_a_dsn() -> None:
    with pytest.raises(ConfigError, match=DSN_ENV):
        open_store(RagConfig(store="postgres"), "gw.db", environ={})


def test_service_opens_postgres_from_config(pg_store: PostgresRagStore, monkeypatch: pytest.MonkeyPatch) -> None:
    pg_store.create_collection(Collection("shared", embed_model="m"))
    dsn = pg_store.dsn  # the fresh database of this test, without a password
    config = embedded_defaults()
    config.rag.store = "postgres"
    monkeypatch.setenv(DSN_ENV, dsn)
    service = RagService.from_config(config, ":memory:")
    try:
        assert isinstance(service.store, PostgresRagStore)
        assert [c.name for c in service.store.list_collections()] == ["shared"]
    finally:
        service.close()


def test_schema_version_and_reopening(pg_store: PostgresRagStore) -> None:
    dsn = pg_store.dsn
    layout = pg_store.vector_layout == "pgvector"
    again = PostgresRagStore(dsn, pgvector=layout)  # a second replica opening the same tables
    try:
        assert again._q("SELECT value FROM rag_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
        again._q("UPDATE rag_meta SET value = '999' WHERE key = 'schema_version' RETURNING key")
    finally:
        again.close()
    with pytest.raises(ConfigError, match="schema version 999"):
        PostgresRagStore(dsn, pgvector=layout)


def test_a_dropped_connection_is_replaced(pg_store: PostgresRagStore) -> None:
    pg_store.create_collection(Collection("c", embed_model="m"))
    (pid,) = pg_store._q("SELECT pg_backend_pid()")[0]
    with psycopg.connect(pg_store.dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert pg_store.version("c") == 0  # the pool checked the connection and opened a new one
    assert pg_store._q("SELECT pg_backend_pid()")[0][0] != pid


def test_an_unreachable_server_is_unavailable_then_reconnects(
    request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> None:
    with open_pg_store(request, "bytea", connect_timeout=1) as store:
        store.create_collection(Collection("c", embed_model="m"))
        (database,) = store._q("SELECT current_database()")[0]
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
            try:
                with pytest.raises(StoreUnavailable):
                    store.version("c")
            finally:
                admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        # the pool reconnects in the background with a backoff: the store answers again within seconds
        deadline = time.monotonic() + 20
        while True:
            try:
                assert store.version("c") == 0 and store.get_collection("c") is not None
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def test_the_pool_serves_threads_at_once(request: pytest.FixtureRequest) -> None:
    with open_pg_store(request, "bytea", pool_size=3) as store:
        together = threading.Barrier(3, timeout=30)  # breaks unless three connections are held at once
        pids: list[int] = []

        def hold() -> None:
            with store._connection() as conn:
                pids.append(conn.info.backend_pid)
                together.wait()

        threads = [threading.Thread(target=hold) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not together.broken and len(set(pids)) == 3


def test_pool_size_comes_from_config(pg_store: PostgresRagStore) -> None:
    pgvector = pg_store.vector_layout == "pgvector"
    cfg = RagConfig(store="postgres", postgres_pool_size=2, postgres_pgvector=pgvector, postgres_ef_search=64)
    store = open_store(cfg, "gw.db", environ={DSN_ENV: pg_store.dsn})
    try:
        assert isinstance(store, PostgresRagStore) and store._pool.max_size == 2
        assert store.vector_layout == pg_store.vector_layout
        native = store.native_dense()
        assert (isinstance(native, PgVectorLayout) and native.ef_search == 64) if pgvector else native is None
    finally:
        store.close()
    with pytest.raises(ValueError, match="postgres_pool_size"):
        RagConfig(store="postgres", postgres_pool_size=0)


def test_vectors_round_trip_bit_for_bit(pg_store: PostgresRagStore) -> None:
    pg_store.create_collection(Collection("c", embed_model="m"))
    doc = _doc("d", ["first chunk", "second chunk", "third chunk"])
    pg_store.put_document("c", doc, "m")
    ids, matrix = pg_store.vectors("c", "m")
    assert matrix.dtype == np.float32 and np.array_equal(matrix, doc.vectors)
    assert pg_store.missing_vectors("c", "other") == ([int(i) for i in ids], [f"Note\n{c.text}" for c in doc.chunks])
    assert pg_store.missing_vectors("c", "m") == ([], [])
    replacement = np.eye(3, 8, dtype=np.float32)
    pg_store.set_vectors("m", [int(i) for i in ids], replacement)
    pg_store.set_vectors("other", [int(i) for i in ids], replacement)
    assert np.array_equal(pg_store.vectors("c", "m")[1], replacement)
    pg_store.drop_vectors("c", "other")
    assert pg_store.vectors("c", "other")[0].size == 0 and pg_store.vectors("c", "m")[0].size == 3


def test_full_text_ranks_by_matching_terms(pg_store: PostgresRagStore) -> None:
    pg_store.create_collection(Collection("c", embed_model="m"))
    pg_store.put_document("c", _doc("both", ["statins lower cholesterol in adults"]), "m")
    pg_store.put_document("c", _doc("one", ["exercise lowers blood pressure"]), "m")
    pg_store.put_document("c", _doc("none", ["the weather is mild today"]), "m")
    hits = pg_store.lexical_search("c", "Do statins reduce cholesterol?", 5)
    found = pg_store.chunks([r for r, _ in hits])
    assert [found[r].chunk.doc_id for r, _ in hits] == ["both"]
    hits = pg_store.lexical_search("c", "lowering blood pressure", 5)  # stemmed, OR-ed: more terms rank higher
    found = pg_store.chunks([r for r, _ in hits])
    assert [found[r].chunk.doc_id for r, _ in hits] == ["one", "both"]
    assert hits[0][1] > hits[1][1] > 0
    assert pg_store.lexical_search("c", "the of", 5) == [] and pg_store.lexical_search("c", "", 5) == []


def _run(store: PostgresRagStore, sql: str) -> None:
    with psycopg.connect(store.dsn, autocommit=True) as admin:
        admin.execute(sql)


def _table_bytes(store: PostgresRagStore, data_dir: Path) -> bytes:
    _run(store, "CHECKPOINT")  # write the shared buffers out to the files first
    return b"".join((data_dir / rel).read_bytes() for rel in store.relation_files() if (data_dir / rel).exists())


def test_erasure_reaches_the_table_files(pg_store: PostgresRagStore, postgres_server: PostgresServer) -> None:
    pg_store.create_collection(Collection("ward", sensitivity="confidential", embed_model="m"))
    visit = [f"Mr {UNIQUE[1]} was prescribed {UNIQUE[0]} for palpitations.", f"Record {UNIQUE[2]}, ward 3."]
    subject_docs = [
        _doc("visit.md", visit, subject="patient-7"),
        _doc("letter.html", [f"Dear {UNIQUE[1]}, your dose is unchanged."], "patient-7"),
    ]
    leaflet = _doc("leaflet.txt", ["Palpitations are often harmless."])
    for doc in (*subject_docs, leaflet):
        pg_store.put_document("ward", doc, "m")
    # float32 values as stored (bytea and pgvector alike), in the table, the HNSW index and pg_statistic
    erased_vectors = [v.tobytes() for d in subject_docs for v in d.vectors]  # type: ignore[union-attr]
    pg_store.cache_answer("ward", "answer-1", f"{UNIQUE[1]} takes {UNIQUE[0]}", [("ward", "visit.md")])
    pg_store.cache_answer("ward", "answer-2", "palpitations are often harmless", [("ward", "leaflet.txt")])
    _run(pg_store, "ANALYZE")  # statistics must not keep samples of what is erased
    before = _table_bytes(pg_store, postgres_server.data_dir)
    assert all(u.encode() in before for u in UNIQUE)  # the check below can see the text
    assert all(v in before for v in erased_vectors)  # and the vectors

    assert pg_store.delete_subject("patient-7") == {"ward": 2}
    pg_store.compact()
    for text in UNIQUE:
        assert pg_store.lexical_search("ward", text, 10) == []
    assert pg_store.cached_answer("answer-1") is None and pg_store.cached_answer("answer-2") is not None
    assert [d["id"] for d in pg_store.list_documents("ward")] == ["leaflet.txt"]
    assert pg_store.vectors("ward", "m")[0].size == 1

    after = _table_bytes(pg_store, postgres_server.data_dir)
    (db_oid,) = pg_store._q("SELECT oid FROM pg_database WHERE datname = current_database()")
    database = b"".join(p.read_bytes() for p in (postgres_server.data_dir / "base" / str(db_oid[0])).iterdir())
    for text in UNIQUE:
        for raw in (after, database):
            assert text.encode() not in raw and text.lower().encode() not in raw
    for raw in (after, database):
        assert not [v for v in erased_vectors if v in raw]
    assert b"harmless" in after  # the other document is still there
    assert leaflet.vectors is not None and leaflet.vectors[0].tobytes() in after
