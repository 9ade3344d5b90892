"""What a call through the gateway returns: the answer (whole, streamed, or vectors) and how it was
handled (``CallInfo``: request id, route, reasons, served model, fallbacks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..types import ChatResponse, Chunk, Usage

if TYPE_CHECKING:
    from ..rag.serving.chat import RagContext


@dataclass(frozen=True)
class CallInfo:
    id: str  # the ledger record's id (x-request-id)
    route: str | None
    reason: str  # the policies' decision trail, "; "-joined
    model: str | None  # the model that answered
    fallbacks: list[str] = field(default_factory=list)  # every model tried, in order
    cached: bool = False  # a RAG answer served from the answer cache: no model was called
    cost: float = 0.0  # what the ledger records for the call, USD (final once the call is settled)
    latency_ms: float = 0.0  # as the ledger records it
    guard: str | None = None  # what the output guard delivered (valid, repaired, escalated); None: unchecked


@dataclass
class ChatResult:
    response: ChatResponse
    info: CallInfo
    rag: RagContext | None = None  # the retrieved context of a RAG chat


@dataclass
class EmbeddingResult:
    vectors: list[list[float]]
    usage: Usage
    info: CallInfo


class ChatStream:
    """An open stream: a model has produced its first chunk. Iterate it for the chunks; the call is
    settled (budget, one ledger record) when the iteration ends, fails with a ``SwitchyardError``, or is
    closed or cancelled early (the caller went away). ``usage`` and ``text`` are final after the end."""

    def __init__(
        self,
        chunks: Callable[[ChatStream], AsyncIterator[Chunk]],
        info: CallInfo,
        rag: RagContext | None = None,
    ) -> None:
        self.info = info
        self.rag = rag
        self.usage: Usage | None = None
        self.parts: list[str] = []  # the answer's text as it was streamed
        self._chunks = chunks(self)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks

    def on_complete(self, callback: Callable[[ChatStream], None]) -> None:
        """Call ``callback`` once the stream has ended normally (not when it fails or is closed early)."""
        inner = self._chunks

        async def chained() -> AsyncIterator[Chunk]:
            try:
                async for chunk in inner:
                    yield chunk
            finally:
                close = getattr(inner, "aclose", None)
                if close is not None:
                    await close()
            callback(self)

        self._chunks = chained()

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()
