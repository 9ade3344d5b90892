"""RAG endpoints under /v1/rag: collections (create, list, show, change ACL, delete), documents (add,
list, delete), erasure by data subject, and search. Every call is checked against the collection's ACL
(403 when the caller's team may not); RAG chat goes through /v1/chat/completions (``rag/chat.py``)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InvalidRequest, NotFound, SwitchyardError
from ..gateway import Gateway
from ..rag.chat import RagContext, augment, citations, rag_options
from ..rag.service import RagService
from ..rag.types import Acl, Collection, Document, Hit
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Principal, Usage
from ..wire.openai import parse
from .chat import ChatWire, StreamEncoder
from .http import JSONBody, read_json
from .openai_routes import authenticate, gateway
from .recording import RecordedCall


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AclBody(_Strict):
    read: list[str] = Field(default_factory=list)
    write: list[str] = Field(default_factory=list)
    admin: list[str] = Field(default_factory=list)


class CreateBody(_Strict):
    name: str = Field(min_length=1)
    sensitivity: Literal["public", "internal", "confidential"] = "internal"
    acl: AclBody | None = None


class PatchBody(_Strict):
    acl: AclBody


class DocumentBody(_Strict):
    id: str = Field(min_length=1, max_length=512)
    text: str
    title: str = ""
    subject: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    format: Literal["txt", "md", "html"] = "txt"


class AddBody(_Strict):
    documents: list[DocumentBody] = Field(min_length=1)


class EraseBody(_Strict):
    subject: str = Field(min_length=1)
    collections: list[str] | None = None


class SearchBody(_Strict):
    collections: list[str] = Field(min_length=1)
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=100)


class RagHolder:
    """Builds the gateway's RAG service on first use (no RAG file appears until RAG is used)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self._service: RagService | None = None
        self._lock = threading.Lock()

    def get(self) -> RagService:
        with self._lock:
            if self._service is None:
                gw = self.gw
                self._service = RagService.from_config(
                    gw.config, gw.options.db_path, shared=gw.provider_ctx.local_models, transport=gw.http
                )
            return self._service

    async def prepare_chat(
        self, principal: Principal, req: ChatRequest, wire: ChatWire, *, endpoint: str = "chat"
    ) -> tuple[ChatRequest, ChatWire, Response | None]:
        """RAG chat: inject the context a request asks for (``switchyard.collections``). Returns the request
        to run, the wire that adds sources and citations to the answer, and a ready response when the
        answer was cached."""
        if rag_options(req) is None:
            return req, wire, None
        service = self.get()
        prepared = await augment(service, principal, req)
        if prepared is None:
            return req, wire, None
        new, ctx = prepared
        rag_wire = RagChatWire(wire, ctx, service)
        if ctx.cached is not None:
            return new, rag_wire, await self._cached(principal, new, ctx.cached, rag_wire, endpoint)
        return new, rag_wire, None

    async def _cached(
        self, principal: Principal, req: ChatRequest, answer: str, rag_wire: RagChatWire, endpoint: str
    ) -> Response:
        """A cached answer: the policies still decide whether this caller may have it (access, residency,
        budgets), and the ledger keeps the request — at no cost, since no model was called."""
        res = await self.gw.resolve(principal, req.model, request=req)
        res.reasons.append("rag: cached answer")
        call = RecordedCall(self.gw, principal, endpoint, res)
        call.settle(usage=Usage())
        resp = ChatResponse(call.id, req.model, int(time.time()), answer, "stop", usage=Usage())
        body = rag_wire.render(resp, req.model, call.id, store=False)
        return JSONBody(body, headers={**call.headers(None), "x-switchyard-cache": "hit"})

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None


class RagChatWire:
    """Renders a RAG answer: the inner wire's body plus ``switchyard.rag`` (collections, sources with
    provenance, the chunk ids the answer cites); caches the answer when asked to."""

    def __init__(self, inner: ChatWire, ctx: RagContext, service: RagService) -> None:
        self.inner = inner
        self.ctx = ctx
        self.service = service

    def render(self, resp: ChatResponse, model: str, request_id: str, *, store: bool = True) -> JSON:
        body = self.inner.render(resp, model, request_id)
        body["switchyard"] = self.block(resp.content, cached=not store)
        if store and self.ctx.cache_key and resp.content:
            self.service.store.cache_answer(
                ",".join(self.ctx.collections), self.ctx.cache_key, resp.content, self.ctx.doc_refs
            )
        return body

    def block(self, answer: str | None, *, cached: bool) -> JSON:
        return {
            "rag": {
                "collections": self.ctx.collections,
                "sources": self.ctx.sources(),
                "citations": citations(answer, self.ctx),
                "cached": cached,
            }
        }

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> StreamEncoder:
        return RagStreamEncoder(self.inner.stream_encoder(request, model, request_id), self)


class RagStreamEncoder:
    """The inner wire's stream, and before its end the ``switchyard.rag`` block (sources, and the chunk
    ids the streamed answer cited), where the wire has room for it."""

    def __init__(self, inner: StreamEncoder, wire: RagChatWire) -> None:
        self.inner = inner
        self.wire = wire
        self.parts: list[str] = []

    def encode(self, chunk: Chunk) -> bytes:
        if chunk.content:
            self.parts.append(chunk.content)
        return self.inner.encode(chunk)

    def finish(self, usage: Usage | None) -> bytes:
        return self.inner.extension(self.wire.block("".join(self.parts), cached=False)) + self.inner.finish(usage)

    def error(self, err: SwitchyardError) -> bytes:
        return self.inner.error(err)

    def extension(self, data: JSON) -> bytes:
        return self.inner.extension(data)


