"""create_app: the ASGI application around one Gateway."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..calls import CLIENT_CLOSED
from ..config import GatewayConfig, Settings, load_config
from ..dashboard import Dashboard
from ..errors import SwitchyardError
from ..gateway import Gateway
from ..observability.shared_metrics import SharedMetrics
from . import admin_routes, anthropic_routes, metrics_routes, openai_routes, rag_routes, responses_routes
from .errors import handle_http_exception, handle_switchyard_error, handle_unexpected
from .http import ClientDisconnected, JSONBody
from .openapi import openapi_schema


async def client_disconnected(request: Request, exc: Exception) -> Response:
    return Response(status_code=CLIENT_CLOSED)  # nobody reads it; the ledger has the record


async def healthz(request: Request) -> Response:
    return JSONBody({"status": "ok"})


async def readyz(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    ready = gw.started
    return JSONBody(
        {"status": "ready" if ready else "starting", "ledger_backlog": gw.ledger.backlog, "worker": os.getpid()},
        status_code=200 if ready else 503,
    )


def create_app(
    settings: Settings | None = None,
    config: GatewayConfig | None = None,
    gateway: Gateway | None = None,
    *,
    shared_metrics: Path | None = None,
) -> Starlette:
    """Build the app. Pass a ready ``gateway`` (tests inject transports and environments that way), or
    settings and config, or nothing to read both from the environment. ``shared_metrics``: the directory
    where the workers of one ``serve --workers N`` share their metrics (/metrics then reports the
    machine's totals)."""
    if gateway is None:
        settings = settings or Settings()
        config = config or load_config(settings.config)
        gateway = Gateway(settings, config)
    gw = gateway
    # names this gateway's models, and says whether it keeps responses
    document = openapi_schema(
        gw.config, metrics_public=gw.settings.metrics_public, responses_store=gw.options.responses_store
    )

    async def openapi(request: Request) -> Response:
        return JSONBody(document)

    configured = gw.settings.dashboard_secret
    dashboard = Dashboard(configured.encode() if configured else secrets.token_bytes(32), gw.settings.admin_key)

    shared = SharedMetrics(gw.metrics, shared_metrics) if shared_metrics is not None else None
    exposition: Callable[[], bytes] = shared.exposition if shared is not None else gw.metrics.exposition

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gw.start()
        if shared is not None:
            shared.start()
        try:
            yield
        finally:
            await gw.aclose()
            if shared is not None:
                await shared.aclose()  # after the ledger's last records: the final counts

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *openai_routes.routes,
            *responses_routes.routes,
            *anthropic_routes.routes,
            *admin_routes.routes,
            *metrics_routes.routes,
            *dashboard.routes(),
            *rag_routes.routes,
        ],
        exception_handlers={
            SwitchyardError: handle_switchyard_error,
            ClientDisconnected: client_disconnected,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gw
    app.state.metrics_exposition = exposition
    return app
