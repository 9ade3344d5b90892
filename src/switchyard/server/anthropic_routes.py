"""The Anthropic-compatible endpoint: POST /v1/messages (Messages API in and out)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..wire import anthropic as wire
from ..wire.chat import AnthropicChatWire
from .auth import bearer_key, client_address, gateway
from .chat import respond_chat
from .http import read_json


async def messages(request: Request) -> Response:
    gw = gateway(request)
    # Anthropic clients send x-api-key; Bearer works too.
    principal = gw.auth.authenticate(request.headers.get("x-api-key") or bearer_key(request), client_address(request))
    req = wire.parse_messages_request(await read_json(request, gw.max_body_bytes))
    return await respond_chat(request, gw, principal, req, "messages", AnthropicChatWire())


routes = [Route("/v1/messages", messages, methods=["POST"])]
