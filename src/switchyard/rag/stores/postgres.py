"""The RAG store on a PostgreSQL server (``rag.store: postgres``), for collections larger than one
SQLite file should hold or shared by several gateway replicas. Same tables as the embedded store, prefixed
``rag_``. Vectors live in pgvector columns with an HNSW index when the server has the ``vector`` extension
(dense kNN in SQL, approximate), else in float32 blobs (``bytea``) loaded into numpy, as in the embedded
store (``postgres_vectors``). The store's own lexical search is PostgreSQL full-text search (an ``english`` tsvector
with a GIN index, query words OR-ed, ranked by ``ts_rank_cd``): its scores are cover-density ranks, not
BM25, and differ from FTS5's. ``compact`` runs ``VACUUM (FULL)`` so erased rows leave the table files
(content and vector columns are never sampled into pg_statistic); the write-ahead log, WAL archives, backups and
replicas keep them until those are recycled, which is the server operator's side of erasure."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg_pool import ConnectionPool, PoolTimeout

from ...errors import ConfigError, Conflict, StoreUnavailable
from ..types import Acl, Chunk, Collection, Matrix
from .base import DenseSearch, NewDocument, StoredChunk, indexed_text
from .postgres_vectors import DEFAULT_EF_SEARCH, ByteaLayout, PgVectorLayout, VectorLayout, export, read
from .sqlite import query_words

SCHEMA_VERSION = 2  # 2: vectors in rag_embeddings (pgvector) when the server has the extension
# Taken while the schema is created, so replicas opening the store at once do not race.
_SCHEMA_LOCK = 0x5357_5241_47  # "SWRAG"

SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rag_collections (
    name TEXT PRIMARY KEY, sensitivity TEXT NOT NULL, acl TEXT NOT NULL, embed_model TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, version BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rag_documents (
    collection TEXT NOT NULL REFERENCES rag_collections(name) ON DELETE CASCADE, id TEXT NOT NULL,
    title TEXT NOT NULL, subject TEXT, metadata TEXT NOT NULL, content_hash TEXT NOT NULL,
    text TEXT NOT NULL, ingested DOUBLE PRECISION NOT NULL, PRIMARY KEY (collection, id));
CREATE INDEX IF NOT EXISTS rag_documents_subject ON rag_documents(subject);
CREATE TABLE IF NOT EXISTS rag_chunks (
    rowid BIGSERIAL PRIMARY KEY, collection TEXT NOT NULL, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    chunk_id TEXT NOT NULL, text TEXT NOT NULL, indexed TEXT NOT NULL, tokens INTEGER NOT NULL,
    heading TEXT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, indexed)) STORED,
    FOREIGN KEY (collection, doc_id) REFERENCES rag_documents(collection, id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS rag_chunks_doc ON rag_chunks(collection, doc_id);
CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING GIN (tsv);
CREATE TABLE IF NOT EXISTS rag_vectors (
    chunk BIGINT NOT NULL REFERENCES rag_chunks(rowid) ON DELETE CASCADE, model TEXT NOT NULL,
    vector BYTEA NOT NULL, PRIMARY KEY (chunk, model));
CREATE INDEX IF NOT EXISTS rag_vectors_model ON rag_vectors(model, chunk);
CREATE TABLE IF NOT EXISTS rag_answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS rag_answer_refs (
    key TEXT NOT NULL REFERENCES rag_answers(key) ON DELETE CASCADE, collection TEXT NOT NULL,
    doc_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rag_answer_refs_doc ON rag_answer_refs(collection, doc_id);
"""

# ANALYZE keeps sample values of columns in pg_statistic, where erasure cannot reach them: columns that hold
# content, titles or data subjects are never sampled.
NO_STATISTICS = {
    "rag_documents": ("title", "subject", "metadata", "text"),
    "rag_chunks": ("text", "indexed", "heading", "tsv"),
    "rag_answers": ("answer",),
    "rag_vectors": ("vector",),
}

# Every table of the store, in the order ``compact`` rewrites them (``rag_embeddings`` when it exists).
TABLES = ("rag_collections", "rag_documents", "rag_chunks", "rag_vectors", "rag_answers", "rag_answer_refs")

