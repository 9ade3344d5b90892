"""Admin endpoints, each gated by an action the caller's roles must allow (``access.roles``):
``keys:create``, ``keys:read``, ``keys:revoke``, ``usage:read``. The admin key may do everything."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InvalidRequest, NotFound
from ..keys import create_key
from ..store.base import KeyRecord
from ..types import JSON
from .auth import gateway, require
from .http import JSONBody, read_json


def _key_json(k: KeyRecord) -> JSON:
    return {
        "id": k.id,
        "team": k.team,
        "name": k.name,
        "prefix": k.prefix,
        "roles": list(k.roles),
        "created": int(k.created),
        "revoked": k.revoked,
    }


async def create(request: Request) -> Response:
    require(request, "keys:create")
    gw = gateway(request)
    body = await read_json(request, gw.max_body_bytes)
    team = body.get("team") if isinstance(body, dict) else None
    if not isinstance(team, str) or not team:
        raise InvalidRequest("'team' is required: the team the key bills to", param="team")
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRequest("'roles' must be a list of role names", param="roles")
    record, secret = await asyncio.to_thread(
        create_key, gw.store, team, name=str(body.get("name", "")), roles=tuple(roles)
    )
    # The only time the secret is ever shown.
    return JSONBody({**_key_json(record), "secret": secret}, status_code=201)


async def list_keys(request: Request) -> Response:
    require(request, "keys:read")
    keys = await asyncio.to_thread(gateway(request).store.list_keys)
    return JSONBody({"data": [_key_json(k) for k in keys]})


async def revoke(request: Request) -> Response:
    require(request, "keys:revoke")
    gw = gateway(request)
    key_id = request.path_params["key_id"]
    if not await asyncio.to_thread(gw.store.revoke_key, key_id):
        raise NotFound(f"no active key {key_id!r}", param="key_id", code="key_not_found")
    gw.auth.forget()
    return JSONBody({"id": key_id, "revoked": True})


async def usage(request: Request) -> Response:
    require(request, "usage:read")
    days = request.query_params.get("days", "30")
    if not days.isdigit():
        raise InvalidRequest("'days' must be a whole number", param="days")
    rows = await asyncio.to_thread(gateway(request).store.usage, time.time() - int(days) * 86400)
    return JSONBody({"data": [{k: getattr(r, k) for k in r.__slots__} for r in rows]})  # type: ignore[attr-defined]


routes = [
    Route("/v1/admin/keys", create, methods=["POST"]),
    Route("/v1/admin/keys", list_keys, methods=["GET"]),
    Route("/v1/admin/keys/{key_id}", revoke, methods=["DELETE"]),
    Route("/v1/admin/usage", usage, methods=["GET"]),
]
