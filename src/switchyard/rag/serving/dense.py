"""Dense kNN: by the store itself when it offers it (``native_dense``: PostgreSQL with pgvector answers in SQL
through an HNSW index), else by brute force: the collection's float32 vectors are loaded from the store once
per collection version into one matrix, and a query is one matrix-vector product (measured: see NOTES.md)."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..stores.base import ChunkIndex, DenseSearch, native_dense
from ..types import Matrix


class _Loaded:
    def __init__(self, version: int, rowids: NDArray[np.int64], matrix: Matrix) -> None:
        self.version = version
        self.rowids = rowids
        self.matrix = matrix


def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with the embedded extra
        return None
    return ThreadpoolController()


class DenseRetriever:
    name = "dense"

    def __init__(self, store: ChunkIndex, model_id: str, *, use_store_search: bool = True) -> None:
        """``use_store_search=False`` keeps numpy even where the store searches itself (to compare them)."""
        self.store = store
        self.model_id = model_id
        self.native: DenseSearch | None = native_dense(store) if use_store_search else None
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._blas: Any = _blas_controller()

    def _matrix(self, collection: str) -> _Loaded:
        version = self.store.version(collection)
        with self._lock:
            current = self._loaded.get(collection)
            if current is None or current.version != version:
                rowids, matrix = self.store.vectors(collection, self.model_id)
                current = self._loaded[collection] = _Loaded(version, rowids, matrix)
            return current

    def search(self, collection: str, query: Matrix, k: int) -> list[tuple[int, float]]:
        """``query`` is one unit-length vector; scores are cosine similarities."""
        if self.native is not None:
            return self.native.dense_search(collection, self.model_id, query, k)
        loaded = self._matrix(collection)
        n = len(loaded.rowids)
        if n == 0:
            return []
        if loaded.matrix.shape[1] != query.shape[-1]:
            return []
        with self._one_blas_thread():
            sims = loaded.matrix @ query.reshape(-1)
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [(int(loaded.rowids[i]), float(sims[i])) for i in top]

    def _one_blas_thread(self) -> AbstractContextManager[Any]:
        """One matrix-vector product is too small to share between BLAS threads: on this 2-core machine
        one thread was 2-18x faster than two, most under load (bench/vector_engines.py, NOTES.md)."""
        if self._blas is None:
            return nullcontext()
        limited: AbstractContextManager[Any] = self._blas.limit(limits=1, user_api="blas")
        return limited
