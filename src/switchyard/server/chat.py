"""Chat over HTTP, whatever the wire format: the call itself is ``Gateway.chat`` / ``Gateway.stream``;
this module races it against the client's disconnect and renders the result in the client's format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from ..calls import CallInfo, ChatStream
from ..errors import SwitchyardError
from ..gateway import Gateway
from ..rag.serving.chat import rag_block
from ..types import ChatRequest, Principal
from ..wire.base import ChatWire, StreamEncoder
from ..wire.rag import RagChatWire
from .http import EventStreamResponse, JSONBody, until_disconnect


def call_headers(info: CallInfo) -> dict[str, str]:
    """How the gateway handled the call, as x-switchyard-* headers."""
    headers = {"x-request-id": info.id, "x-switchyard-reason": info.reason}
    if info.route:
        headers["x-switchyard-route"] = info.route
    if info.model:
        headers["x-switchyard-model"] = info.model
    if len(info.fallbacks) > 1:
        headers["x-switchyard-fallbacks"] = ",".join(info.fallbacks)
    if info.cached:
        headers["x-switchyard-cache"] = "hit"
    if info.guard:
        headers["x-switchyard-guard"] = info.guard
    return headers


async def respond_chat(
    request: Request, gw: Gateway, principal: Principal, req: ChatRequest, endpoint: str, wire: ChatWire
) -> Response:
    if req.stream:
        stream = await until_disconnect(request, gw.stream(principal, req, endpoint=endpoint))
        if stream.rag is not None:
            wire = RagChatWire(wire, partial(rag_block, stream.rag, cached=False))
        model = stream.info.model or req.model
        events = _events(stream, wire.stream_encoder(req, model, stream.info.id))
        return EventStreamResponse(events, headers=call_headers(stream.info))
    result = await until_disconnect(request, gw.chat(principal, req, endpoint=endpoint))
    if result.rag is not None:
        wire = RagChatWire(wire, partial(rag_block, result.rag, cached=result.info.cached))
    body = wire.render(result.response, result.info.model or req.model, result.info.id)
    return JSONBody(body, headers=call_headers(result.info))


async def _events(stream: ChatStream, encoder: StreamEncoder) -> AsyncIterator[bytes]:
    """The stream's chunks in the wire's events; an upstream failure after the first chunk ends the
    stream with the wire's error event (the call has recorded it)."""
    async with aclosing(stream):
        try:
            async for chunk in stream:
                data = encoder.encode(chunk)
                if data:
                    yield data
        except SwitchyardError as err:
            yield encoder.error(err)
            return
        yield encoder.finish(stream.usage)
