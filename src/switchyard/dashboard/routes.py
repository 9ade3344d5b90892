"""The dashboard's pages: ``/`` (spend, savings, proprietary share, budgets, route decisions, recent
errors), ``/login`` and ``/logout``. Server-rendered HTML, no scripts; autoescaped templates.

Who may log in: the admin key, or a key whose roles allow ``usage:read`` (see ``access.roles``). A wrong
key gets the login page back with one generic message; keys are never echoed or stored. What the page
shows is what ``GET /v1/admin/usage`` would show the same key (``policies.access.usage_team``): a stored
key's login sees its own team's requests and budgets (the team's and its keys'); the admin key's login
sees every team.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import AuthenticationFailed, RateLimited
from ..gateway import Gateway
from ..keys import ADMIN_PRINCIPAL
from ..policies.access import may, usage_team
from ..types import Principal
from .charts import usd
from .data import load
from .session import COOKIE, SessionSigner
from .view import page, utc

TEMPLATES = Path(__file__).parent / "templates"
PERIODS = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
DEFAULT_PERIOD = "30d"
ACTION = "usage:read"
LOGIN_FAILED = "That key cannot open the dashboard."
MAX_FORM_BYTES = 4096
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class Dashboard:
    def __init__(self, secret: bytes, admin_key: str | None) -> None:
        self.signer = SessionSigner(secret, admin_key)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), undefined=StrictUndefined
        )
        self.env.filters.update(usd=usd, utc=utc, pct=lambda v: f"{v:.1%}", num=lambda v: f"{v:,}")

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def principal(self, request: Request) -> Principal | None:
        """Who the session cookie names, if the session is valid and the key may still read usage."""
        session = self.signer.read(request.cookies.get(COOKIE))
        if session is None:
            return None
        gw = _gateway(request)
        p = session.principal
        if p.key_id != ADMIN_PRINCIPAL.key_id:  # a stored key (admin role or not) may have been revoked
            keys = await asyncio.to_thread(gw.store.list_keys)
            if not any(k.id == p.key_id and not k.revoked for k in keys):
                return None
        return p if may(gw.config.access, p, ACTION) else None

    async def home(self, request: Request) -> Response:
        p = await self.principal(request)
        if p is None:
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        gw = _gateway(request)
        period = request.query_params.get("period", DEFAULT_PERIOD)
        period = period if period in PERIODS else DEFAULT_PERIOD
        now = time.time()
        team = usage_team(p)
        data = await asyncio.to_thread(load, gw.store, now - PERIODS[period], now, team=team)
        scopes = None if team is None else await asyncio.to_thread(_budget_scopes, gw, team)
        context = page(data, gw.config, await gw.budgets.acurrent_use(scopes))
        return self.render("dashboard.html", user=p, period=period, periods=list(PERIODS), **context)

    async def login_page(self, request: Request) -> Response:
        if await self.principal(request) is not None:
            return RedirectResponse("/", status_code=303, headers=HEADERS)
        return self.render("login.html", error=None)

    async def login(self, request: Request) -> Response:
        if not _same_origin(request):
            return self.render("login.html", status=403, error=LOGIN_FAILED)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return self.render("login.html", status=413, error=LOGIN_FAILED)
        key = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0].strip()
        gw = _gateway(request)
        try:
            client = request.client.host if request.client else None
            p: Principal | None = await asyncio.to_thread(gw.auth.authenticate, key, client)
        except AuthenticationFailed:
            p = None
        except RateLimited:  # too many failed logins from this address
            return self.render("login.html", status=429, error=LOGIN_FAILED)
        if p is None or not may(gw.config.access, p, ACTION):
            return self.render("login.html", status=401, error=LOGIN_FAILED)
        resp = RedirectResponse("/", status_code=303, headers=HEADERS)
        resp.set_cookie(
            COOKIE,
            self.signer.issue(p),
            max_age=int(self.signer.lifetime),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp

    async def logout(self, request: Request) -> Response:
        resp = RedirectResponse("/login", status_code=303, headers=HEADERS)
        resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return resp


def _gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def _budget_scopes(gw: Gateway, team: str) -> set[str]:
    """The budgets a login of ``team`` sees: the team's, and those of the team's keys."""
    return {f"team:{team}", *(f"key:{k.id}" for k in gw.store.list_keys() if k.team == team)}


def _same_origin(request: Request) -> bool:
    """A form post from another site is refused (the login form has no other CSRF token): browsers say
    where a request comes from in ``Sec-Fetch-Site``, older ones only in ``Origin``."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser form post (curl, tests)
    return urlparse(origin).netloc == request.headers.get("host", "")
