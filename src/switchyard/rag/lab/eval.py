"""``switchyard rag eval``: ingest a BEIR-layout corpus into a RAG store, run its queries through every
retrieval stage and report hit@1/3/10, MRR@10, nDCG@10 and recall@100 per stage, ingest documents/s and
query p50/p95 ms. The store can be kept (``store_path``) so later runs skip re-embedding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..serving.ingest import Ingestor, IngestReport
from ..serving.retrieval import Retriever, StageResults
from ..stores.base import ChunkIndex
from ..types import Document
from .beir import Qrels, half
from .metrics import docs_of, mean_metrics, query_metrics


@dataclass
class EvalRun:
    """Per-query stage rankings as document ids (kept so fusion settings can be re-scored offline)."""

    qids: list[str]
    rankings: list[dict[str, list[str]]]
    raw: list[StageResults]
    latencies_ms: list[float]
    ingest: IngestReport
    ingest_seconds: float
    documents: int
    extra: dict[str, Any] = field(default_factory=dict)


def select_queries(queries: Mapping[str, str], qrels: Qrels, part: str = "all") -> dict[str, str]:
    """Queries with judgements, optionally one hash-half ("a" or "b")."""
    return {q: t for q, t in queries.items() if q in qrels and (part == "all" or half(q) == part)}


def _percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(
    build_retriever: Callable[[], Retriever],
    ingestor: Ingestor,
    collection: str,
    corpus: Sequence[Document],
    queries: Mapping[str, str],
    progress: Callable[[str, int, int], None] | None = None,
    latency_sample: int = 100,
) -> EvalRun:
    started = time.perf_counter()
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("ingest", done, len(corpus))

    report = ingestor.ingest(collection, corpus, tick)
    ingest_seconds = time.perf_counter() - started
    retriever = build_retriever()  # after ingest: it may be tuned on the ingested collection
    store: ChunkIndex = retriever.store
    qids = list(queries)
    rankings: list[dict[str, list[str]]] = []
    raws: list[StageResults] = []
    latencies: list[float] = []
    doc_of: dict[int, str] = {}
    # Queries are embedded in batches (as a busy server would); the first ``latency_sample`` queries go
    # through the single-query path, timed end to end with their embedding.
    t0 = time.perf_counter()
    rest = qids[latency_sample:]
    vectors = retriever.embed_queries([queries[q] for q in rest])
    embed_ms = (time.perf_counter() - t0) * 1000 / max(1, len(rest))

    async def every() -> None:
        for i, qid in enumerate(qids):
            t0 = time.perf_counter()
            vector = vectors[i - latency_sample] if i >= latency_sample and len(vectors) else None
            results = await retriever.rerank(queries[qid], retriever.first_stages([collection], queries[qid], vector))
            if i < latency_sample:
                latencies.append((time.perf_counter() - t0) * 1000)
            raws.append(results)
            need = {r for ranked in results.stages.values() for r, _ in ranked if r not in doc_of}
            for rowid, stored in store.chunks(list(need)).items():
                doc_of[rowid] = stored.chunk.doc_id
            rankings.append(
                {s: docs_of([doc_of[r] for r, _ in ranked if r in doc_of]) for s, ranked in results.stages.items()}
            )
            if progress:
                progress("query", i + 1, len(qids))
        if retriever.reranker is not None:
            await retriever.reranker.aclose()

    asyncio.run(every())
    extra = {"doc_of": doc_of, "query_embed_ms": round(embed_ms, 2)}
    return EvalRun(qids, rankings, raws, latencies, report, ingest_seconds, len(corpus), extra)


def score(run_: EvalRun, qrels: Qrels) -> dict[str, Any]:
    stages: dict[str, dict[str, float]] = {}
    names = list(dict.fromkeys(s for r in run_.rankings for s in r))
    for stage in names:
        rows = [query_metrics(r.get(stage, []), qrels[q]) for q, r in zip(run_.qids, run_.rankings, strict=True)]
        stages[stage] = mean_metrics(rows)
    final = next((s for s in ("rerank", "fused", "dense", "bm25") if s in stages), None)
    processed = run_.ingest.added + run_.ingest.replaced
    out: dict[str, Any] = dict(stages[final]) if final else {}
    out.update(
        {
            "final_stage": final,
            "stages": stages,
            "queries": len(run_.qids),
            "documents": run_.documents,
            "chunks": run_.ingest.chunks,
            "ingest_docs_per_s": round(processed / run_.ingest_seconds, 1) if processed else None,
            "ingest_reused_docs": run_.ingest.unchanged,
            "ingest_seconds": round(run_.ingest_seconds, 1),
            "query_p50_ms": round(_percentile(run_.latencies_ms, 50), 2),
            "query_p95_ms": round(_percentile(run_.latencies_ms, 95), 2),
            "latency_queries": len(run_.latencies_ms),
            "query_embed_ms_batched": run_.extra.get("query_embed_ms"),
        }
    )
    return out
