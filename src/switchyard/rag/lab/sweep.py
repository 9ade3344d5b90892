"""Tuning fusion on judged queries without leaking: every fusion setting is re-scored from the stage
rankings an eval run kept, the best is chosen on hash-half "a" of the queries, and reported on half "b"."""

from __future__ import annotations

from typing import Any

from ..serving.fusion import FUSIONS
from .beir import Qrels, half
from .eval import EvalRun
from .metrics import docs_of, mean_metrics, query_metrics

DENSE_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
RRF_KS = (5.0, 10.0, 20.0, 40.0, 60.0, 100.0)


def settings() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"fusion": "weighted", "dense_weight": w, "rrf_k": 60.0} for w in DENSE_WEIGHTS]
    out += [{"fusion": "rrf", "dense_weight": w, "rrf_k": k} for k in RRF_KS for w in DENSE_WEIGHTS]
    return out


def _figures(run: EvalRun, qrels: Qrels, setting: dict[str, Any]) -> dict[str, dict[str, float]]:
    doc_of: dict[int, str] = run.extra["doc_of"]
    fuse = FUSIONS[setting["fusion"]]
    weights = {"bm25": 1 - setting["dense_weight"], "dense": setting["dense_weight"]}
    rows: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    for qid, raw in zip(run.qids, run.raw, strict=True):
        lists: dict[str, list[tuple[int, float]]] = {s: raw.stages[s] for s in ("bm25", "dense") if s in raw.stages}
        ranked = docs_of([doc_of[r] for r, _ in fuse(lists, weights, setting["rrf_k"]) if r in doc_of])
        rows[half(qid)].append(query_metrics(ranked, qrels[qid]))
    return {h: mean_metrics(r) for h, r in rows.items()}


def sweep(run: EvalRun, qrels: Qrels, current: dict[str, Any]) -> dict[str, Any]:
    """The best setting on half a, with its figures on both halves, and the current setting's."""
    scored = [(s, _figures(run, qrels, s)) for s in settings()]
    best, figures = max(scored, key=lambda sf: (sf[1]["a"]["ndcg@10"], -abs(sf[0]["dense_weight"] - 0.5)))
    return {
        "chosen_on": "half a",
        "best": best,
        "best_half_a": figures["a"],
        "best_half_b": figures["b"],
        "current": current,
        "current_halves": _figures(run, qrels, current),
        "grid": [{**s, "ndcg@10_a": f["a"]["ndcg@10"], "ndcg@10_b": f["b"]["ndcg@10"]} for s, f in scored],
    }
