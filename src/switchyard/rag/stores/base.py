"""The RAG store seam, split by concern: ``CollectionStore`` (collections and their ACLs), ``DocumentStore``
(documents, their chunks' vectors, erasure), ``ChunkIndex`` (what lexical and dense retrieval read) and
``AnswerCache`` (answers cached by RAG chat). ``RagStore`` is all four plus upkeep; ``SQLiteRagStore`` is the
embedded default (documents, chunks, float32 vectors as blobs and an FTS5 index in one SQLite file), and
``PostgresRagStore`` the server store. A caller that needs one concern takes that protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..types import Acl, Chunk, Collection, Matrix


def indexed_text(title: str, chunk: Chunk) -> str:
    """What the lexical and dense indexes see: title and section path give a chunk its context."""
    head = " / ".join(p for p in (title, chunk.heading) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


@dataclass
class StoredChunk:
    """A chunk with the document fields a hit needs (provenance)."""

    rowid: int
    chunk: Chunk
    collection: str = ""
    title: str = ""
    subject: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewDocument:
    """A chunked (and embedded) document, ready to replace any earlier version of itself."""

    id: str
    title: str
    subject: str | None
    metadata: dict[str, Any]
    content_hash: str
    text: str
    chunks: list[Chunk]
    vectors: Matrix | None  # one row per chunk, unit length; None when the collection has no dense index


class DenseSearch(Protocol):
    """Dense kNN answered by the store itself (pgvector's HNSW index) instead of numpy in the gateway."""

    def dense_search(self, collection: str, model: str, vector: Matrix, k: int) -> list[tuple[int, float]]:
        """The ``k`` chunks of ``collection`` nearest to the unit-length ``vector`` among ``model``'s vectors:
        (row id, cosine similarity), best first."""
        ...


class NativeDense(Protocol):
    """A store capability: ``native_dense()`` gives its own kNN, or None when it has none at present."""

    def native_dense(self) -> DenseSearch | None: ...


def native_dense(store: object) -> DenseSearch | None:
    """``store``'s own dense search when it offers one (an optional capability, not part of ``RagStore``)."""
    offer = getattr(store, "native_dense", None)
    return offer() if callable(offer) else None  # type: ignore[no-any-return]


class CollectionStore(Protocol):
    """Collections: their sensitivity, ACL and the embedding model their dense index is read with."""

    def create_collection(self, collection: Collection) -> None: ...

    def get_collection(self, name: str) -> Collection | None: ...

    def list_collections(self) -> list[Collection]: ...

    def set_acl(self, name: str, acl: Acl) -> None: ...

    def set_embed_model(self, name: str, model: str) -> None: ...

    def delete_collection(self, name: str) -> bool: ...


class DocumentStore(Protocol):
    """Documents and their chunks' vectors: what ingest writes and erasure removes."""

    def document_hash(self, collection: str, doc_id: str) -> str | None: ...

    def known_vectors(self, collection: str, model: str, texts: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors of chunks with exactly these texts (re-ingest reuses them)."""
        ...

    def put_document(self, collection: str, doc: NewDocument, model: str) -> bool:
        """Store ``doc``, replacing its earlier chunks; True when it replaced an earlier version."""
        ...

    def delete_documents(self, collection: str, doc_ids: Sequence[str]) -> int: ...

    def delete_subject(self, subject: str, collections: Sequence[str] | None = None) -> dict[str, int]:
        """Erase every document about ``subject``; returns documents erased per collection."""
        ...

    def list_documents(self, collection: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]: ...

    def missing_vectors(self, collection: str, model: str) -> tuple[list[int], list[str]]:
        """Row ids and indexed texts of chunks without a vector of ``model``."""
        ...

    def set_vectors(self, model: str, rowids: Sequence[int], matrix: Matrix) -> None: ...

    def drop_vectors(self, collection: str, model: str) -> None: ...


class ChunkIndex(Protocol):
    """What retrieval reads: a collection's chunk texts and vectors, the store's own BM25, and the chunks
    (with provenance) behind the row ids a ranking returns."""

    def version(self, name: str) -> int:
        """Bumped on every change to the collection's chunks (in-memory indexes rebuild on change)."""
        ...

    def chunk_texts(self, collection: str) -> tuple[list[int], list[str]]:
        """Row ids and indexed texts of every chunk (for an in-memory lexical index)."""
        ...

    def vectors(self, collection: str, model: str) -> tuple[NDArray[np.int64], Matrix]: ...

    def lexical_search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        """The store's own BM25 (FTS5), higher is better."""
        ...

    def chunks(self, rowids: Sequence[int]) -> dict[int, StoredChunk]: ...


class AnswerCache(Protocol):
    """Answers cached by RAG chat, erased with the documents they cite."""

    def cache_answer(self, collection_key: str, key: str, answer: str, doc_refs: Sequence[tuple[str, str]]) -> None: ...

    def cached_answer(self, key: str) -> str | None: ...


class RagStore(CollectionStore, DocumentStore, ChunkIndex, AnswerCache, Protocol):
    """The whole store, as ``SQLiteRagStore`` and ``PostgresRagStore`` implement it."""

    def compact(self) -> None:
        """Make deletions physical: merge the lexical index, drop free pages."""
        ...

    def close(self) -> None: ...
