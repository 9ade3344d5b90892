"""The Anthropic-compatible endpoint: POST /v1/messages (Messages API in and out)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import SwitchyardError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, Usage
from ..wire import anthropic as wire
from .chat import ChatWire, run_chat
from .http import read_json
from .openai_routes import bearer_key, gateway


class _Encoder:
    """Adapts the Anthropic event encoder to the gateway's byte-oriented stream protocol."""

    def __init__(self, model: str, request_id: str) -> None:
        self._enc = wire.AnthropicStreamEncoder(model, wire.new_message_id(request_id))

    def encode(self, chunk: Chunk) -> bytes:
        return b"".join(self._enc.encode(chunk))

    def finish(self, usage: Usage | None) -> bytes:
        return b"".join(self._enc.finish(usage))

    def error(self, err: SwitchyardError) -> bytes:
        return b"".join(self._enc.finish(error=err))

    def extension(self, data: JSON) -> bytes:
        # A new event type would break clients; an extra field on the final message_delta does not.
        self._enc.extra["switchyard"] = data
        return b""


class AnthropicChatWire:
    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return wire.render_message(resp, model)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> _Encoder:
        return _Encoder(model, request_id)


async def messages(request: Request) -> Response:
    gw = gateway(request)
    # Anthropic clients send x-api-key; Bearer works too.
    principal = gw.auth.authenticate(request.headers.get("x-api-key") or bearer_key(request))
    req = wire.parse_messages_request(await read_json(request, gw.max_body_bytes))
    chat_wire: ChatWire = AnthropicChatWire()
    rag = getattr(request.app.state, "rag", None)  # RAG chat: "switchyard": {"collections": [...]}
    if rag is not None:
        req, chat_wire, ready = await rag.prepare_chat(principal, req, chat_wire, endpoint="messages")
        if isinstance(ready, Response):
            return ready
    return await run_chat(gw, request, principal, req, "messages", chat_wire)


routes = [Route("/v1/messages", messages, methods=["POST"])]
