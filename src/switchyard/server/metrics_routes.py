"""GET /metrics: the Prometheus text exposition of this gateway's registry (of every worker's on the
machine, under ``serve --workers N``: ``observability/shared_metrics.py``).

Who may read it: a request bearing the ``metrics_token`` (``SWITCHYARD_METRICS_TOKEN``) or an API key whose
roles allow ``metrics:read`` (the admin key does). Anyone, only with ``metrics_public`` set
(``SWITCHYARD_METRICS_PUBLIC=true``). Where a request comes from proves nothing: behind a reverse proxy on
the same host every client looks like loopback. Everyone else gets 401/403.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AuthenticationFailed
from ..observability.metrics import CONTENT_TYPE
from .auth import bearer_key, gateway, require


async def metrics(request: Request) -> Response:
    gw = gateway(request)
    token = gw.settings.metrics_token
    presented = bearer_key(request)
    if presented is None:
        if not gw.settings.metrics_public:
            raise AuthenticationFailed("/metrics needs the metrics token or a key allowed 'metrics:read'")
    elif token is None or not hmac.compare_digest(presented.encode(), token.encode()):
        require(request, "metrics:read")
    exposition: Callable[[], bytes] = request.app.state.metrics_exposition  # the machine's, with workers
    return Response(exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
