"""What a wire format provides to render answers: a ``ChatWire`` (whole answers) and the
``StreamEncoder`` it makes per stream. OpenAI's and Anthropic's live beside this module."""

from __future__ import annotations

from typing import Protocol

from ..errors import SwitchyardError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Usage


class StreamEncoder(Protocol):
    def encode(self, chunk: Chunk) -> bytes: ...

    def finish(self, usage: Usage | None) -> bytes: ...

    def error(self, err: SwitchyardError) -> bytes: ...

    def extension(self, data: JSON) -> bytes:
        """switchyard's own ``switchyard`` block (RAG sources) in the stream: an event of its own where the
        wire format has room for one (OpenAI), else b"" and the block rides on the final event (Anthropic's
        message_delta)."""
        ...


class ChatWire(Protocol):
    """How one wire format renders answers."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON: ...

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> StreamEncoder: ...
