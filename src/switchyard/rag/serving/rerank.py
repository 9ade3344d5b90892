"""Rerankers: a local cross-encoder directory (sentence-transformers ``CrossEncoder``) or a remote
``/v1/rerank`` endpoint (Cohere / Jina / TEI shape: ``{model, query, documents}`` in, ``{results: [{index,
relevance_score}]}`` out) through the gateway's shared HTTP transport. No reranker ships offline."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from ...errors import ConfigError, UpstreamProtocolError, UpstreamStatusError
from ...providers.transport import HttpTransport


class Reranker(Protocol):
    name: str

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, higher is better."""
        ...

    async def aclose(self) -> None: ...


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(self, path: str | Path, batch_size: int = 16) -> None:
        if not Path(path).is_dir():
            raise ConfigError(f"rerank model directory {path} does not exist", param="rag.rerank.path")
        self.path = str(path)
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _score(self, query: str, texts: Sequence[str]) -> list[float]:
        with self._lock:
            if self._model is None:
                import os

                os.environ["HF_HUB_OFFLINE"] = "1"
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(self.path, device="cpu")
            scores = self._model.predict(
                [(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
            )
        return [float(s) for s in scores]

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self._score, query, list(texts))

    async def aclose(self) -> None:
        return None


class RemoteReranker:
    name = "remote"

    def __init__(
        self,
        url: str,
        model: str,
        transport: HttpTransport | None = None,
        *,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.model = model
        self._own_transport = transport is None
        self.transport = transport or HttpTransport()
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.timeout = timeout

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        body = orjson.dumps({"model": self.model, "query": query, "documents": list(texts), "top_n": len(texts)})
        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with asyncio.timeout(self.timeout):
            status, raw = await self.transport.post(self.url, body, headers, connect_timeout=self.connect_timeout)
        if status >= 400:
            raise UpstreamStatusError(f"rerank endpoint answered {status}", upstream_status=status)
        try:
            results = orjson.loads(raw)["results"]
            scores = [float("-inf")] * len(texts)
            for item in results:
                scores[int(item["index"])] = float(item.get("relevance_score", item.get("score")))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise UpstreamProtocolError(f"rerank endpoint sent an unexpected body ({type(exc).__name__})") from exc
        return scores

    async def aclose(self) -> None:
        if self._own_transport:
            await self.transport.aclose()


def make_reranker(spec: Mapping[str, Any], transport: HttpTransport | None) -> Reranker:
    """From a config mapping: ``{path: DIR}`` or ``{url: URL, model: NAME, api_key_env: VAR}``."""
    builders: dict[str, Callable[[], Reranker]] = {
        "path": lambda: CrossEncoderReranker(spec["path"]),
        "url": lambda: RemoteReranker(spec["url"], spec.get("model", "rerank"), transport, api_key=spec.get("api_key")),
    }
    for key, build in builders.items():
        if spec.get(key):
            return build()
    raise ConfigError("rerank needs a local model directory (path) or an endpoint (url)", param="rag.rerank")
