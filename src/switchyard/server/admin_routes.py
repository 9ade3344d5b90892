"""Admin endpoints, each gated by an action the caller's roles must allow (``access.roles``):
``keys:create``, ``keys:read``, ``keys:revoke``, ``usage:read``. The admin key may do everything.

Keys are managed within a team: a stored key creates, lists and revokes keys of its own team only, and
may grant a new key only roles whose every action it holds itself (so ``keys:create`` cannot mint a key
stronger than its creator). Usage is read within a team the same way: a stored key sees its own team's
rows only (``policies.access.usage_team``). Only the configured admin key acts across teams."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import AccessConfig
from ..errors import InvalidRequest, NotFound, PermissionDenied
from ..keys import create_key
from ..policies.access import may_grant, usage_team
from ..store.base import KeyRecord
from ..types import JSON, Principal
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


MAX_USAGE_DAYS = 3660  # ten years of days: any more is not a window the ledger holds


def _check_grant(access: AccessConfig, creator: Principal, team: str, roles: list[str]) -> None:
    unknown = [r for r in roles if r not in access.roles]
    if unknown:
        known = ", ".join(sorted(access.roles)) or "none"
        raise InvalidRequest(f"unknown role {unknown[0]!r}: access.roles defines {known}", param="roles")
    if creator.is_admin:
        return
    if team != creator.team:
        raise PermissionDenied(
            f"a key of team {creator.team!r} may not create keys for team {team!r}", code="forbidden_team"
        )
    for role in roles:
        if not may_grant(access, creator, role):
            raise PermissionDenied(
                f"the key may not grant the role {role!r}: it does not hold every action the role allows",
                code="forbidden_grant",
            )


def _visible(principal: Principal, key: KeyRecord) -> bool:
    return principal.is_admin or key.team == principal.team


async def create(request: Request) -> Response:
    creator = require(request, "keys:create")
    gw = gateway(request)
    body = await read_json(request, gw.max_body_bytes)
    team = body.get("team") if isinstance(body, dict) else None
    if not isinstance(team, str) or not team:
        raise InvalidRequest("'team' is required: the team the key bills to", param="team")
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRequest("'roles' must be a list of role names", param="roles")
    _check_grant(gw.config.access, creator, team, roles)
    record, secret = await asyncio.to_thread(
        create_key, gw.store, team, name=str(body.get("name", "")), roles=tuple(roles)
    )
    # The only time the secret is ever shown.
    return JSONBody({**_key_json(record), "secret": secret}, status_code=201)


async def list_keys(request: Request) -> Response:
    reader = require(request, "keys:read")
    keys = await asyncio.to_thread(gateway(request).store.list_keys)
    return JSONBody({"data": [_key_json(k) for k in keys if _visible(reader, k)]})


async def revoke(request: Request) -> Response:
    revoker = require(request, "keys:revoke")
    gw = gateway(request)
    key_id = request.path_params["key_id"]
    keys = await asyncio.to_thread(gw.store.list_keys)
    target = next((k for k in keys if k.id == key_id and not k.revoked), None)
    if target is None or not _visible(revoker, target):  # another team's key is not named to the caller
        raise NotFound(f"no active key {key_id!r}", param="key_id", code="key_not_found")
    if not await asyncio.to_thread(gw.store.revoke_key, key_id):
        raise NotFound(f"no active key {key_id!r}", param="key_id", code="key_not_found")
    gw.auth.forget()
    return JSONBody({"id": key_id, "revoked": True})


async def usage(request: Request) -> Response:
    reader = require(request, "usage:read")
    days = request.query_params.get("days", "30")
    if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= MAX_USAGE_DAYS:
        raise InvalidRequest(f"'days' must be a whole number from 1 to {MAX_USAGE_DAYS}", param="days")
    since = time.time() - int(days) * 86400
    rows = await asyncio.to_thread(gateway(request).store.usage, since, team=usage_team(reader))
    return JSONBody({"data": [{k: getattr(r, k) for k in r.__slots__} for r in rows]})  # type: ignore[attr-defined]


routes = [
    Route("/v1/admin/keys", create, methods=["POST"]),
    Route("/v1/admin/keys", list_keys, methods=["GET"]),
    Route("/v1/admin/keys/{key_id}", revoke, methods=["DELETE"]),
    Route("/v1/admin/usage", usage, methods=["GET"]),
]
