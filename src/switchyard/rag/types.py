"""Records of the RAG store: collections, documents, chunks, and search hits with per-stage scores; and
``Matrix``, the float32 rows (one unit-length vector each) that embedders give and stores keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
Sensitivity = Literal["public", "internal", "confidential"]
SENSITIVITIES: tuple[str, ...] = ("public", "internal", "confidential")


@dataclass
class Acl:
    """Teams allowed to read (search, RAG chat), write (add/delete documents) and administer (delete the
    collection, change its ACL). ``"*"`` stands for every team. Admin implies write implies read."""

    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)
    admin: list[str] = field(default_factory=list)


@dataclass
class Collection:
    name: str
    sensitivity: Sensitivity = "internal"
    acl: Acl = field(default_factory=Acl)
    embed_model: str = ""  # the model id of the vectors stored for this collection
    created: float = 0.0
    documents: int = 0
    chunks: int = 0


@dataclass
class Document:
    """A document as given to ingest: ``id`` is the caller's (stable across re-ingests)."""

    id: str
    text: str
    title: str = ""
    subject: str | None = None  # the data subject the document is about (for erasure)
    metadata: dict[str, Any] = field(default_factory=dict)
    format: str = "txt"  # txt | md | html (pdf is converted to text before it becomes a Document)


@dataclass
class Chunk:
    """One stored piece of a document. ``id`` is ``<doc id>#<ordinal>``; ``heading`` is the section path."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    tokens: int
    heading: str = ""


@dataclass
class Hit:
    """A search result: the chunk, its final score, each stage's score and rank, and where it came from."""

    chunk: Chunk
    score: float
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> {"score", "rank"}
    collection: str = ""
    title: str = ""
    subject: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "document": self.chunk.doc_id,
            "chunk": self.chunk.id,
            "title": self.title,
            "heading": self.chunk.heading,
            "metadata": self.metadata,
        }
