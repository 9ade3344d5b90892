"""Errors -> HTTP responses, in one place: OpenAI-shaped everywhere, Anthropic-shaped under
/v1/messages. Unexpected exceptions become a 500 without internals in the body."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from ..errors import InvalidRequest, NotFound, SwitchyardError
from ..wire import anthropic as anthropic_wire
from ..wire import openai as openai_wire
from .http import JSONBody

log = logging.getLogger(__name__)


def error_response(request: Request, err: SwitchyardError) -> Response:
    gw = getattr(request.app.state, "gateway", None)
    if gw is not None:
        gw.metrics.observe_error_response(err.status, err.error_class)
    if request.url.path.startswith("/v1/messages"):
        body = anthropic_wire.error_body(err)
    else:
        body = openai_wire.error_body(err)
    headers = dict(err.headers)
    if err.status == 401:
        headers["www-authenticate"] = "Bearer"
    return JSONBody(body, status_code=err.status, headers=headers)


async def handle_switchyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwitchyardError)
    return error_response(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    err: SwitchyardError
    if exc.status_code == 404:
        err = NotFound(f"no such endpoint: {request.method} {request.url.path}", code="unknown_url")
    else:
        err = InvalidRequest(str(exc.detail))
        err.status = exc.status_code
        err.headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == 405:
            err.headers["allow"] = allowed_methods(request)
    return error_response(request, err)


def allowed_methods(request: Request) -> str:
    """Every method the app serves at the request's path. Starlette's own ``Allow`` names only the methods of
    the first route that matched the path, and a path here is often served by one route per method."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, SwitchyardError("internal error; see the gateway's log"))
