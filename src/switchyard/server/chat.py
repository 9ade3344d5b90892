"""One chat request through the gateway, whatever wire format it came in: resolve the model or
route, dispatch, translate the answer back, and leave exactly one ledger record (with its attempts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from ..config import ModelConfig
from ..dispatch import OpenStream
from ..errors import SwitchyardError
from ..gateway import Gateway, Resolution
from ..sensitivity import Pseudonymizer, PseudonymSession
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Principal, ToolCallDelta, Usage
from ..verifiers import verifiers_for, verify
from .http import EventStreamResponse, JSONBody
from .recording import RecordedCall


class StreamEncoder(Protocol):
    def encode(self, chunk: Chunk) -> bytes: ...

    def finish(self, usage: Usage | None) -> bytes: ...

    def error(self, err: SwitchyardError) -> bytes: ...

    def extension(self, data: JSON) -> bytes:
        """switchyard's own ``switchyard`` block (RAG sources) in the stream: an event of its own where the
        wire format has room for one (OpenAI), else b"" and the block rides on the final event (Anthropic's
        message_delta)."""
        ...


class ChatWire(Protocol):
    """How one wire format renders answers; the OpenAI and Anthropic routes each provide one."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON: ...

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> StreamEncoder: ...


async def run_chat(
    gw: Gateway, http_request: Request, principal: Principal, req: ChatRequest, endpoint: str, wire: ChatWire
) -> Response:
    res = await gw.resolve(principal, req.model, request=req)
    call = RecordedCall(gw, principal, endpoint, res, stream=req.stream)
    targets = res.targets
    # A cascade judges whole answers: a streamed request on a cascade route whose answers a verifier can
    # judge is run to completion first, and the accepted answer is then streamed to the client.
    verified = res.policy.strategy == "cascade" and len(targets) > 1 and _verifiable(req, res)
    if req.stream and not verified:
        masking = Masking.for_resolution(gw, res, req)
        rewrite = masking.rewrite if masking else None
        opened = await call.dispatch(http_request, lambda trace: gw.dispatcher.stream(req, targets, trace, rewrite))
        restore = masking.session if masking and masking.applies_to(opened.model.name) else None
        events = _stream_body(gw, call, req, opened, wire, restore)
        return EventStreamResponse(events, headers=call.headers(opened.model.name))
    sent = req.model_copy(update={"stream": False, "stream_options": None}) if req.stream else req
    if verified and res.policy.min_confidence is not None and not req.logprobs:
        # The confidence verifier reads logprobs; the client gets them only if it asked too.
        sent = sent.model_copy(update={"logprobs": True})
    masking = Masking.for_resolution(gw, res, sent)
    rewrite = masking.rewrite if masking else None
    checks = verifiers_for(res.policy.min_confidence)

    def accept(_model: ModelConfig, answer: ChatResponse) -> str | None:
        return verify(req, answer, checks)

    model, resp = await call.dispatch(
        http_request, lambda trace: gw.dispatcher.chat(sent, targets, trace, rewrite, accept if verified else None)
    )
    if not req.logprobs:
        resp.logprobs = None
    if masking and masking.applies_to(model.name):
        resp = masking.session.restore_response(resp)
    if resp.usage is None:
        completion = (resp.content or "") + "".join(
            c.function.name + c.function.arguments for c in resp.tool_calls or ()
        )
        resp.usage = gw.tokens.estimate(req, completion, call.trace.served_by)
    call.settle(usage=resp.usage)
    if req.stream:
        replay = _replay(wire.stream_encoder(req, model.name, call.id), resp, resp.usage)
        return EventStreamResponse(replay, headers=call.headers(model.name))
    return JSONBody(wire.render(resp, model.name, call.id), headers=call.headers(model.name))


def _verifiable(req: ChatRequest, res: Resolution) -> bool:
    """Whether a verifier of the route can judge this request's answers (else a cascade just streams)."""
    structured = req.response_format is not None and req.response_format.type != "text"
    return structured or bool(req.tools) or res.policy.min_confidence is not None


async def _replay(encoder: StreamEncoder, resp: ChatResponse, usage: Usage) -> AsyncIterator[bytes]:
    """A complete answer as stream events: its text, its tool calls, the finish and the usage."""
    chunks = []
    if resp.content:
        chunks.append(Chunk(content=resp.content))
    for i, tc in enumerate(resp.tool_calls or ()):
        delta = ToolCallDelta(index=i, id=tc.id, name=tc.function.name, arguments=tc.function.arguments)
        chunks.append(Chunk(tool_calls=[delta]))
    chunks.append(Chunk(finish_reason=resp.finish_reason))
    for chunk in chunks:
        if data := encoder.encode(chunk):
            yield data
    yield encoder.finish(usage)


class Masking:
    """Pseudonymization for one request: targets outside the perimeter get a masked copy (built once),
    and their answers are restored before the client sees them."""

    def __init__(self, session: PseudonymSession, request: ChatRequest, models: set[str]) -> None:
        self.session = session
        self.models = models
        self._masked: ChatRequest | None = None
        self._request = request

    @classmethod
    def for_resolution(cls, gw: Gateway, res: Resolution, request: ChatRequest) -> Masking | None:
        if not res.pseudonymize_for or gw.detector is None:
            return None
        return cls(Pseudonymizer(gw.detector).session(), request, res.pseudonymize_for)

    def applies_to(self, model: str) -> bool:
        return model in self.models

    def rewrite(self, model: ModelConfig, request: ChatRequest) -> ChatRequest:
        if model.name not in self.models:
            return request
        if self._masked is None:
            self._masked = self.session.mask_request(self._request)
        return self._masked


async def _stream_body(
    gw: Gateway,
    call: RecordedCall,
    req: ChatRequest,
    opened: OpenStream,
    wire: ChatWire,
    restore: PseudonymSession | None = None,
) -> AsyncIterator[bytes]:
    """Relay the stream; the record is queued before the closing event, so an answer the client saw
    complete is always in the ledger."""
    encoder = wire.stream_encoder(req, opened.model.name, call.id)
    usage: Usage | None = None
    produced: list[str] = []

    def final_usage() -> Usage:
        return usage or gw.tokens.estimate(req, "".join(produced), opened.member.provider)

    async def chunks() -> AsyncIterator[Chunk]:
        yield opened.first
        async for chunk in opened.rest:
            yield chunk

    source = restore.restore_stream(chunks()) if restore is not None else chunks()
    try:
        async for chunk in source:
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
        call.settle(usage=final_usage(), error=err)
        yield encoder.error(err)
        return
    except (asyncio.CancelledError, GeneratorExit):
        if not call.settled:
            call.client_gone(final_usage())
        raise
    usage = final_usage()
    call.settle(usage=usage)
    yield encoder.finish(usage)
