"""The OpenAI-compatible endpoints: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..policies.access import may_call
from ..types import JSON
from ..wire import openai as wire
from ..wire.chat import OpenAIChatWire
from .auth import authenticate, gateway
from .chat import call_headers, respond_chat
from .http import JSONBody, read_json, until_disconnect


async def chat_completions(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = wire.parse_chat_request(await read_json(request, gw.max_body_bytes))
    return await respond_chat(request, gw, principal, req, "chat", OpenAIChatWire())


async def embeddings(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = wire.parse_embedding_request(await read_json(request, gw.max_body_bytes))
    result = await until_disconnect(request, gw.embed(principal, req))
    model = result.info.model or req.model
    body = wire.render_embeddings(result.vectors, model, result.usage, req.encoding_format)
    return JSONBody(body, headers=call_headers(result.info))


async def list_models(request: Request) -> Response:
    """The models and routes the caller's team may call (nothing else is named to it)."""
    gw = gateway(request)
    principal = authenticate(request)
    access = gw.config.access
    data: list[JSON] = [
        {
            "id": m.name,
            "object": "model",
            "created": 0,
            "owned_by": m.provider,
            "switchyard": {"kind": m.kind, "locality": m.locality, "tier": m.tier, "tags": m.tags},
        }
        for m in gw.config.models
        if may_call(access, principal, m.name, route=False)
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
        if may_call(access, principal, r.name, route=True)
    ]
    return JSONBody({"object": "list", "data": data})


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
