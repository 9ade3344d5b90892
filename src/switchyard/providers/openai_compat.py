"""Any server speaking the OpenAI chat/embeddings wire format: OpenAI, vLLM, SGLang, Ollama, llama.cpp
server, DeepSeek, Together, OpenRouter, Groq."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..errors import (
    UpstreamError,
    UpstreamProtocolError,
)
from ..types import ChatRequest, ChatResponse, Chunk, EmbeddingResponse, ToolCall, ToolCallDelta, Usage
from .base import Provider
from .http_errors import status_error


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


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
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
            calls = message.get("tool_calls")
            return ChatResponse(
                id=str(data.get("id") or ""),
                model=str(data.get("model") or self.model.upstream_name),
                created=int(data.get("created") or 0),
                content=message.get("content"),
                finish_reason=str(choice.get("finish_reason") or "stop"),
                tool_calls=[ToolCall.model_validate(c) for c in calls] if calls else None,
                usage=parse_usage(data.get("usage")),
                logprobs=logprobs if isinstance(logprobs := choice.get("logprobs"), dict) else None,
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise UpstreamProtocolError(f"upstream response has an unexpected shape: {exc}") from exc

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
                chunk = _parse_chunk(payload)
                if chunk is not None:
                    yield chunk
            raise UpstreamProtocolError("upstream stream ended before [DONE]")

    async def embed(self, inputs: list[str]) -> EmbeddingResponse:
        body: dict[str, Any] = {"model": self.model.upstream_name, "input": inputs}
        data = await self._post("/embeddings", body)
        try:
            rows = sorted(data["data"], key=lambda r: r.get("index", 0))
            vectors = [list(map(float, r["embedding"])) for r in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamProtocolError(f"upstream embeddings have an unexpected shape: {exc}") from exc
        return EmbeddingResponse(vectors, self.model.name, parse_usage(data.get("usage")) or Usage())


def _parse_chunk(payload: str) -> Chunk | None:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError("upstream stream carried malformed JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError("upstream stream chunk is not an object")
    if "error" in data:
        err = data["error"]
        message = err.get("message") if isinstance(err, dict) else str(err)
        raise UpstreamError(f"upstream stream error: {message}")
    usage = parse_usage(data.get("usage"))
    choices = data.get("choices") or []
    if not choices:
        return Chunk(usage=usage) if usage else None
    choice = choices[0]
    delta = choice.get("delta") or {}
    calls = None
    if delta.get("tool_calls"):
        calls = []
        for c in delta["tool_calls"]:
            fn = c.get("function") or {}
            calls.append(
                ToolCallDelta(
                    index=int(c.get("index", 0)),
                    id=c.get("id"),
                    name=fn.get("name"),
                    arguments=fn.get("arguments") or "",
                )
            )
    return Chunk(
        content=delta.get("content"),
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=usage,
    )
