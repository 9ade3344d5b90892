"""RBAC: which models and routes a team may call, which admin actions a role may perform."""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..config import AccessConfig, ModelConfig
from ..errors import PermissionDenied
from ..types import Principal
from .base import RoutingContext


def _allowed(patterns: list[str], name: str) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


class AccessPolicy:
    """With no teams configured, every key may call everything (the embedded default). Once teams are
    listed, a team may call the routes and models its entry allows; a route's candidates are further
    limited to the models the team may use, so a team allowed ``auto`` cannot reach a premium model
    behind it that it may not call directly."""

    name = "access"

    def __init__(self, access: AccessConfig) -> None:
        self.access = access

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        p = ctx.principal
        if p.is_admin or not self.access.teams:
            return candidates
        team = self.access.team(p.team)
        if team is None:
            if self.access.unknown_teams == "allow":
                return candidates
            raise PermissionDenied(f"team {p.team!r} may not call {ctx.requested!r}", param="model")
        if ctx.route is not None and not _allowed(team.routes, ctx.route):
            raise PermissionDenied(f"team {p.team!r} may not call the route {ctx.route!r}", param="model")
        kept = [m for m in candidates if _allowed(team.models, m.name)]
        if not kept:
            what = f"any model of the route {ctx.route!r}" if ctx.route else f"the model {ctx.requested!r}"
            raise PermissionDenied(f"team {p.team!r} may not call {what}", param="model")
        if len(kept) < len(candidates):
            dropped = [m.name for m in candidates if m not in kept]
            ctx.note(f"access: {p.team} may not use {','.join(dropped)}")
        return kept


def may_call(access: AccessConfig, principal: Principal, name: str, *, route: bool) -> bool:
    """Whether the principal's team may call the model or route ``name`` (what ``/v1/models`` lists)."""
    if principal.is_admin or not access.teams:
        return True
    team = access.team(principal.team)
    if team is None:
        return access.unknown_teams == "allow"
    return _allowed(team.routes if route else team.models, name)


def held_actions(access: AccessConfig, principal: Principal) -> list[str]:
    """The action patterns a stored key holds: those of its roles and its team's roles, as the config's
    ``access.roles`` defines them (a role's name grants nothing by itself)."""
    team = access.team(principal.team)
    roles = set(principal.roles) | set(team.roles if team else ())
    return [pattern for role in sorted(roles) for pattern in access.roles.get(role, [])]


def may(access: AccessConfig, principal: Principal, action: str) -> bool:
    """Whether ``principal`` may perform an admin ``action`` (e.g. ``keys:create``, ``usage:read``)."""
    return principal.is_admin or _allowed(held_actions(access, principal), action)


def usage_team(principal: Principal) -> str | None:
    """Whose usage ``principal`` may read, once ``may(..., "usage:read")`` allows it: its own team's;
    every team's (None) for the configured admin key only. The rule keys are managed by
    (``server/admin_routes.py``): a stored key reaches its own team, whatever its roles are called."""
    return None if principal.is_admin else principal.team


def may_grant(access: AccessConfig, principal: Principal, role: str) -> bool:
    """Whether ``principal`` may give a new key ``role``: only if it holds every action the role allows
    (a pattern is held when one of the principal's own patterns matches it, so ``keys:*`` covers
    ``keys:create`` but not ``*``)."""
    if principal.is_admin:
        return True
    held = held_actions(access, principal)
    return all(_allowed(held, pattern) for pattern in access.roles.get(role, []))
