"""RAG chat: a chat request carrying ``"switchyard": {"collections": [...], "k": 5, "cache": false}``
retrieves chunks for its last user message from the collections the caller may read, injects them as a
cited context (a system message), and goes through the ordinary call with the data classes of those
collections in its routing context (so the residency policy keeps confidential context inside the
perimeter). Answers cite chunk ids as ``[doc#n]``."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import InvalidRequest
from ...types import ChatRequest, Message, Principal
from ..types import Hit
from .service import RagService

CITE = re.compile(r"\[([^\[\]\s]+#\d+)\]")

INSTRUCTIONS = (
    "Answer the question using only the context below. After each statement, cite the chunk it comes "
    "from by its id in square brackets, e.g. [{example}]. If the context does not contain the answer, "
    "say that you do not know."
)


class RagOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collections: list[str] = Field(min_length=1)
    k: int | None = Field(default=None, ge=1, le=50)
    cache: bool = False


@dataclass
class RagContext:
    hits: list[Hit]
    collections: list[str]
    classes: set[str]
    cache_key: str | None = None
    cached: str | None = None
    doc_refs: list[tuple[str, str]] = field(default_factory=list)

    def sources(self) -> list[dict[str, Any]]:
        return [{"id": h.chunk.id, "score": round(h.score, 6), **h.provenance()} for h in self.hits]


def rag_options(req: ChatRequest) -> RagOptions | None:
    extra = req.model_extra or {}
    raw = extra.get("switchyard")
    if raw is None:
        return None
    if not isinstance(raw, dict) or "collections" not in raw:
        return None
    try:
        return RagOptions.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"switchyard.{where}: {first['msg']}", param=f"switchyard.{where}") from None


def _question(req: ChatRequest) -> str:
    for message in reversed(req.messages):
        if message.role == "user" and message.text().strip():
            return message.text()
    raise InvalidRequest("a RAG chat needs a user message to search with", param="messages")


def context_message(hits: list[Hit]) -> str:
    example = hits[0].chunk.id if hits else "doc#0"
    parts = [INSTRUCTIONS.format(example=example), "", "Context:"]
    for h in hits:
        head = " / ".join(p for p in (h.title, h.chunk.heading) if p)
        parts.append(f"[{h.chunk.id}] {head}\n{h.chunk.text}".rstrip())
    if not hits:
        parts.append("(nothing found)")
    return "\n\n".join(parts)


async def augment(service: RagService, principal: Principal, req: ChatRequest) -> tuple[ChatRequest, RagContext] | None:
    """The request with its context injected (and the ``switchyard`` field removed), or None when the
    request asks for no RAG. Raises 403 when the caller may not read a named collection."""
    options = rag_options(req)
    if options is None:
        return None
    question = _question(req)
    collections = await asyncio.to_thread(service.readable, principal, options.collections)
    hits = await service.search(principal, options.collections, question, options.k or service.cfg.top_k)
    data = req.model_dump(exclude_none=True)
    data.pop("switchyard", None)
    system = Message(role="system", content=context_message(hits))
    data["messages"] = [system.model_dump(exclude_none=True), *data["messages"]]
    new = ChatRequest.model_validate(data)
    ctx = RagContext(hits, [c.name for c in collections], service.classes_for(collections))
    ctx.doc_refs = sorted({(h.collection, h.chunk.doc_id) for h in hits})
    if options.cache and service.cfg.cache_answers and not req.stream:
        body = orjson.dumps(new.model_dump(exclude_none=True), option=orjson.OPT_SORT_KEYS)
        ctx.cache_key = hashlib.sha256(body).hexdigest()
        ctx.cached = await asyncio.to_thread(service.answers.cached_answer, ctx.cache_key)
    return new, ctx


def citations(answer: str | None, ctx: RagContext) -> list[str]:
    known = {h.chunk.id for h in ctx.hits}
    return [c for c in dict.fromkeys(CITE.findall(answer or "")) if c in known]


def rag_block(ctx: RagContext, answer: str | None, *, cached: bool) -> dict[str, Any]:
    """switchyard's ``rag`` block of an answer: collections, sources with provenance, the chunk ids the
    answer cites, and whether it came from the answer cache."""
    return {
        "collections": ctx.collections,
        "sources": ctx.sources(),
        "citations": citations(answer, ctx),
        "cached": cached,
    }
