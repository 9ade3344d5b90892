from __future__ import annotations

import math

import pytest

from switchyard.rag.lab.metrics import mean_metrics, query_metrics
from switchyard.rag.serving.fusion import rrf, weighted


def test_rrf_rewards_agreement() -> None:
    fused = rrf({"bm25": [(1, 9.0), (2, 5.0), (3, 1.0)], "dense": [(2, 0.9), (4, 0.8)]}, {}, k=60)
    assert [r for r, _ in fused][:2] == [2, 1]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_weights_shift_rrf_and_weighted() -> None:
    lists = {"bm25": [(1, 10.0), (2, 0.0)], "dense": [(2, 0.9), (1, 0.1)]}
    assert rrf(lists, {"bm25": 1.0, "dense": 3.0}, k=1)[0][0] == 2
    assert rrf(lists, {"bm25": 3.0, "dense": 1.0}, k=1)[0][0] == 1
    fused = dict(weighted(lists, {"bm25": 0.3, "dense": 0.7}))
    assert fused[1] == pytest.approx(0.3)  # min-max: bm25 1 -> 1.0, dense 1 -> 0.0
    assert fused[2] == pytest.approx(0.7)


def test_weighted_fusion_of_a_single_hit_keeps_its_weight() -> None:
    # One matching chunk (or a tie): it is the best of its list, not its worst.
    fused = weighted({"bm25": [(7, 0.26)], "dense": [(7, 0.29), (8, 0.1)]}, {"bm25": 0.5, "dense": 0.5})
    assert dict(fused) == {7: pytest.approx(1.0), 8: pytest.approx(0.0)}


def test_query_metrics_by_hand() -> None:
    m = query_metrics(["x", "a", "y", "b"], {"a": 1, "b": 1})
    assert m["hit@1"] == 0 and m["hit@3"] == 1 and m["mrr@10"] == 0.5
    idcg = 1 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)
    assert m["recall@100"] == 1.0
    assert query_metrics([], {"a": 1})["ndcg@10"] == 0.0
    assert mean_metrics([m, query_metrics(["a"], {"a": 1})])["hit@1"] == 0.5
