"""The PostgreSQL store's vector layouts: pgvector answers dense kNN in SQL through its HNSW index (the same
hits as numpy on the same vectors), filtered by collection; bytea leaves kNN to numpy; vectors move between
the layouts when the store reopens with the other one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from switchyard.rag.serving.dense import DenseRetriever
from switchyard.rag.stores.base import NewDocument, native_dense
from switchyard.rag.stores.postgres import PostgresRagStore
from switchyard.rag.stores.postgres_vectors import PgVectorLayout, index_name
from switchyard.rag.stores.sqlite import SQLiteRagStore
from switchyard.rag.types import Chunk, Collection

from .conftest import need_pgvector, open_pg_store

DIM = 16


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _fill(store: PostgresRagStore, collection: str, vectors: np.ndarray, model: str = "m") -> None:
    store.create_collection(Collection(collection, embed_model=model))
    for i, vec in enumerate(vectors):
        doc_id = f"{collection}-{i}"
        chunk = Chunk(f"{doc_id}#0", doc_id, 0, f"text {i}", 2)
        doc = NewDocument(doc_id, "", None, {}, doc_id, f"text {i}", [chunk], vec.reshape(1, -1))
        store.put_document(collection, doc, model)


@pytest.fixture
def pgv(request: pytest.FixtureRequest) -> Iterator[PostgresRagStore]:
    with open_pg_store(request, "pgvector") as s:
        yield s


def test_only_the_pgvector_layout_searches_itself(request: pytest.FixtureRequest, tmp_path: object) -> None:
    with open_pg_store(request, "pgvector") as pgv, open_pg_store(request, "bytea") as bytea:
        assert isinstance(native_dense(pgv), PgVectorLayout) and DenseRetriever(pgv, "m").native is not None
        assert native_dense(bytea) is None and DenseRetriever(bytea, "m").native is None
        assert DenseRetriever(pgv, "m", use_store_search=False).native is None
    sqlite = SQLiteRagStore(":memory:")
    assert native_dense(sqlite) is None
    sqlite.close()


def test_pgvector_finds_what_numpy_finds(pgv: PostgresRagStore) -> None:
    rng = np.random.default_rng(7)
    vectors = _unit(rng, 120)
    _fill(pgv, "c", vectors)
    in_sql = DenseRetriever(pgv, "m")
    numpy = DenseRetriever(pgv, "m", use_store_search=False)
    for q in (vectors[3], vectors[77], _unit(rng, 1)[0]):
        got, want = in_sql.search("c", q, 5), numpy.search("c", q, 5)
        assert [r for r, _ in got] == [r for r, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    (exact,) = in_sql.search("c", vectors[3], 1)
    assert pgv.chunks([exact[0]])[exact[0]].chunk.doc_id == "c-3" and exact[1] == pytest.approx(1.0, abs=1e-5)
    assert in_sql.search("c", np.ones(DIM + 1, dtype=np.float32), 5) == []  # another dimension: no vectors
    assert in_sql.search("other", vectors[3], 5) == []


def test_a_small_collection_gets_k_hits_beside_a_large_one(pgv: PostgresRagStore) -> None:
    rng = np.random.default_rng(11)
    _fill(pgv, "large", _unit(rng, 400))
    _fill(pgv, "small", _unit(rng, 12))
    query = _unit(rng, 1)[0]
    hits = DenseRetriever(pgv, "m").search("small", query, 10)
    found = pgv.chunks([r for r, _ in hits])
    assert len(hits) == 10 and {found[r].collection for r, _ in hits} == {"small"}
    # Through the index (a table this small is otherwise scanned): its first ef_search candidates hold
    # few of "small"'s rows, so k hits need pgvector's iterative scan.
    (database,) = pgv._q("SELECT current_database()")[0]
    with pgv._connection() as conn:
        conn.execute(f"ALTER DATABASE {database} SET enable_seqscan = off")
    indexed = PostgresRagStore(pgv.dsn, ef_search=40)  # new sessions take the database's setting
    try:
        assert indexed._q("SHOW enable_seqscan") == [("off",)]
        hits = DenseRetriever(indexed, "m").search("small", query, 10)
        found = indexed.chunks([r for r, _ in hits])
        assert len(hits) == 10 and {found[r].collection for r, _ in hits} == {"small"}
    finally:
        indexed.close()


def test_the_knn_query_uses_the_models_hnsw_index(pgv: PostgresRagStore) -> None:
    rng = np.random.default_rng(3)
    _fill(pgv, "c", _unit(rng, 50))
    _fill(pgv, "d", _unit(rng, 5), model="other")
    indexes = {r[0] for r in pgv._q("SELECT indexname FROM pg_indexes WHERE tablename = 'rag_embeddings'")}
    assert {index_name("m", DIM), index_name("other", DIM)} <= indexes
    with pgv._tx() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # the table is small; show that the index can serve
        cur.execute(
            b"EXPLAIN " + PgVectorLayout.knn_statement("m", DIM).as_bytes(cur),
            {"q": _unit(rng, 1)[0].tolist(), "c": "c", "k": 5},
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert index_name("m", DIM) in plan


def test_vectors_move_between_layouts_on_reopening(request: pytest.FixtureRequest) -> None:
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 30)
    with open_pg_store(request, "bytea") as bytea:
        _fill(bytea, "c", vectors)
        dsn = bytea.dsn
        before = bytea.vectors("c", "m")
        upgraded = PostgresRagStore(dsn)  # the extension is available now
        try:
            need_pgvector(upgraded)
            ids, matrix = upgraded.vectors("c", "m")
            assert np.array_equal(ids, before[0]) and np.array_equal(matrix, vectors)
            assert upgraded._q("SELECT count(*) FROM rag_vectors") == [(0,)]
            hits = DenseRetriever(upgraded, "m").search("c", vectors[4], 1)
            assert upgraded.chunks([hits[0][0]])[hits[0][0]].chunk.doc_id == "c-4"
        finally:
            upgraded.close()
        again = PostgresRagStore(dsn, pgvector=False)  # and back
        try:
            assert again.vector_layout == "bytea" and np.array_equal(again.vectors("c", "m")[1], vectors)
            assert again._q("SELECT count(*) FROM rag_embeddings") == [(0,)]
        finally:
            again.close()
