"""RAG endpoints under /v1/rag: collections (create, list, show, change ACL, delete), documents (add,
list, delete), erasure by data subject, and search. Every call is checked against the collection's ACL
(403 when the caller's team may not); RAG chat is a chat call (``Gateway.chat``, ``rag/chat.py``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InvalidRequest
from ..rag.serving.blocks import PARSERS
from ..rag.serving.service import NAME, RagService
from ..rag.types import Acl, Collection, Document, Hit
from ..types import JSON
from ..wire.openai import parse
from .auth import authenticate, gateway, require
from .http import JSONBody, read_json


def _whole(value: Any) -> Any:
    """A JSON number with no fraction is an integer (JSON Schema says so: 5.0 is a valid ``integer``)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = Annotated[int, BeforeValidator(_whole)]


class _Strict(BaseModel):
    """No unknown fields and no coercion (``"5"`` is not a number): what the document says is what passes."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AclBody(_Strict):
    read: list[str] = Field(default_factory=list)
    write: list[str] = Field(default_factory=list)
    admin: list[str] = Field(default_factory=list)


class CreateBody(_Strict):
    name: str = Field(pattern=NAME.pattern, description="1-64 letters, digits, '.', '_' or '-'")
    sensitivity: Literal["public", "internal", "confidential"] = "internal"
    acl: AclBody | None = None


class PatchBody(_Strict):
    acl: AclBody


# Some character that is not whitespace (Python's ``str.isspace``, spelled out so that every regex engine
# reads the document's pattern the same way).
HAS_TEXT = r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class DocumentBody(_Strict):
    id: str = Field(min_length=1, max_length=512)
    format: Literal["txt", "md", "html"] = "txt"
    text: str = Field(json_schema_extra={"pattern": HAS_TEXT}, description="must have some text in its format")
    title: str = ""
    subject: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _has_text(cls, text: str, info: ValidationInfo) -> str:
        """A document whose format leaves no text (empty, blank, only markup) has nothing to chunk or index."""
        parse = PARSERS[info.data.get("format", "txt")]
        if not any(block.text.strip() for block in parse(text)):
            raise ValueError("the document has no text to index")
        return text


class AddBody(_Strict):
    documents: list[DocumentBody] = Field(min_length=1)


class EraseBody(_Strict):
    subject: str = Field(min_length=1)
    collections: list[str] | None = None


class SearchBody(_Strict):
    collections: list[str] = Field(min_length=1)
    query: str = Field(min_length=1, json_schema_extra={"pattern": HAS_TEXT}, description="not only whitespace")
    k: Whole = Field(default=5, ge=1, le=100)


def rag(request: Request) -> RagService:
    return gateway(request).rag.get()


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
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
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
    # Erasure rewrites the store (compaction): it needs its own permission, besides administering the
    # collections it erases from.
    principal = require(request, "rag:erase")
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
