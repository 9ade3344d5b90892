"""Upstreams that speak the native Anthropic Messages API (``{base_url}/v1/messages``): the HTTP side
(URL, headers, posting, reading server-sent event lines, error statuses). The translation both ways is
:mod:`switchyard.wire.anthropic` (request bodies, whole messages) and
:mod:`switchyard.wire.anthropic_stream` (stream events).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import ClassVar

from ..errors import UpstreamProtocolError
from ..types import JSON, ChatRequest, ChatResponse, Chunk
from ..wire.anthropic import anthropic_body, parse_message
from ..wire.anthropic_stream import AnthropicStreamDecoder
from .base import Provider
from .http_errors import status_error

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"


async def _sse(lines: AsyncIterator[str]) -> AsyncGenerator[JSON, None]:
    """The JSON payloads of a server-sent event stream."""
    data: list[str] = []
    async for line in lines:
        if line:
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            continue
        if data:
            payload = "\n".join(data)
            data = []
            try:
                event = json.loads(payload)
            except ValueError as exc:
                raise UpstreamProtocolError(f"invalid JSON in upstream event: {payload[:200]!r}") from exc
            if not isinstance(event, dict):
                raise UpstreamProtocolError(f"unexpected upstream event: {payload[:200]!r}")
            yield event


class AnthropicProvider(Provider):
    """A deployment reached over the Anthropic Messages API."""

    kind: ClassVar[str] = "anthropic"

    @property
    def url(self) -> str:
        base = (self.deployment.base_url or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        key = self.api_key()
        if key:
            headers["x-api-key"] = key
        return headers

    def request_body(self, request: ChatRequest) -> JSON:
        return anthropic_body(
            request,
            model=self.model.upstream_name,
            pass_unknown=self.model.unknown_params == "pass",
            params=self.model.params,
        )

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = json.dumps(self.request_body(request)).encode()
        status, content = await self.ctx.http.post(
            self.url, body, self.headers(), connect_timeout=self.model.timeouts.connect
        )
        if status >= 400:
            raise status_error(status, content)
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise UpstreamProtocolError(f"upstream answered invalid JSON: {content[:200]!r}") from exc
        return parse_message(data)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """Chunks as they arrive; the last carries ``finish_reason`` and ``usage``. Closing the
        generator early (client gone, cancellation) closes the upstream connection."""
        body = json.dumps({**self.request_body(request), "stream": True}).encode()
        async with self.ctx.http.stream(
            self.url, body, self.headers(), connect_timeout=self.model.timeouts.connect
        ) as resp:
            if resp.status >= 400:
                raise status_error(resp.status, await resp.read())
            events = _sse(resp.lines())
            try:
                decoder = AnthropicStreamDecoder()
                while not decoder.done:
                    event = await anext(events, None)
                    if event is None:
                        raise UpstreamProtocolError("upstream stream ended before message_stop")
                    chunk = decoder.decode(event)
                    if chunk is not None:
                        yield chunk
            finally:
                await events.aclose()
            await resp.finish()  # the body's end, so the connection can be reused
