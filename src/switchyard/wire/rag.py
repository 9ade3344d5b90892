"""A RAG answer on any wire: the inner wire's body or stream plus switchyard's ``rag`` block (sources
with provenance, the chunk ids the answer cites), given by the call as a function of the answer text."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SwitchyardError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Usage
from .base import ChatWire, StreamEncoder

# The ``rag`` block for an answer's text.
RagBlock = Callable[[str | None], JSON]


class RagChatWire:
    def __init__(self, inner: ChatWire, block: RagBlock) -> None:
        self.inner = inner
        self.block = block

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        body = self.inner.render(resp, model, request_id)
        body["switchyard"] = {"rag": self.block(resp.content)}
        return body

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> StreamEncoder:
        return RagStreamEncoder(self.inner.stream_encoder(request, model, request_id), self.block)


class RagStreamEncoder:
    """The inner wire's stream, and before its end the ``rag`` block (sources, and the chunk ids the
    streamed answer cited), where the wire has room for it."""

    def __init__(self, inner: StreamEncoder, block: RagBlock) -> None:
        self.inner = inner
        self.block = block
        self.parts: list[str] = []

    def encode(self, chunk: Chunk) -> bytes:
        if chunk.content:
            self.parts.append(chunk.content)
        return self.inner.encode(chunk)

    def finish(self, usage: Usage | None) -> bytes:
        return self.inner.extension({"rag": self.block("".join(self.parts))}) + self.inner.finish(usage)

    def error(self, err: SwitchyardError) -> bytes:
        return self.inner.error(err)

    def extension(self, data: JSON) -> bytes:
        return self.inner.extension(data)
