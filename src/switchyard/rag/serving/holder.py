"""The gateway's RAG service, built on first use (no RAG file appears until RAG is used), and the RAG
step of a chat call: retrieval in front of the ordinary call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from ...types import ChatRequest, Principal
from .chat import RagContext, augment, rag_options
from .service import RagService


class RagHolder:
    def __init__(self, build: Callable[[], RagService]) -> None:
        self._build = build
        self._service: RagService | None = None
        self._lock = threading.Lock()

    def get(self) -> RagService:
        with self._lock:
            if self._service is None:
                self._service = self._build()
            return self._service

    async def augment(self, principal: Principal, req: ChatRequest) -> tuple[ChatRequest, RagContext] | None:
        """The request with its retrieved context (and the context's data classes), or None when it asks
        for no RAG (``"switchyard": {"collections": [...]}``)."""
        if rag_options(req) is None:
            return None
        return await augment(self.get(), principal, req)

    async def remember(self, ctx: RagContext, answer: str) -> None:
        """Cache an answer the request asked to cache (``"cache": true``), off the event loop."""
        if ctx.cache_key:
            answers = self.get().answers
            await asyncio.to_thread(
                answers.cache_answer, ",".join(ctx.collections), ctx.cache_key, answer, ctx.doc_refs
            )

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None
