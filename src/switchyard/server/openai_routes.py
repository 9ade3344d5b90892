"""The OpenAI-compatible endpoints: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..dispatch import DispatchTrace
from ..errors import SwitchyardError, UpstreamError
from ..gateway import Gateway
from ..types import JSON, ChatRequest, ChatResponse, Principal
from ..wire import openai as wire
from .chat import CLIENT_CLOSED, new_record, route_headers, run_chat, settle
from .http import ClientDisconnected, read_json, until_disconnect


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
    return await run_chat(gw, request, principal, req, "chat", OpenAIChatWire())


async def embeddings(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = wire.parse_embedding_request(await read_json(request, gw.max_body_bytes))
    res = gw.resolve(req.model, kind="embedding")
    rec = new_record(gw, principal, "embeddings", req.model, res, False)
    trace = DispatchTrace()
    started = time.monotonic()
    try:
        model, out = await until_disconnect(request, gw.dispatcher.embed(req.texts(), res.targets, trace))
    except ClientDisconnected:
        settle(gw, rec, trace, started, error=UpstreamError("client disconnected"), status=CLIENT_CLOSED)
        return Response(status_code=CLIENT_CLOSED)
    except SwitchyardError as err:
        settle(gw, rec, trace, started, error=err)
        raise
    usage = out.usage
    if not usage.prompt_tokens:
        usage.prompt_tokens = sum(gw.tokens.count(t) for t in req.texts())
        usage.estimated = True
    vectors = out.vectors
    if req.dimensions is not None:
        vectors = [v[: req.dimensions] for v in vectors]
    settle(gw, rec, trace, started, usage=usage)
    return JSONResponse(
        wire.render_embeddings(vectors, model.name, usage, req.encoding_format),
        headers=route_headers(res, rec, model.name),
    )


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
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
