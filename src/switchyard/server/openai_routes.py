"""The OpenAI-compatible endpoints: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..gateway import Gateway
from ..types import JSON, ChatRequest, ChatResponse, Principal
from ..wire import openai as wire
from .chat import ChatWire, run_chat
from .http import JSONBody, read_json
from .recording import RecordedCall


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key")


def authenticate(request: Request) -> Principal:
    return gateway(request).auth.authenticate(bearer_key(request))


class OpenAIChatWire:
    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return wire.render_response(resp, model, "chatcmpl-" + request_id)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> wire.ChunkEncoder:
        include = bool(request.stream_options and request.stream_options.include_usage)
        return wire.ChunkEncoder("chatcmpl-" + request_id, model, int(time.time()), include)


async def chat_completions(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = wire.parse_chat_request(await read_json(request, gw.max_body_bytes))
    chat_wire: ChatWire = OpenAIChatWire()
    rag = getattr(request.app.state, "rag", None)  # RAG chat: "switchyard": {"collections": [...]}
    if rag is not None:
        req, chat_wire, ready = await rag.prepare_chat(principal, req, chat_wire)
        if isinstance(ready, Response):
            return ready
    return await run_chat(gw, request, principal, req, "chat", chat_wire)


async def embeddings(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = wire.parse_embedding_request(await read_json(request, gw.max_body_bytes))
    texts = req.texts()
    res = await gw.resolve(principal, req.model, kind="embedding", inputs=texts)
    call = RecordedCall(gw, principal, "embeddings", res)
    model, out = await call.dispatch(request, lambda trace: gw.dispatcher.embed(texts, call.res.targets, trace))
    usage = out.usage
    if not usage.prompt_tokens:
        usage.prompt_tokens = sum(gw.tokens.count(t) for t in req.texts())
        usage.estimated = True
    vectors = out.vectors
    if req.dimensions is not None:
        vectors = [v[: req.dimensions] for v in vectors]
    call.settle(usage=usage)
    body = wire.render_embeddings(vectors, model.name, usage, req.encoding_format)
    return JSONBody(body, headers=call.headers(model.name))


async def list_models(request: Request) -> Response:
    gw = gateway(request)
    authenticate(request)
    data: list[JSON] = [
        {
            "id": m.name,
            "object": "model",
            "created": 0,
            "owned_by": m.provider,
            "switchyard": {"kind": m.kind, "locality": m.locality, "tier": m.tier, "tags": m.tags},
        }
        for m in gw.config.models
    ]
    data += [
        {
            "id": r.name,
            "object": "model",
            "created": 0,
            "owned_by": "switchyard",
            "switchyard": {"route": r.models},
        }
        for r in gw.config.routes
    ]
    return JSONBody({"object": "list", "data": data})


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
