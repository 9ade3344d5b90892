"""How the PostgreSQL RAG store keeps its vectors: two layouts behind one small protocol, chosen once when the
store opens.

- ``PgVectorLayout`` (the server has the ``vector`` extension): table ``rag_embeddings``, one pgvector value
  per (chunk, model), the chunk's collection beside it for filtering. Each (model, dimension) gets a partial
  HNSW index on ``embedding::vector(dim)`` with inner-product distance (vectors are unit length, so the inner
  product is the cosine similarity numpy computes), created with the first vectors of that model. Dense kNN
  is one SQL query (``dense_search``), filtered by collection with pgvector's iterative index scan (0.8+), so
  a small collection in a large table still gets k hits.
- ``ByteaLayout`` (no extension, or turned off): table ``rag_vectors``, float32 blobs loaded into numpy by
  ``DenseRetriever``.

Both store float32 values exactly (pgvector keeps ``real``), so the two layouts read back the same matrix and
the store can move vectors from one to the other when it opens (``migrate``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg import sql

from ..types import Matrix

Cursor = psycopg.Cursor[Any]
Rows = Sequence[tuple[int, NDArray[np.float32]]]  # (chunk rowid, vector)

# Taken while an HNSW index is created, so replicas writing a new model's first vectors do not race.
_INDEX_LOCK = 0x5357_5241_48  # "SWRAH"
# pgvector's HNSW search breadth (hnsw.ef_search): candidates kept while walking the graph, at least k and
# within pgvector's bounds. More is slower and finds more of the exact top k (measured: NOTES.md).
DEFAULT_EF_SEARCH, EF_SEARCH_MAX = 200, 1000

PGVECTOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_embeddings (
    chunk BIGINT NOT NULL REFERENCES rag_chunks(rowid) ON DELETE CASCADE, model TEXT NOT NULL,
    collection TEXT NOT NULL, embedding vector NOT NULL, PRIMARY KEY (chunk, model));
CREATE INDEX IF NOT EXISTS rag_embeddings_model ON rag_embeddings(model, collection);
"""


