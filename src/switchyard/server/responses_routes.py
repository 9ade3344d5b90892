"""The OpenAI Responses endpoint: ``POST /v1/responses`` (text or item input, instructions, function tools
and their outputs fed back, ``text.format``, streamed events, usage), and ``GET`` / ``DELETE
/v1/responses/{response_id}`` for stored responses.

The call is ``Gateway.chat`` / ``Gateway.stream`` like any chat (keys, policies, budgets, the ledger under the
endpoint ``responses``); ``wire.responses*`` translate, ``switchyard.conversations`` decides what is kept
and continues it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..calls import ChatStream
from ..errors import InvalidRequest, SwitchyardError
from ..types import JSON, Message
from ..wire.responses import (
    ResponseIds,
    answer_message,
    chat_request,
    input_messages,
    rename_param,
    render_response,
    response_object,
)
from ..wire.responses_models import parse_responses_body
from ..wire.responses_stream import ResponsesStreamEncoder
from .auth import authenticate, gateway
from .chat import call_headers
from .http import EventStreamResponse, JSONBody, read_json, until_disconnect

ENDPOINT = "responses"  # the ledger's endpoint for these calls

# Stores a final Response object (with the conversation that led to it); returns whether it was stored.
Keep = Callable[[JSON], Awaitable[bool]]


async def create_response(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    req = parse_responses_body(await read_json(request, gw.max_body_bytes))
    history: list[Message] = []
    if req.previous_response_id is not None:
        history = await gw.conversations.history(principal, req.previous_response_id)
    turn = input_messages(req)
    chat = chat_request(req, history, turn)
    stored = gw.conversations.keeps(principal, req.store)
    created = int(gw.clock())

    async def keep(body: JSON) -> bool:
        conversation = [*history, *turn, answer_message(body["output"])]
        return await gw.conversations.keep(principal, body["id"], conversation, body)

    try:
        if req.stream:
            stream = await until_disconnect(request, gw.stream(principal, chat, endpoint=ENDPOINT))
        else:
            result = await until_disconnect(request, gw.chat(principal, chat, endpoint=ENDPOINT))
    except SwitchyardError as err:
        raise rename_param(err) from None
    if req.stream:
        ids = ResponseIds(stream.info.id)
        snapshot = partial(response_object, req, ids, stream.info.model or req.model, created, stored=stored)
        encoder = ResponsesStreamEncoder(snapshot, ids, gw.clock)
        return EventStreamResponse(
            _events(stream, encoder, keep if stored else None), headers=call_headers(stream.info)
        )
    ids = ResponseIds(result.info.id)
    model = result.info.model or req.model
    body = render_response(req, result.response, ids, model, created, int(gw.clock()), stored=stored)
    if stored:
        body["store"] = await keep(body)
    return JSONBody(body, headers=call_headers(result.info))


async def _events(stream: ChatStream, encoder: ResponsesStreamEncoder, keep: Keep | None) -> AsyncIterator[bytes]:
    """The stream's chunks as Responses events; the response is stored (when it is to be) before the event
    that completes it. An upstream failure after the first chunk ends the stream with ``error`` and
    ``response.failed`` (the call has recorded it)."""
    async with aclosing(stream):
        try:
            yield encoder.start()
            async for chunk in stream:
                data = encoder.encode(chunk)
                if data:
                    yield data
        except SwitchyardError as err:
            yield encoder.error(rename_param(err))
            return
        tail = encoder.close(stream.usage)
        if keep is not None and encoder.response is not None:
            encoder.response["store"] = await keep(encoder.response)
        yield tail + encoder.complete()


def _no_query(request: Request) -> None:
    for name in request.query_params:
        raise InvalidRequest(f"query parameter {name!r} is not supported", param=name)


async def get_response(request: Request) -> Response:
    """A stored response of the caller's team, as it was answered."""
    gw = gateway(request)
    principal = authenticate(request)
    _no_query(request)
    return JSONBody(await gw.conversations.get(principal, request.path_params["response_id"]))


async def delete_response(request: Request) -> Response:
    gw = gateway(request)
    principal = authenticate(request)
    response_id = request.path_params["response_id"]
    await gw.conversations.delete(principal, response_id)
    return JSONBody({"id": response_id, "object": "response", "deleted": True})


routes = [
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
]
