"""Ingest: documents are chunked, embedded in batches (re-using the stored vectors of unchanged chunk
texts) and stored; an unchanged document (same content hash) is skipped, a changed one replaces its
chunks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from ...errors import InvalidRequest
from ..stores.base import NewDocument, RagStore, indexed_text
from ..types import Chunk, Document
from .chunking import ChunkOptions, chunk_document
from .embed import Embedder
from .tokenize import Tokenizer


@dataclass
class IngestReport:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0  # chunk texts that needed the embedding model (others reused stored vectors)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def content_hash(doc: Document, options: ChunkOptions) -> str:
    h = hashlib.sha256()
    for part in (doc.title, doc.format, doc.subject or "", json.dumps(doc.metadata, sort_keys=True), doc.text):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(f"{options.max_tokens}:{options.overlap}".encode())
    return h.hexdigest()


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield batch


class Ingestor:
    def __init__(
        self,
        store: RagStore,
        tokenizer: Tokenizer,
        embedder: Embedder | None,
        options: ChunkOptions | None = None,
        batch_size: int = 64,
    ) -> None:
        self.store = store
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.options = options or ChunkOptions()
        self.batch_size = batch_size

    def ingest(
        self, collection: str, docs: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> IngestReport:
        """Blocking; ``progress`` is told how many documents each batch finished."""
        if self.store.get_collection(collection) is None:
            raise InvalidRequest(f"no collection {collection!r}", param="collection")
        report = IngestReport()
        model = self.embedder.vectors_id if self.embedder else ""
        for batch in _batches(docs, self.batch_size):
            todo: list[tuple[Document, str, list[Chunk]]] = []
            for doc in batch:
                if not doc.id:
                    raise InvalidRequest("every document needs an id", param="id")
                digest = content_hash(doc, self.options)
                if self.store.document_hash(collection, doc.id) == digest:
                    report.unchanged += 1
                    continue
                todo.append((doc, digest, chunk_document(doc, self.tokenizer, self.options)))
            vectors = self._embed(collection, model, todo, report)
            for doc, digest, chunks in todo:
                rows = None if vectors is None else np.stack([vectors[indexed_text(doc.title, c)] for c in chunks])
                if not chunks:
                    rows = None
                new = NewDocument(doc.id, doc.title, doc.subject, doc.metadata, digest, doc.text, chunks, rows)
                if self.store.put_document(collection, new, model):
                    report.replaced += 1
                else:
                    report.added += 1
                report.chunks += len(chunks)
            if progress:
                progress(len(batch))
        self.fill_vectors(collection, report)
        return report

    def fill_vectors(self, collection: str, report: IngestReport | None = None, batch: int = 512) -> int:
        """Embed the chunks that have no vector of this ingestor's model yet (a collection switched to a
        tuned model, or documents stored by another model); returns how many were embedded."""
        if self.embedder is None:
            return 0
        model = self.embedder.vectors_id
        rowids, texts = self.store.missing_vectors(collection, model)
        for start in range(0, len(rowids), batch):
            part = slice(start, start + batch)
            self.store.set_vectors(model, rowids[part], self.embedder.encode(texts[part]))
        if report is not None:
            report.embedded += len(rowids)
        return len(rowids)

    def _embed(
        self, collection: str, model: str, todo: list[tuple[Document, str, list[Chunk]]], report: IngestReport
    ) -> dict[str, np.ndarray] | None:
        if self.embedder is None:
            return None
        texts = list(dict.fromkeys(indexed_text(d.title, c) for d, _, chunks in todo for c in chunks))
        known = self.store.known_vectors(collection, model, texts)
        missing = [t for t in texts if t not in known]
        if missing:
            report.embedded += len(missing)
            for text, row in zip(missing, self.embedder.encode(missing), strict=True):
                known[text] = row
        return known
