"""Ranking metrics over document ids: hit@k, MRR@10, nDCG@10 (graded gains, log2 discount), recall@100."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

METRICS = ("ndcg@10", "mrr@10", "hit@1", "hit@3", "hit@10", "recall@100")


def query_metrics(ranked: Sequence[str], relevant: Mapping[str, int]) -> dict[str, float]:
    first = next((i for i, d in enumerate(ranked[:100]) if d in relevant), None)
    dcg = sum((2 ** relevant[d] - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    found = len(set(ranked[:100]) & relevant.keys())
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "mrr@10": 1.0 / (first + 1) if first is not None and first < 10 else 0.0,
        "hit@1": float(first is not None and first < 1),
        "hit@3": float(first is not None and first < 3),
        "hit@10": float(first is not None and first < 10),
        "recall@100": found / len(relevant) if relevant else 0.0,
    }


def mean_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not rows:
        return dict.fromkeys(METRICS, 0.0)
    return {m: round(sum(r[m] for r in rows) / len(rows), 4) for m in METRICS}


def docs_of(ranked_docs: Sequence[str]) -> list[str]:
    """Chunk-level document ids -> documents in order of their best chunk."""
    return list(dict.fromkeys(ranked_docs))
