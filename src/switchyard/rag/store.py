"""The RAG store seam: one small protocol; ``SQLiteRagStore`` is the embedded default (documents,
chunks, float32 vectors as blobs and an FTS5 index in one SQLite file). A server store (PostgreSQL with
pgvector, or Qdrant) implements the same protocol for scale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .types import Acl, Chunk, Collection

Matrix = NDArray[np.float32]


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


class RagStore(Protocol):
    # collections
    def create_collection(self, collection: Collection) -> None: ...

    def get_collection(self, name: str) -> Collection | None: ...

    def list_collections(self) -> list[Collection]: ...

    def set_acl(self, name: str, acl: Acl) -> None: ...

    def delete_collection(self, name: str) -> bool: ...

    def version(self, name: str) -> int:
        """Bumped on every change to the collection's chunks (in-memory indexes rebuild on change)."""
        ...

    # documents
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

    # retrieval
    def chunk_texts(self, collection: str) -> tuple[list[int], list[str]]:
        """Row ids and indexed texts of every chunk (for an in-memory lexical index)."""
        ...

    def vectors(self, collection: str, model: str) -> tuple[NDArray[np.int64], Matrix]: ...

    def missing_vectors(self, collection: str, model: str) -> tuple[list[int], list[str]]:
        """Row ids and indexed texts of chunks without a vector of ``model``."""
        ...

    def set_vectors(self, model: str, rowids: Sequence[int], matrix: Matrix) -> None: ...

    def drop_vectors(self, collection: str, model: str) -> None: ...

    def set_embed_model(self, name: str, model: str) -> None: ...

    def lexical_search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        """The store's own BM25 (FTS5), higher is better."""
        ...

    def chunks(self, rowids: Sequence[int]) -> dict[int, StoredChunk]: ...

    # answers cached by RAG chat (erased with what they cite)
    def cache_answer(self, collection_key: str, key: str, answer: str, doc_refs: Sequence[tuple[str, str]]) -> None: ...

    def cached_answer(self, key: str) -> str | None: ...

    def compact(self) -> None:
        """Make deletions physical: merge the lexical index, drop free pages."""
        ...

    def close(self) -> None: ...
