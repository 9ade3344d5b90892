"""A tuned version that is a query adapter (``adapter.npy`` beside the manifest, ``tuned.py``): what a
collection switched to one embeds with. Documents keep the base model's vectors; queries go through
``q -> normalise(q + q W)``. Fitting W is tuning's business (``lab/adapter.py``); serving only applies it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..types import Matrix
from .embed import Embedder
from .tuned import MANIFEST

ADAPTER_FILE = "adapter.npy"


def apply_adapter(weights: Matrix, queries: Matrix) -> Matrix:
    """Unit-length ``q + q W`` rows."""
    moved = queries + queries @ weights
    norms = np.linalg.norm(moved, axis=1, keepdims=True)
    out: Matrix = (moved / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def is_adapter(folder: str | Path) -> bool:
    return (Path(folder) / ADAPTER_FILE).is_file()


class AdaptedEmbedder:
    """Documents are embedded by the base model (so its stored vectors are reused); queries go through the
    base model, then the adapter."""

    def __init__(self, base: Embedder, folder: str | Path, manifest: dict[str, Any]) -> None:
        self.base = base
        self.path = str(folder)
        self.weights: Matrix = np.load(Path(folder) / ADAPTER_FILE).astype(np.float32)
        self.manifest = manifest
        self._id = str(manifest["model_id"])

    @classmethod
    def open(cls, folder: str | Path, base_of: Callable[[dict[str, Any]], Embedder]) -> AdaptedEmbedder:
        """``base_of(manifest)`` gives the embedder the manifest names as this adapter's base (its
        ``base`` model id and ``base_path``)."""
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
        return cls(base_of(manifest), folder, manifest)

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def vectors_id(self) -> str:
        return self.base.vectors_id

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Matrix:
        return self.base.encode(texts, progress)

    def encode_queries(self, texts: Sequence[str]) -> Matrix:
        return apply_adapter(self.weights, self.base.encode_queries(texts))
