"""The embedded RAG store: one SQLite file with documents, chunks, vectors (float32 blobs) and an FTS5
index. ``secure_delete`` is on, so erased text is overwritten in place; ``compact`` merges the FTS5
segments and vacuums, after which the file holds no trace of erased documents."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import Conflict
from ..types import Acl, Chunk, Collection, Matrix
from .base import NewDocument, StoredChunk, indexed_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY, sensitivity TEXT NOT NULL, acl TEXT NOT NULL, embed_model TEXT NOT NULL,
    created REAL NOT NULL, version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE, id TEXT NOT NULL,
    title TEXT NOT NULL, subject TEXT, metadata TEXT NOT NULL, content_hash TEXT NOT NULL,
    text TEXT NOT NULL, ingested REAL NOT NULL, PRIMARY KEY (collection, id));
CREATE INDEX IF NOT EXISTS documents_subject ON documents(subject);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, collection TEXT NOT NULL, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    chunk_id TEXT NOT NULL, text TEXT NOT NULL, indexed TEXT NOT NULL, tokens INTEGER NOT NULL,
    heading TEXT NOT NULL, model TEXT, vector BLOB,  -- model/vector: unused since vectors moved out
    FOREIGN KEY (collection, doc_id) REFERENCES documents(collection, id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(collection, doc_id);
CREATE TABLE IF NOT EXISTS vectors (
    chunk INTEGER NOT NULL REFERENCES chunks(rowid) ON DELETE CASCADE, model TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (chunk, model)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_model ON vectors(model, chunk);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(indexed, tokenize = 'porter unicode61');
CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answer_refs (
    key TEXT NOT NULL REFERENCES answers(key) ON DELETE CASCADE, collection TEXT NOT NULL, doc_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS answer_refs_doc ON answer_refs(collection, doc_id);
"""

