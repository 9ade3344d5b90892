"""Any server speaking the OpenAI chat/embeddings wire format: OpenAI, vLLM, SGLang, Ollama, llama.cpp
server, DeepSeek, Together, OpenRouter, Groq. The HTTP side (URL, headers, posting, reading ``data:``
lines up to ``[DONE]``, error statuses); reading the answers is :mod:`switchyard.wire.openai` and
:mod:`switchyard.wire.openai_stream`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..errors import UpstreamProtocolError
from ..types import ChatRequest, ChatResponse, Chunk, EmbeddingResponse
from ..wire.openai import parse_completion, parse_embeddings
from ..wire.openai_stream import parse_chunk
from .base import Provider
from .http_errors import status_error


class OpenAICompatProvider(Provider):
    kind = "openai"

    def _url(self, path: str) -> str:
        base = (self.deployment.base_url or "").rstrip("/")
        return base + path

    def _headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"authorization": f"Bearer {key}"} if key else {}

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        status, content = await self.ctx.http.post(
            self._url(path), orjson.dumps(body), self._headers(), connect_timeout=self.model.timeouts.connect
        )
        if status >= 400:
            raise status_error(status, content)
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError("upstream returned malformed JSON") from exc

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = self.upstream_body(request)
        body["stream"] = False
        body.pop("stream_options", None)
        data = await self._post("/chat/completions", body)
        return parse_completion(data, self.model.upstream_name)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        body = self.upstream_body(request)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        async with self.ctx.http.stream(
            self._url("/chat/completions"),
            orjson.dumps(body),
            self._headers(),
            connect_timeout=self.model.timeouts.connect,
        ) as response:
            if response.status >= 400:
                raise status_error(response.status, await response.read())
            async for line in response.lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    await response.finish()
                    return
                chunk = parse_chunk(payload)
                if chunk is not None:
                    yield chunk
            raise UpstreamProtocolError("upstream stream ended before [DONE]")

    async def embed(self, inputs: list[str]) -> EmbeddingResponse:
        body: dict[str, Any] = {"model": self.model.upstream_name, "input": inputs}
        data = await self._post("/embeddings", body)
        return parse_embeddings(data, self.model.name)