DEFAULT_POOL_SIZE = 4

Cursor = psycopg.Cursor[Any]
log = logging.getLogger(__name__)


class PostgresRagStore:
    """A pool of connections (autocommit, explicit transactions) shared by the service's threads: up to
    ``pool_size`` calls run at once. A connection is checked before use and replaced when the server dropped
    it; no connection within ``connect_timeout`` seconds (a server gone, or every connection busy) is
    ``StoreUnavailable`` (503).

    ``pgvector``: use the server's ``vector`` extension when it can be created (dense kNN in SQL through an
    HNSW index, see ``postgres_vectors``, searching ``ef_search`` candidates); False keeps vectors as bytea
    for numpy."""

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 10.0,
        pool_size: int = DEFAULT_POOL_SIZE,
        pgvector: bool = True,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        if pool_size < 1:
            raise ConfigError("rag.postgres_pool_size must be at least 1")
        self._timeout = max(1.0, float(connect_timeout))
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            check=ConnectionPool.check_connection,
            timeout=self._timeout,
            name="switchyard-rag",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=self._timeout)
        except PoolTimeout:
            self._pool.close()
            # The DSN may hold a password: name the failure, not the DSN.
            raise ConfigError("rag.store postgres: cannot connect to PostgreSQL") from None
        try:
            self._layout: VectorLayout = self._open(pgvector, ef_search)
        except BaseException:
            self._pool.close()
            raise
        self._native: PgVectorLayout | None = self._layout if isinstance(self._layout, PgVectorLayout) else None
        with self._tx() as cur:
            cur.execute("SELECT to_regclass('rag_embeddings')")
            row = cur.fetchone()
        self.tables = TABLES + (("rag_embeddings",) if row is not None and row[0] is not None else ())

    def _extension(self) -> str | None:
        """pgvector's version once ``CREATE EXTENSION IF NOT EXISTS vector`` succeeded, else None."""
        with self._connection() as conn:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                    row = cur.fetchone()
            except psycopg.Error as exc:
                if conn.broken:
                    raise  # the server, not the extension, is missing
                log.info("rag store postgres: the vector extension is not available (%s)", type(exc).__name__)
                return None
        return str(row[0]) if row else None

    def _open(self, pgvector: bool, ef_search: int) -> VectorLayout:
        version = self._extension() if pgvector else None
        layout: VectorLayout = PgVectorLayout(version, self._tx, ef_search) if version else ByteaLayout()
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cur.execute(SCHEMA)
            layout.create(cur)
            for table, columns in NO_STATISTICS.items():
                alter = ", ".join(f"ALTER COLUMN {c} SET STATISTICS 0" for c in columns)
                cur.execute(f"ALTER TABLE {table} {alter}")
            cur.execute(
                "INSERT INTO rag_meta VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )
            cur.execute("SELECT value FROM rag_meta WHERE key = 'schema_version'")
            row = cur.fetchone()
            found = int(row[0]) if row else SCHEMA_VERSION
            if found > SCHEMA_VERSION:
                raise ConfigError(f"the RAG tables are schema version {found}; this switchyard knows {SCHEMA_VERSION}")
            cur.execute("UPDATE rag_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            moved = self._migrate(cur, layout)
        if version:
            log.info("rag store postgres: pgvector %s, dense kNN in SQL (HNSW, inner product)", version)
        else:
            log.info("rag store postgres: vectors as bytea, dense kNN by numpy in the gateway")
        if moved:  # replicas still on the other layout no longer see them: all must share rag.postgres_pgvector
            log.warning("rag store postgres: moved %d vectors into the %s layout", moved, layout.name)
        return layout

    @staticmethod
    def _migrate(cur: Cursor, layout: VectorLayout) -> int:
        """Vectors stored by the other layout (the extension was installed or turned off since) move here."""
        others: list[VectorLayout] = [ByteaLayout()]
        cur.execute("SELECT to_regclass('rag_embeddings') IS NOT NULL")
        row = cur.fetchone()
        if row is not None and row[0]:
            others.append(PgVectorLayout("0", lambda: nullcontext(cur)))
        moved = 0
        for other in others:
            if other.table == layout.table:
                continue
            for model, rows in export(cur, other):
                layout.write(cur, model, rows)
                moved += len(rows)
            cur.execute(f"DELETE FROM {other.table}")
        return moved

    @property
    def vector_layout(self) -> str:
        """``pgvector`` or ``bytea``: where the vectors are and who answers dense kNN."""
        return self._layout.name

    def native_dense(self) -> DenseSearch | None:
        """pgvector's kNN when the store has it, else None (``DenseRetriever`` loads ``vectors`` into numpy)."""
        return self._native

    @property
    def dsn(self) -> str:
        """The connection's parameters without its password."""
        with self._connection() as conn:
            return conn.info.dsn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A live connection of the pool; a lost server becomes ``StoreUnavailable``."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            # PoolTimeout (no connection within the timeout) is an OperationalError too
            raise StoreUnavailable(f"the RAG store (PostgreSQL) did not answer: {type(exc).__name__}") from None

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    # --- collections
    def create_collection(self, collection: Collection) -> None:
        acl = json.dumps(collection.acl.__dict__)
        try:
            with self._tx() as cur:
                cur.execute(
                    "INSERT INTO rag_collections (name, sensitivity, acl, embed_model, created)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (collection.name, collection.sensitivity, acl, collection.embed_model, time.time()),
                )
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"collection {collection.name!r} already exists", param="name") from None

    def _collections(self, where: str, args: Sequence[Any]) -> list[Collection]:
        rows = self._q(
            "SELECT name, sensitivity, acl, embed_model, created,"
            " (SELECT count(*) FROM rag_documents d WHERE d.collection = c.name),"
            " (SELECT count(*) FROM rag_chunks k WHERE k.collection = c.name)"
            f" FROM rag_collections c {where} ORDER BY name",
            args,
        )
        return [
            Collection(name, sens, Acl(**json.loads(acl)), model, created, int(docs), int(chunks))
            for name, sens, acl, model, created, docs, chunks in rows
        ]

    def get_collection(self, name: str) -> Collection | None:
        found = self._collections("WHERE name = %s", (name,))
        return found[0] if found else None

    def list_collections(self) -> list[Collection]:
        return self._collections("", ())

    def set_acl(self, name: str, acl: Acl) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE rag_collections SET acl = %s WHERE name = %s", (json.dumps(acl.__dict__), name))

    def set_embed_model(self, name: str, model: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE rag_collections SET embed_model = %s, version = version + 1 WHERE name = %s", (model, name)
            )

    def delete_collection(self, name: str) -> bool:
        with self._tx() as cur:
            self._drop_answers(cur, "collection = %s", (name,))
            # documents, chunks and vectors go with the collection (ON DELETE CASCADE)
            cur.execute("DELETE FROM rag_collections WHERE name = %s", (name,))
            return cur.rowcount > 0

    def version(self, name: str) -> int:
        rows = self._q("SELECT version FROM rag_collections WHERE name = %s", (name,))
        return int(rows[0][0]) if rows else -1

    # --- documents
    def document_hash(self, collection: str, doc_id: str) -> str | None:
        rows = self._q("SELECT content_hash FROM rag_documents WHERE collection = %s AND id = %s", (collection, doc_id))
        return str(rows[0][0]) if rows else None

    def known_vectors(self, collection: str, model: str, texts: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        wanted = list(dict.fromkeys(texts))
        if not wanted:
            return {}
        layout = self._layout
        rows = self._q(
            f"SELECT c.indexed, {layout.column} FROM rag_chunks c JOIN {layout.table} v ON v.chunk = c.rowid"
            " WHERE c.collection = %s AND v.model = %s AND c.indexed = ANY(%s)",
            (collection, model, wanted),
        )
        if not rows:
            return {}
        return dict(zip((r[0] for r in rows), layout.decode([r[1] for r in rows]), strict=True))

    def put_document(self, collection: str, doc: NewDocument, model: str) -> bool:
        with self._tx() as cur:
            replaced = self._delete_docs(cur, collection, [doc.id]) > 0
            cur.execute(
                "INSERT INTO rag_documents VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    collection,
                    doc.id,
                    doc.title,
                    doc.subject,
                    json.dumps(doc.metadata),
                    doc.content_hash,
                    doc.text,
                    time.time(),
                ),
            )
            rows: list[tuple[int, NDArray[np.float32]]] = []
            for i, chunk in enumerate(doc.chunks):
                cur.execute(
                    "INSERT INTO rag_chunks (collection, doc_id, ordinal, chunk_id, text, indexed, tokens, heading)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING rowid",
                    (
                        collection,
                        doc.id,
                        chunk.ordinal,
                        chunk.id,
                        chunk.text,
                        indexed_text(doc.title, chunk),
                        chunk.tokens,
                        chunk.heading,
                    ),
                )
                row = cur.fetchone()
                if doc.vectors is not None and row is not None:
                    rows.append((int(row[0]), doc.vectors[i]))
            if rows:
                self._layout.write(cur, model, rows)
            cur.execute("UPDATE rag_collections SET version = version + 1 WHERE name = %s", (collection,))
        return replaced

    @staticmethod
    def _drop_answers(cur: Cursor, where: str, args: Sequence[Any]) -> None:
        cur.execute(f"DELETE FROM rag_answers WHERE key IN (SELECT key FROM rag_answer_refs WHERE {where})", args)

    def _delete_docs(self, cur: Cursor, collection: str, doc_ids: Sequence[str]) -> int:
        ids = list(doc_ids)
        self._drop_answers(cur, "collection = %s AND doc_id = ANY(%s)", (collection, ids))
        # chunks and their vectors go with the document (ON DELETE CASCADE)
        cur.execute("DELETE FROM rag_documents WHERE collection = %s AND id = ANY(%s)", (collection, ids))
        return cur.rowcount

    def delete_documents(self, collection: str, doc_ids: Sequence[str]) -> int:
        with self._tx() as cur:
            n = self._delete_docs(cur, collection, doc_ids)
            cur.execute("UPDATE rag_collections SET version = version + 1 WHERE name = %s", (collection,))
        return n

    def delete_subject(self, subject: str, collections: Sequence[str] | None = None) -> dict[str, int]:
        erased: dict[str, int] = {}
        with self._tx() as cur:
            cur.execute("SELECT collection, id FROM rag_documents WHERE subject = %s ORDER BY collection", (subject,))
            by_collection: dict[str, list[str]] = {}
            for collection, doc_id in cur.fetchall():
                if collections is None or collection in collections:
                    by_collection.setdefault(collection, []).append(doc_id)
            for collection, ids in by_collection.items():
                erased[collection] = self._delete_docs(cur, collection, ids)
                cur.execute("UPDATE rag_collections SET version = version + 1 WHERE name = %s", (collection,))
        return erased

    def list_documents(self, collection: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = self._q(
            "SELECT id, title, subject, metadata, content_hash, ingested,"
            " (SELECT count(*) FROM rag_chunks c WHERE c.collection = d.collection AND c.doc_id = d.id)"
            " FROM rag_documents d WHERE collection = %s ORDER BY id LIMIT %s OFFSET %s",
            (collection, limit, offset),
        )
        keys = ("id", "title", "subject", "metadata", "content_hash", "ingested", "chunks")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for d in out:
            d["metadata"] = json.loads(d["metadata"])
            d["chunks"] = int(d["chunks"])
        return out

    # --- retrieval
    def chunk_texts(self, collection: str) -> tuple[list[int], list[str]]:
        rows = self._q("SELECT rowid, indexed FROM rag_chunks WHERE collection = %s ORDER BY rowid", (collection,))
        return [int(r[0]) for r in rows], [r[1] for r in rows]

    def missing_vectors(self, collection: str, model: str) -> tuple[list[int], list[str]]:
        rows = self._q(
            "SELECT rowid, indexed FROM rag_chunks c WHERE collection = %s AND NOT EXISTS"
            f" (SELECT 1 FROM {self._layout.table} v WHERE v.chunk = c.rowid AND v.model = %s) ORDER BY rowid",
            (collection, model),
        )
        return [int(r[0]) for r in rows], [r[1] for r in rows]

    def set_vectors(self, model: str, rowids: Sequence[int], matrix: Matrix) -> None:
        rows = [(int(r), v) for r, v in zip(rowids, matrix, strict=True)]
        with self._tx() as cur:
            self._layout.write(cur, model, rows)

    def drop_vectors(self, collection: str, model: str) -> None:
        with self._tx() as cur:
            cur.execute(
                f"DELETE FROM {self._layout.table} WHERE model = %s"
                " AND chunk IN (SELECT rowid FROM rag_chunks WHERE collection = %s)",
                (model, collection),
            )

    def vectors(self, collection: str, model: str) -> tuple[NDArray[np.int64], Matrix]:
        layout = self._layout
        rows = self._q(
            f"SELECT c.rowid, {layout.column} FROM rag_chunks c JOIN {layout.table} v ON v.chunk = c.rowid"
            " WHERE c.collection = %s AND v.model = %s ORDER BY c.rowid",
            (collection, model),
        )
        return read(rows, layout)

    def lexical_search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        """Full-text search: the query's words OR-ed (``websearch_to_tsquery``), ranked by ``ts_rank_cd``
        (cover density; not BM25, so its scale differs from FTS5's), higher is better."""
        words = query_words(query)
        if not words:
            return []
        rows = self._q(
            "SELECT c.rowid, ts_rank_cd(c.tsv, q) AS s"
            " FROM rag_chunks c, websearch_to_tsquery('english'::regconfig, %s) q"
            " WHERE c.collection = %s AND c.tsv @@ q ORDER BY s DESC, c.rowid LIMIT %s",
            (" or ".join(words), collection, k),
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def chunks(self, rowids: Sequence[int]) -> dict[int, StoredChunk]:
        ids = [int(r) for r in rowids]
        if not ids:
            return {}
        out: dict[int, StoredChunk] = {}
        for row in self._q(
            "SELECT c.rowid, c.collection, c.chunk_id, c.doc_id, c.ordinal, c.text, c.tokens, c.heading, d.title,"
            " d.subject, d.metadata FROM rag_chunks c"
            " JOIN rag_documents d ON d.collection = c.collection AND d.id = c.doc_id WHERE c.rowid = ANY(%s)",
            (ids,),
        ):
            rowid, collection, cid, doc_id, ordinal, text, tokens, heading, title, subject, meta = row
            chunk = Chunk(cid, doc_id, ordinal, text, tokens, heading)
            out[int(rowid)] = StoredChunk(int(rowid), chunk, collection, title, subject, json.loads(meta))
        return out

    # --- cached answers
    def cache_answer(self, collection_key: str, key: str, answer: str, doc_refs: Sequence[tuple[str, str]]) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO rag_answers VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET answer = EXCLUDED.answer, created = EXCLUDED.created",
                (key, answer, time.time()),
            )
            cur.execute("DELETE FROM rag_answer_refs WHERE key = %s", (key,))
            if doc_refs:
                cur.executemany("INSERT INTO rag_answer_refs VALUES (%s, %s, %s)", [(key, c, d) for c, d in doc_refs])

    def cached_answer(self, key: str) -> str | None:
        rows = self._q("SELECT answer FROM rag_answers WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def compact(self) -> None:
        """Rewrite every RAG table and its indexes (``VACUUM (FULL)``, outside a transaction): erased rows
        leave the table, TOAST and index files. Takes an exclusive lock on each table while it runs."""
        with self._connection() as conn, conn.cursor() as cur:
            for table in self.tables:
                cur.execute(f"VACUUM (FULL) {table}")

    def relation_files(self) -> list[str]:
        """Paths (relative to the data directory) of the RAG tables' files, their TOAST tables and indexes."""
        rows = self._q(
            "SELECT pg_relation_filepath(r.oid) FROM pg_class r"
            " WHERE r.oid IN (SELECT oid FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r')"
            " OR r.oid IN (SELECT reltoastrelid FROM pg_class WHERE relname = ANY(%s))"
            " OR r.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            "   WHERE t.relname = ANY(%s) OR t.oid IN (SELECT reltoastrelid FROM pg_class WHERE relname = ANY(%s)))",
            (list(self.tables),) * 4,
        )
        return sorted(str(r[0]) for r in rows if r[0])

    def close(self) -> None:
        self._pool.close()
