"""One chat request through the gateway, whatever wire format it came in: resolve the model or
route, dispatch, translate the answer back, and leave exactly one ledger record (with its attempts)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..dispatch import DispatchTrace, OpenStream
from ..errors import SwitchyardError, UpstreamError
from ..gateway import Gateway, Resolution
from ..store.base import AttemptRecord, LedgerRecord
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Principal, Usage
from .http import ClientDisconnected, EventStreamResponse, until_disconnect

CLIENT_CLOSED = 499  # nginx's convention for "client closed request"


class StreamEncoder(Protocol):
    def encode(self, chunk: Chunk) -> bytes: ...

    def finish(self, usage: Usage | None) -> bytes: ...

    def error(self, err: SwitchyardError) -> bytes: ...


class ChatWire(Protocol):
    """How one wire format renders answers; the OpenAI and Anthropic routes each provide one."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON: ...

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> StreamEncoder: ...


def new_record(
    gw: Gateway, principal: Principal, endpoint: str, requested: str, res: Resolution | None, stream: bool
) -> LedgerRecord:
    return LedgerRecord(
        id=uuid.uuid4().hex,
        ts=time.time(),
        key_id=principal.key_id,
        team=principal.team,
        endpoint=endpoint,
        requested=requested,
        route=res.route if res else None,
        served_model=None,
        provider=None,
        locality=None,
        stream=stream,
    )


def settle(
    gw: Gateway,
    rec: LedgerRecord,
    trace: DispatchTrace,
    started: float,
    *,
    usage: Usage | None = None,
    error: SwitchyardError | None = None,
    status: int | None = None,
) -> None:
    """Fill the record from the dispatch trace and queue it for the ledger."""
    rec.latency_ms = (time.monotonic() - started) * 1000
    rec.fallback_chain = trace.chain
    rec.attempts = [
        AttemptRecord(
            seq=i,
            ts=rec.ts + (a.started - started),
            model=a.model,
            provider=a.provider,
            locality=a.locality,
            latency_ms=a.latency_ms,
            ttft_ms=a.ttft_ms,
            status="ok" if a.ok else "error",
            error_class=a.error.error_class if a.error else None,
        )
        for i, a in enumerate(trace.attempts)
    ]
    last = trace.attempts[-1] if trace.attempts else None
    if last is not None:
        model = gw.config.model(last.model)
        rec.served_model = last.model
        rec.provider = model.provider if model else None
        rec.locality = last.locality
        rec.ttft_ms = last.ttft_ms
    if usage is not None and rec.served_model is not None:
        rec.input_tokens = usage.prompt_tokens
        rec.output_tokens = usage.completion_tokens
        rec.cached_tokens = usage.cached_tokens
        rec.tokens_estimated = usage.estimated
        rec.cost = gw.prices[rec.served_model].cost(usage)
    if error is not None:
        rec.status = status or error.status
        rec.error_class = error.error_class
    else:
        rec.status = status or 200
    gw.ledger.record(rec)


def route_headers(res: Resolution, rec: LedgerRecord, served: str | None) -> dict[str, str]:
    headers = {"x-request-id": rec.id, "x-switchyard-reason": res.reason}
    if res.route:
        headers["x-switchyard-route"] = res.route
    if served:
        headers["x-switchyard-model"] = served
    if len(rec.fallback_chain) > 1:
        headers["x-switchyard-fallbacks"] = ",".join(rec.fallback_chain)
    return headers


async def run_chat(
    gw: Gateway, http_request: Request, principal: Principal, req: ChatRequest, endpoint: str, wire: ChatWire
) -> Response:
    res = gw.resolve(req.model)
    rec = new_record(gw, principal, endpoint, req.model, res, req.stream)
    trace = DispatchTrace()
    started = time.monotonic()
    try:
        if req.stream:
            opened = await until_disconnect(http_request, gw.dispatcher.stream(req, res.targets, trace))
        else:
            model, resp = await until_disconnect(http_request, gw.dispatcher.chat(req, res.targets, trace))
    except ClientDisconnected:
        settle(gw, rec, trace, started, error=UpstreamError("client disconnected"), status=CLIENT_CLOSED)
        return Response(status_code=CLIENT_CLOSED)
    except SwitchyardError as err:
        settle(gw, rec, trace, started, error=err)
        raise
    if req.stream:
        rec.served_model = opened.model.name
        events = _stream_body(gw, rec, trace, started, req, opened, wire)
        return EventStreamResponse(events, headers=route_headers(res, rec, opened.model.name))
    usage = resp.usage
    if usage is None:
        usage = gw.tokens.estimate(req, (resp.content or "") + _tool_text(resp), trace.served_by)
        resp.usage = usage
    settle(gw, rec, trace, started, usage=usage)
    body = wire.render(resp, model.name, rec.id)
    return JSONResponse(body, headers=route_headers(res, rec, model.name))


def _tool_text(resp: ChatResponse) -> str:
    return "".join(c.function.name + c.function.arguments for c in resp.tool_calls or ())


async def _stream_body(
    gw: Gateway,
    rec: LedgerRecord,
    trace: DispatchTrace,
    started: float,
    req: ChatRequest,
    opened: OpenStream,
    wire: ChatWire,
) -> AsyncIterator[bytes]:
    encoder = wire.stream_encoder(req, opened.model.name, rec.id)
    usage: Usage | None = None
    produced: list[str] = []
    recorded = False

    def finish(error: SwitchyardError | None = None, status: int | None = None) -> Usage:
        nonlocal recorded
        final = usage
        if final is None:
            final = gw.tokens.estimate(req, "".join(produced), opened.member.provider)
        settle(gw, rec, trace, started, usage=final, error=error, status=status)
        recorded = True
        return final

    async def chunks() -> AsyncIterator[Chunk]:
        yield opened.first
        async for chunk in opened.rest:
            yield chunk

    try:
        async for chunk in chunks():
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.content:
                produced.append(chunk.content)
            for tc in chunk.tool_calls or ():
                produced.append((tc.name or "") + tc.arguments)
            data = encoder.encode(chunk)
            if data:
                yield data
    except SwitchyardError as err:
        finish(err)
        yield encoder.error(err)
        return
    except (asyncio.CancelledError, GeneratorExit):
        if not recorded:
            finish(UpstreamError("client disconnected"), status=CLIENT_CLOSED)
        raise
    yield encoder.finish(finish())
