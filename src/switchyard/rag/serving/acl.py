"""Collection access control. A collection lists the teams that may ``read`` (search, RAG chat),
``write`` (add and delete documents) and ``admin`` (change its ACL, delete it, erase by subject); admin
implies write implies read, and ``"*"`` stands for every team. The gateway's admin key may administer
and write every collection but reads only where its team is listed: administering a collection is not
a licence to read it."""

from __future__ import annotations

from typing import Literal

from ...errors import PermissionDenied
from ...types import Principal
from ..types import Acl, Collection

Action = Literal["read", "write", "admin"]
_IMPLIED: dict[str, tuple[str, ...]] = {
    "read": ("read", "write", "admin"),
    "write": ("write", "admin"),
    "admin": ("admin",),
}


def allows(acl: Acl, team: str, action: Action) -> bool:
    for level in _IMPLIED[action]:
        teams = getattr(acl, level)
        if team in teams or "*" in teams:
            return True
    return False


def may(principal: Principal, collection: Collection, action: Action) -> bool:
    if principal.is_admin and action != "read":
        return True
    return allows(collection.acl, principal.team, action)


def check(principal: Principal, collection: Collection, action: Action) -> None:
    if not may(principal, collection, action):
        raise PermissionDenied(
            f"team {principal.team!r} may not {action} the collection {collection.name!r}",
            code="collection_forbidden",
        )


def default_acl(principal: Principal, given: Acl | None) -> Acl:
    """The creator's team administers what it creates unless the creator is the gateway admin."""
    acl = given or Acl(read=[principal.team], write=[principal.team], admin=[principal.team])
    if not principal.is_admin and principal.team not in acl.admin:
        acl.admin = [*acl.admin, principal.team]
    return acl
