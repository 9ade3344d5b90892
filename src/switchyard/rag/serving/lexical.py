"""Lexical retrievers (BM25). ``bm25s`` (the default, chosen by measurement: see NOTES.md) keeps an
in-memory index per collection, rebuilt when the collection's version changes; ``store`` (alias ``fts5``)
asks the store's own full-text index (SQLite FTS5's bm25(), or PostgreSQL's ts_rank_cd). Both return (chunk row id, score), higher is better."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..stores.base import ChunkIndex


class LexicalRetriever(Protocol):
    name: str

    def search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]: ...


class Fts5Retriever:
    name = "fts5"

    def __init__(self, store: ChunkIndex) -> None:
        self.store = store

    def search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        return self.store.lexical_search(collection, query, k)


class _Bm25Index:
    def __init__(self, version: int, rowids: list[int], model: Any) -> None:
        self.version = version
        self.rowids = rowids
        self.model = model


class Bm25sRetriever:
    """BM25 (Lucene variant, k1=1.2, b=0.75) over stemmed, stop-worded tokens with ``bm25s``."""

    name = "bm25"

    def __init__(self, store: ChunkIndex, k1: float = 1.2, b: float = 0.75) -> None:
        import Stemmer

        self.store = store
        self.k1 = k1
        self.b = b
        self._stemmer = Stemmer.Stemmer("english")
        self._indexes: dict[str, _Bm25Index] = {}
        self._lock = threading.Lock()

    def _tokenize(self, texts: list[str]) -> Any:
        import bm25s

        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def index(self, collection: str) -> _Bm25Index | None:
        version = self.store.version(collection)
        with self._lock:
            current = self._indexes.get(collection)
            if current is not None and current.version == version:
                return current
            rowids, texts = self.store.chunk_texts(collection)
            if not rowids:
                self._indexes.pop(collection, None)
                return None
            import bm25s

            tokenized = self._tokenize(texts)
            if not tokenized.vocab:  # no searchable word in any chunk (only numbers, stopwords): nothing to index
                self._indexes.pop(collection, None)
                return None
            model = bm25s.BM25(k1=self.k1, b=self.b)
            model.index(tokenized, show_progress=False)
            self._indexes[collection] = built = _Bm25Index(version, rowids, model)
            return built

    def search(self, collection: str, query: str, k: int) -> list[tuple[int, float]]:
        built = self.index(collection)
        if built is None:
            return []
        tokens = self._tokenize([query])
        if not any(tokens.ids):
            return []
        docs, scores = built.model.retrieve(tokens, k=min(k, len(built.rowids)), show_progress=False, n_threads=1)
        return [(built.rowids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


LEXICAL: dict[str, Callable[[ChunkIndex], LexicalRetriever]] = {
    "bm25": Bm25sRetriever,
    "fts5": Fts5Retriever,  # the name from when SQLite was the only store
    "store": Fts5Retriever,
}