def _blob(vector: NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _matrix(rows: list[Any], decode: Callable[[list[bytes]], Matrix]) -> tuple[NDArray[np.int64], Matrix]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, decode([r[1] for r in rows])


def _bytea_rows(blobs: list[bytes]) -> Matrix:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def _vector_send_rows(blobs: list[bytes]) -> Matrix:
    """pgvector's binary form (``vector_send``): int16 dimensions, int16 unused, big-endian float4 values."""
    dim = int.from_bytes(blobs[0][:2], "big")
    raw = np.frombuffer(b"".join(b[4:] for b in blobs), dtype=">f4")
    return raw.astype(np.float32).reshape(len(blobs), dim)


class VectorLayout(Protocol):
    name: str
    table: str
    column: str  # an expression of ``v`` that reads a vector as bytes

    def decode(self, blobs: list[bytes]) -> Matrix:
        """Rows of ``column`` as one float32 matrix."""
        ...

    def create(self, cur: Cursor) -> None: ...

    def write(self, cur: Cursor, model: str, rows: Rows) -> None:
        """Insert or replace the vectors of these chunks (they exist in ``rag_chunks``)."""
        ...


class ByteaLayout:
    name = "bytea"
    table = "rag_vectors"
    column = "v.vector"

    def decode(self, blobs: list[bytes]) -> Matrix:
        return _bytea_rows(blobs)

    def create(self, cur: Cursor) -> None:
        """``rag_vectors`` is part of the base schema."""

    def write(self, cur: Cursor, model: str, rows: Rows) -> None:
        cur.executemany(
            "INSERT INTO rag_vectors VALUES (%s, %s, %s)"
            " ON CONFLICT (chunk, model) DO UPDATE SET vector = EXCLUDED.vector",
            [(int(r), model, _blob(v)) for r, v in rows],
        )


def index_name(model: str, dim: int) -> str:
    return f"rag_embeddings_hnsw_{hashlib.sha256(model.encode()).hexdigest()[:16]}_{int(dim)}"


def _cast(dim: int) -> sql.Composable:
    return sql.SQL("(embedding::vector({}))").format(sql.Literal(int(dim)))


def _model_rows(model: str, dim: int) -> sql.Composable:
    """The partial index's predicate; literals, so that a prepared statement's generic plan still matches."""
    return sql.SQL("model = {} AND vector_dims(embedding) = {}").format(sql.Literal(model), sql.Literal(int(dim)))


class PgVectorLayout:
    name = "pgvector"
    table = "rag_embeddings"
    column = "vector_send(v.embedding)"

    def decode(self, blobs: list[bytes]) -> Matrix:
        return _vector_send_rows(blobs)

    def __init__(
        self,
        version: str,
        transaction: Callable[[], AbstractContextManager[Cursor]],
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        self.version = version
        self._tx = transaction
        self.ef_search = ef_search
        # Filtered HNSW scans keep searching until k rows pass the filter (pgvector 0.8.0 and later).
        self.iterative = tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) >= (0, 8)

    def create(self, cur: Cursor) -> None:
        cur.execute(PGVECTOR_SCHEMA)
        # ANALYZE would keep sampled vectors in pg_statistic, out of erasure's reach.
        cur.execute("ALTER TABLE rag_embeddings ALTER COLUMN embedding SET STATISTICS 0")

    def _ensure_index(self, cur: Cursor, model: str, dim: int) -> None:
        name = index_name(model, dim)
        cur.execute("SELECT to_regclass(%s)", (name,))
        row = cur.fetchone()
        if row is not None and row[0] is not None:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_INDEX_LOCK,))
        cur.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON rag_embeddings USING hnsw ({} vector_ip_ops) WHERE {}").format(
                sql.Identifier(name), _cast(dim), _model_rows(model, dim)
            )
        )
        # ANALYZE samples an expression index's values into pg_statistic too: not these
        cur.execute(sql.SQL("ALTER INDEX {} ALTER COLUMN 1 SET STATISTICS 0").format(sql.Identifier(name)))

    def write(self, cur: Cursor, model: str, rows: Rows) -> None:
        by_dim: dict[int, list[tuple[int, list[float]]]] = {}
        for rowid, vector in rows:
            flat = np.asarray(vector, dtype=np.float32).reshape(-1)
            by_dim.setdefault(flat.shape[0], []).append((int(rowid), flat.tolist()))
        for dim, items in by_dim.items():
            self._ensure_index(cur, model, dim)
            # float8[] -> vector: float32 values pass through double precision unchanged
            cur.executemany(
                "INSERT INTO rag_embeddings (chunk, model, collection, embedding)"
                " SELECT rowid, %s, collection, %s::float8[]::vector FROM rag_chunks WHERE rowid = %s"
                " ON CONFLICT (chunk, model) DO UPDATE SET embedding = EXCLUDED.embedding",
                [(model, values, rowid) for rowid, values in items],
            )

    @staticmethod
    def knn_statement(model: str, dim: int) -> sql.Composed:
        """The kNN query (parameters ``q``, ``c``, ``k``), shaped to match the partial HNSW index of (model, dim)."""
        distance = sql.SQL("{} <#> %(q)s::float8[]::vector({})").format(_cast(dim), sql.Literal(int(dim)))
        return sql.SQL(
            "SELECT chunk, {distance} FROM rag_embeddings WHERE {rows} AND collection = %(c)s"
            " ORDER BY {distance} LIMIT %(k)s"
        ).format(distance=distance, rows=_model_rows(model, dim))

    def dense_search(self, collection: str, model: str, vector: Matrix, k: int) -> list[tuple[int, float]]:
        """The ``k`` chunks of ``collection`` nearest to the unit-length ``vector`` by the HNSW index of
        (model, dimension); scores are inner products (cosine similarities), best first."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        dim = int(query.shape[0])
        if k <= 0 or dim == 0:
            return []
        ef = min(max(k, self.ef_search), EF_SEARCH_MAX)
        statement = self.knn_statement(model, dim)
        with self._tx() as cur:
            # SET LOCAL: for this query only, on whichever pooled connection runs it
            settings = "SELECT set_config('hnsw.ef_search', %s, true)"
            if self.iterative:
                settings += ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            cur.execute(settings, (str(ef),))
            cur.execute(statement, {"q": query.tolist(), "c": collection, "k": k})
            found = [(int(chunk), -float(d)) for chunk, d in cur.fetchall()]
        # relaxed_order may return near-ties out of order
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found


def export(cur: Cursor, layout: VectorLayout) -> Iterator[tuple[str, Rows]]:
    """Every vector in ``layout``'s table, per model (moving vectors between layouts)."""
    cur.execute(f"SELECT DISTINCT model FROM {layout.table} v")
    for (model,) in cur.fetchall():
        cur.execute(f"SELECT v.chunk, {layout.column} FROM {layout.table} v WHERE v.model = %s", (model,))
        ids, matrix = _matrix(cur.fetchall(), layout.decode)
        yield model, list(zip((int(i) for i in ids), matrix, strict=True))


def read(rows: list[Any], layout: VectorLayout) -> tuple[NDArray[np.int64], Matrix]:
    return _matrix(rows, layout.decode)
