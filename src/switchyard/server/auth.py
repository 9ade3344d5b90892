"""Who is calling: the gateway of the app, the API key of a request, and the admin actions it may take."""

from __future__ import annotations

from starlette.requests import Request

from ..errors import PermissionDenied
from ..gateway import Gateway
from ..policies.access import may
from ..types import Principal


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def bearer_key(request: Request) -> str | None:
    """``Authorization: Bearer <key>``, else ``x-api-key`` (what Anthropic clients send)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key")


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticate(request: Request) -> Principal:
    return gateway(request).auth.authenticate(bearer_key(request), client_address(request))


def require(request: Request, action: str) -> Principal:
    """The caller, if its roles allow the admin ``action`` (e.g. ``keys:create``); else 403."""
    principal = authenticate(request)
    if not may(gateway(request).config.access, principal, action):
        raise PermissionDenied(f"the key's roles do not allow {action!r}", code="forbidden_action")
    return principal