def rag(request: Request) -> RagService:
    holder: RagHolder | None = getattr(request.app.state, "rag", None)
    if holder is None:
        raise NotFound("RAG is not enabled on this gateway", code="rag_disabled")
    return holder.get()


def collection_json(c: Collection) -> JSON:
    return {
        "name": c.name,
        "object": "rag.collection",
        "sensitivity": c.sensitivity,
        "acl": {"read": c.acl.read, "write": c.acl.write, "admin": c.acl.admin},
        "embed_model": c.embed_model,
        "documents": c.documents,
        "chunks": c.chunks,
        "created": int(c.created),
    }


def hit_json(h: Hit) -> JSON:
    return {
        "id": h.chunk.id,
        "score": h.score,
        "text": h.chunk.text,
        "stages": h.stages,
        "provenance": h.provenance(),
    }


async def _body(request: Request, model: type[Any]) -> Any:
    return parse(model, await read_json(request, gateway(request).max_body_bytes))


async def create_collection(request: Request) -> Response:
    principal = authenticate(request)
    body: CreateBody = await _body(request, CreateBody)
    acl = Acl(**body.acl.model_dump()) if body.acl else None
    c = await asyncio.to_thread(rag(request).create, principal, body.name, body.sensitivity, acl)
    return JSONBody(collection_json(c), status_code=201)


async def list_collections(request: Request) -> Response:
    principal = authenticate(request)
    found = await asyncio.to_thread(rag(request).visible, principal)
    return JSONBody({"object": "list", "data": [collection_json(c) for c in found]})


async def show_collection(request: Request) -> Response:
    principal = authenticate(request)
    c = await asyncio.to_thread(rag(request).collection, principal, request.path_params["name"], "read")
    return JSONBody(collection_json(c))


async def patch_collection(request: Request) -> Response:
    principal = authenticate(request)
    body: PatchBody = await _body(request, PatchBody)
    name = request.path_params["name"]
    c = await asyncio.to_thread(rag(request).set_acl, principal, name, Acl(**body.acl.model_dump()))
    return JSONBody(collection_json(c))


async def delete_collection(request: Request) -> Response:
    principal = authenticate(request)
    name = request.path_params["name"]
    await asyncio.to_thread(rag(request).delete, principal, name)
    return JSONBody({"id": name, "object": "rag.collection", "deleted": True})


async def add_documents(request: Request) -> Response:
    principal = authenticate(request)
    body: AddBody = await _body(request, AddBody)
    docs = [Document(d.id, d.text, d.title, d.subject, d.metadata, d.format) for d in body.documents]
    report = await asyncio.to_thread(rag(request).add, principal, request.path_params["name"], docs)
    return JSONBody({"object": "rag.ingest", **report.as_dict()}, status_code=201)


async def list_documents(request: Request) -> Response:
    principal = authenticate(request)
    service = rag(request)
    name = request.path_params["name"]
    await asyncio.to_thread(service.collection, principal, name, "read")
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidRequest("'limit' must be a whole number from 1 to 1000", param="limit")
    limit = int(raw)
    docs = await asyncio.to_thread(service.store.list_documents, name, limit)
    return JSONBody({"object": "list", "data": docs})


async def delete_document(request: Request) -> Response:
    principal = authenticate(request)
    name, doc_id = request.path_params["name"], request.path_params["doc_id"]
    await asyncio.to_thread(rag(request).delete_document, principal, name, doc_id)
    return JSONBody({"id": doc_id, "object": "rag.document", "deleted": True})


async def erase(request: Request) -> Response:
    principal = authenticate(request)
    body: EraseBody = await _body(request, EraseBody)
    erased = await asyncio.to_thread(rag(request).erase_subject, principal, body.subject, body.collections)
    return JSONBody({"object": "rag.erasure", "subject": body.subject, "erased": erased})


async def search(request: Request) -> Response:
    principal = authenticate(request)
    body: SearchBody = await _body(request, SearchBody)
    hits = await rag(request).search(principal, body.collections, body.query, body.k)
    return JSONBody({"object": "list", "data": [hit_json(h) for h in hits]})


routes = [
    Route("/v1/rag/collections", create_collection, methods=["POST"]),
    Route("/v1/rag/collections", list_collections, methods=["GET"]),
    Route("/v1/rag/collections/{name}", show_collection, methods=["GET"]),
    Route("/v1/rag/collections/{name}", patch_collection, methods=["PATCH"]),
    Route("/v1/rag/collections/{name}", delete_collection, methods=["DELETE"]),
    Route("/v1/rag/collections/{name}/documents", add_documents, methods=["POST"]),
    Route("/v1/rag/collections/{name}/documents", list_documents, methods=["GET"]),
    Route("/v1/rag/collections/{name}/documents/{doc_id:path}", delete_document, methods=["DELETE"]),
    Route("/v1/rag/erase", erase, methods=["POST"]),
    Route("/v1/rag/search", search, methods=["POST"]),
]
