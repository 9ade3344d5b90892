"""The ``ChatWire`` of each client format: how whole answers render and which stream encoder a stream gets.
Each pairs its format's message module with its stream module."""

from __future__ import annotations

import time

from ..types import JSON, ChatRequest, ChatResponse
from .anthropic import render_message
from .anthropic_stream import WireStreamEncoder
from .openai import render_response
from .openai_stream import ChunkEncoder


class OpenAIChatWire:
    """Chat completions as OpenAI renders them (``chatcmpl-`` ids from the request id)."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return render_response(resp, model, "chatcmpl-" + request_id)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> ChunkEncoder:
        include = bool(request.stream_options and request.stream_options.include_usage)
        return ChunkEncoder("chatcmpl-" + request_id, model, int(time.time()), include)


class AnthropicChatWire:
    """Messages API answers and event streams."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return render_message(resp, model)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> WireStreamEncoder:
        return WireStreamEncoder(model, request_id)
