"""The retrieval pipeline: BM25 and dense kNN per collection, fused (RRF or weighted), optionally
reranked. Each hit carries its score and rank in every stage, and its provenance."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...errors import InvalidRequest
from ..stores.base import ChunkIndex, indexed_text
from ..types import Hit, Matrix
from .dense import DenseRetriever
from .embed import Embedder
from .fusion import FUSIONS
from .lexical import LexicalRetriever
from .rerank import Reranker

Ranked = list[tuple[int, float]]


@dataclass
class RetrievalOptions:
    """Defaults tuned on one hash-half of the SciFact train queries (see NOTES.md)."""

    fusion: str = "weighted"
    weights: dict[str, float] = field(default_factory=lambda: {"bm25": 0.5, "dense": 0.5})
    rrf_k: float = 60.0
    depth: int = 100  # candidates each first stage contributes
    rerank_depth: int = 30

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise InvalidRequest(f"unknown fusion {self.fusion!r}; use one of {sorted(FUSIONS)}", param="fusion")


@dataclass
class StageResults:
    """Every stage's ranking of chunk row ids for one query (what eval scores)."""

    stages: dict[str, Ranked] = field(default_factory=dict)

    @property
    def final(self) -> Ranked:
        for name in ("rerank", "fused", "dense", "bm25"):
            if name in self.stages:
                return self.stages[name]
        return []


class Retriever:
    def __init__(
        self,
        store: ChunkIndex,
        lexical: LexicalRetriever | None,
        embedder: Embedder | None,
        options: RetrievalOptions | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.dense = DenseRetriever(store, embedder.vectors_id) if embedder else None
        self.options = options or RetrievalOptions()
        self.reranker = reranker

    def embed_queries(self, queries: Sequence[str]) -> Matrix:
        if self.embedder is None:
            return np.zeros((len(queries), 0), dtype=np.float32)
        return self.embedder.encode_queries(list(queries))

    def first_stages(self, collections: Sequence[str], query: str, qvec: Matrix | None) -> StageResults:
        """Lexical, dense and fused rankings (blocking: run in a worker thread)."""
        o = self.options
        out = StageResults()
        if self.lexical is not None:
            out.stages["bm25"] = _merge([self.lexical.search(c, query, o.depth) for c in collections], o.depth)
        if self.dense is not None:
            vec = qvec if qvec is not None else self.embed_queries([query])[0]
            out.stages["dense"] = _merge([self.dense.search(c, vec, o.depth) for c in collections], o.depth)
        if len(out.stages) > 1:
            out.stages["fused"] = FUSIONS[o.fusion](out.stages, o.weights, o.rrf_k)
        return out

    async def rerank(self, query: str, results: StageResults) -> StageResults:
        if self.reranker is None:
            return results
        head = results.final[: self.options.rerank_depth]
        found = await asyncio.to_thread(self.store.chunks, [r for r, _ in head])
        rows = [r for r, _ in head if r in found]
        texts = [indexed_text(found[r].title, found[r].chunk) for r in rows]
        scores = await self.reranker.rerank(query, texts)
        ranked = sorted(zip(rows, scores, strict=True), key=lambda kv: -kv[1])
        results.stages["rerank"] = ranked
        return results

    async def search(self, collections: Sequence[str], query: str, k: int = 8, *, rerank: bool = True) -> list[Hit]:
        """``rerank=False`` keeps the fused order (the reranker may not receive these collections' chunks)."""
        results = await asyncio.to_thread(self.first_stages, collections, query, None)
        if rerank:
            results = await self.rerank(query, results)
        return await asyncio.to_thread(self.hits, results, k)

    def hits(self, results: StageResults, k: int) -> list[Hit]:
        final = results.final[:k]
        found = self.store.chunks([r for r, _ in final])
        ranks: dict[str, Mapping[int, tuple[int, float]]] = {
            stage: {r: (i + 1, s) for i, (r, s) in enumerate(ranked)} for stage, ranked in results.stages.items()
        }
        hits = []
        for rowid, score in final:
            stored = found.get(rowid)
            if stored is None:  # erased between the stages
                continue
            stages = {
                stage: {"rank": float(table[rowid][0]), "score": table[rowid][1]}
                for stage, table in ranks.items()
                if rowid in table
            }
            hits.append(
                Hit(stored.chunk, score, stages, stored.collection, stored.title, stored.subject, stored.metadata)
            )
        return hits


def _merge(lists: Sequence[Ranked], depth: int) -> Ranked:
    if len(lists) == 1:
        return lists[0]
    return sorted((x for part in lists for x in part), key=lambda kv: -kv[1])[:depth]
