"""GET /metrics: the Prometheus text exposition of this gateway's registry.

Who may read it: with ``metrics_token`` set (``SWITCHYARD_METRICS_TOKEN``), a request bearing that token
or an API key whose roles allow ``metrics:read`` (the admin key does); without a token, also any client
on the loopback interface (a Prometheus agent or sidecar on the same host). Everyone else gets 401/403.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AuthenticationFailed
from ..observability.metrics import CONTENT_TYPE
from .auth import bearer_key, gateway, require


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    gw = gateway(request)
    token = gw.settings.metrics_token
    presented = bearer_key(request)
    if presented is None:
        if token is not None or not is_loopback(request):
            raise AuthenticationFailed("/metrics needs the metrics token or a key allowed 'metrics:read'")
    elif token is None or not hmac.compare_digest(presented.encode(), token.encode()):
        require(request, "metrics:read")
    return Response(gw.metrics.exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
