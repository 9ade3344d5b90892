"""Query adapters: trained on pairs whose queries sit in a rotated space, the adapter maps held-out queries
back onto their passages; an untrained (zero) adapter changes nothing."""

from __future__ import annotations

import numpy as np

from switchyard.rag.lab.adapter import AdapterOptions, train_adapter
from switchyard.rag.serving.adapted import apply_adapter


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def _top1(queries: np.ndarray, passages: np.ndarray) -> float:
    return float(np.mean(np.argmax(queries @ passages.T, axis=1) == np.arange(len(queries))))


def test_zero_adapter_only_normalises() -> None:
    q = _unit(np.random.default_rng(1).normal(size=(5, 8)))
    assert np.allclose(apply_adapter(np.zeros((8, 8), np.float32), q), q, atol=1e-6)


def test_adapter_learns_a_query_side_map_that_generalises() -> None:
    rng = np.random.default_rng(0)
    dim, n = 16, 400
    passages = _unit(rng.normal(size=(n, dim)))
    # queries: passages seen through a fixed linear distortion, plus noise
    distortion = np.eye(dim) + 2.0 * rng.normal(size=(dim, dim)) / np.sqrt(dim)
    queries = _unit(passages @ distortion + 0.3 * rng.normal(size=(n, dim)))
    train, held = range(0, 300), np.arange(300, n)
    weights = train_adapter(queries, passages, [(i, i) for i in train], AdapterOptions(epochs=40, batch_size=32))
    assert weights.shape == (dim, dim) and weights.dtype == np.float32
    before = _top1(queries[held], passages[held])
    after = _top1(apply_adapter(weights, queries[held]), passages[held])
    assert after > before + 0.1, (before, after)  # measured: 0.17 -> 0.70