# Query words too common to help BM25 (FTS5 has no stop list of its own).
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "which",
        "with",
        "what",
        "when",
        "where",
        "who",
        "how",
        "why",
        "do",
        "does",
        "did",
        "not",
        "no",
        "can",
    ]
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The distinct words of a lexical query, lower-cased, without stop words."""
    return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in _STOP))


def fts_query(text: str) -> str:
    return " OR ".join(f'"{w}"' for w in query_words(text))


class SQLiteRagStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "secure_delete=ON", "synchronous=NORMAL"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(SCHEMA)
        # Vectors were once a column of chunks: move them to their own table (one row per model).
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO vectors SELECT rowid, model, vector FROM chunks WHERE vector IS NOT NULL")
            db.execute("UPDATE chunks SET vector = NULL, model = NULL WHERE vector IS NOT NULL")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- collections
    def create_collection(self, collection: Collection) -> None:
        acl = json.dumps(collection.acl.__dict__)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO collections (name, sensitivity, acl, embed_model, created) VALUES (?,?,?,?,?)",
                    (collection.name, collection.sensitivity, acl, collection.embed_model, time.time()),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"collection {collection.name!r} already exists", param="name") from None

    def _collection(self, row: Any) -> Collection:
        name, sensitivity, acl, model, created = row[:5]
        docs, chunks = self._q(
            "SELECT (SELECT count(*) FROM documents WHERE collection=?), (SELECT count(*) FROM chunks WHERE collection=?)",
            (name, name),
        )[0]
        return Collection(name, sensitivity, Acl(**json.loads(acl)), model, created, docs, chunks)

    def get_collection(self, name: str) -> Collection | None:
        rows = self._q("SELECT name, sensitivity, acl, embed_model, created FROM collections WHERE name=?", (name,))
        return self._collection(rows[0]) if rows else None

    def list_collections(self) -> list[Collection]:
        rows = self._q("SELECT name, sensitivity, acl, embed_model, created FROM collections ORDER BY name")
        return [self._collection(r) for r in rows]

    def set_acl(self, name: str, acl: Acl) -> None:
        with self._tx() as db:
            db.execute("UPDATE collections SET acl=? WHERE name=?", (json.dumps(acl.__dict__), name))

    def set_embed_model(self, name: str, model: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE collections SET embed_model=?, version=version+1 WHERE name=?", (model, name))

    def delete_collection(self, name: str) -> bool:
        with self._tx() as db:
            self._drop_fts(db, "collection=?", (name,))
            self._drop_answers(db, "collection=?", (name,))
            db.execute("DELETE FROM chunks WHERE collection=?", (name,))
            return db.execute("DELETE FROM collections WHERE name=?", (name,)).rowcount > 0

    def version(self, name: str) -> int:
        rows = self._q("SELECT version FROM collections WHERE name=?", (name,))
        return int(rows[0][0]) if rows else -1

    # --- documents
    def document_hash(self, collection: str, doc_id: str) -> str | None:
        rows = self._q("SELECT content_hash FROM documents WHERE collection=? AND id=?", (collection, doc_id))
        return str(rows[0][0]) if rows else None

    def known_vectors(self, collection: str, model: str, texts: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        out: dict[str, NDArray[np.float32]] = {}
        wanted = list(dict.fromkeys(texts))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for text, blob in self._q(
                "SELECT c.indexed, v.vector FROM chunks c JOIN vectors v ON v.chunk = c.rowid"
                f" WHERE c.collection=? AND v.model=? AND c.indexed IN ({marks})",
                (collection, model, *part),
            ):
                if blob is not None:
                    out[text] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_document(self, collection: str, doc: NewDocument, model: str) -> bool:
        with self._tx() as db:
            replaced = self._delete_docs(db, collection, [doc.id]) > 0
            db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
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
            for i, chunk in enumerate(doc.chunks):
                text = indexed_text(doc.title, chunk)
                cur = db.execute(
                    "INSERT INTO chunks (collection, doc_id, ordinal, chunk_id, text, indexed, tokens, heading)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (collection, doc.id, chunk.ordinal, chunk.id, chunk.text, text, chunk.tokens, chunk.heading),
                )
                db.execute("INSERT INTO chunks_fts (rowid, indexed) VALUES (?, ?)", (cur.lastrowid, text))
                if doc.vectors is not None:
                    vec = np.ascontiguousarray(doc.vectors[i], dtype=np.float32).tobytes()
                    db.execute("INSERT INTO vectors VALUES (?,?,?)", (cur.lastrowid, model, vec))
            db.execute("UPDATE collections SET version=version+1 WHERE name=?", (collection,))
        return replaced

    @staticmethod
    def _drop_fts(db: sqlite3.Connection, where: str, args: Sequence[Any]) -> None:
        db.execute(f"DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE {where})", args)

    @staticmethod
    def _drop_answers(db: sqlite3.Connection, where: str, args: Sequence[Any]) -> None:
        db.execute(f"DELETE FROM answers WHERE key IN (SELECT key FROM answer_refs WHERE {where})", args)

    def _delete_docs(self, db: sqlite3.Connection, collection: str, doc_ids: Sequence[str]) -> int:
        n = 0
        for doc_id in doc_ids:
            args = (collection, doc_id)
            self._drop_fts(db, "collection=? AND doc_id=?", args)
            self._drop_answers(db, "collection=? AND doc_id=?", args)
            db.execute("DELETE FROM chunks WHERE collection=? AND doc_id=?", args)
            n += db.execute("DELETE FROM documents WHERE collection=? AND id=?", args).rowcount
        return n

    def delete_documents(self, collection: str, doc_ids: Sequence[str]) -> int:
        with self._tx() as db:
            n = self._delete_docs(db, collection, doc_ids)
            db.execute("UPDATE collections SET version=version+1 WHERE name=?", (collection,))
        return n

    def delete_subject(self, subject: str, collections: Sequence[str] | None = None) -> dict[str, int]:
        erased: dict[str, int] = {}
        with self._tx() as db:
            rows = db.execute("SELECT collection, id FROM documents WHERE subject=?", (subject,)).fetchall()
            for collection, doc_id in rows:
                if collections is not None and collection not in collections:
                    continue
                erased[collection] = erased.get(collection, 0) + self._delete_docs(db, collection, [doc_id])
            for collection in erased:
                db.execute("UPDATE collections SET version=version+1 WHERE name=?", (collection,))
        return erased

    def list_documents(self, collection: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = self._q(
            "SELECT id, title, subject, metadata, content_hash, ingested,"
            " (SELECT count(*) FROM chunks c WHERE c.collection=d.collection AND c.doc_id=d.id)"
            " FROM documents d WHERE collection=? ORDER BY id LIMIT ? OFFSET ?",
            (collection, limit, offset),
        )
        keys = ("id", "title", "subject", "metadata", "content_hash", "ingested", "chunks")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for d in out:
            d["metadata"] = json.loads(d["metadata"])
        return out

    # --- retrieval
    def chunk_texts(self, collection: str) -> tuple[list[int], list[str]]:
        rows = self._q("SELECT rowid, indexed FROM chunks WHERE collection=? ORDER BY rowid", (collection,))
        return [r[0] for r in rows], [r[1] for r in rows]

    def missing_vectors(self, collection: str, model: str) -> tuple[list[int], list[str]]:
        rows = self._q(
            "SELECT rowid, indexed FROM chunks c WHERE collection=? AND NOT EXISTS"
            " (SELECT 1 FROM vectors v WHERE v.chunk = c.rowid AND v.model = ?) ORDER BY rowid",
            (collection, model),
        )
        return [r[0] for r in rows], [r[1] for r in rows]

    def set_vectors(self, model: str, rowids: Sequence[int], matrix: Matrix) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                [
                    (r, model, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                    for r, v in zip(rowids, matrix, strict=True)
                ],
            )

    def drop_vectors(self, collection: str, model: str) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM vectors WHERE model=? AND chunk IN (SELECT rowid FROM chunks WHERE collection=?)",
                (model, collection),
            )

    def vectors(self, collection: str, model: str) -> tuple[NDArray[np.int64], Matrix]:
        rows = self._q(
            "SELECT c.rowid, v.vector FROM chunks c JOIN vectors v ON v.chunk = c.rowid"
            " WHERE c.collection=? AND v.model=? ORDER BY c.rowid",
            (collection, model),
        )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return ids, matrix

    def lexical_search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        match = fts_query(query)
        if not match:
            return []
        rows = self._q(
            "SELECT f.rowid, -bm25(chunks_fts) AS s FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid"
            " WHERE chunks_fts MATCH ? AND c.collection = ? ORDER BY bm25(chunks_fts) LIMIT ?",
            (match, collection, k),
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def chunks(self, rowids: Sequence[int]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        ids = list(rowids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._q(
                "SELECT c.rowid, c.collection, c.chunk_id, c.doc_id, c.ordinal, c.text, c.tokens, c.heading, d.title,"
                f" d.subject, d.metadata FROM chunks c JOIN documents d ON d.collection=c.collection AND d.id=c.doc_id"
                f" WHERE c.rowid IN ({marks})",
                part,
            ):
                rowid, collection, cid, doc_id, ordinal, text, tokens, heading, title, subject, meta = row
                chunk = Chunk(cid, doc_id, ordinal, text, tokens, heading)
                out[rowid] = StoredChunk(rowid, chunk, collection, title, subject, json.loads(meta))
        return out

    # --- cached answers
    def cache_answer(self, collection_key: str, key: str, answer: str, doc_refs: Sequence[tuple[str, str]]) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO answers VALUES (?,?,?)", (key, answer, time.time()))
            db.execute("DELETE FROM answer_refs WHERE key=?", (key,))
            db.executemany("INSERT INTO answer_refs VALUES (?,?,?)", [(key, c, d) for c, d in doc_refs])

    def cached_answer(self, key: str) -> str | None:
        rows = self._q("SELECT answer FROM answers WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def compact(self) -> None:
        with self._lock:
            self._db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
