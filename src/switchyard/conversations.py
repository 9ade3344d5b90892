"""Responses conversations kept by the gateway (``POST /v1/responses``): whether an answer is stored, the
history a ``previous_response_id`` continues, and reading or deleting a stored response, always within the
caller's team.

An answer is stored only when all of these hold: the gateway's response store is on
(``server.responses_store`` / ``SWITCHYARD_RESPONSES_STORE``, off by default), the request did not say
``store: false`` (OpenAI's default is true), and the key's team is not under zero retention
(``access.teams[].retention: zero``). A request asking ``store: true`` where nothing is kept is answered
all the same, with ``"store": false`` in its Response object.

``previous_response_id`` is a 400 naming it when the store is off (the gateway's OpenAPI document then
allows only null there), a 403 naming it when the team is under zero retention (its policy forbids it,
whatever the key asks), and a 404 when the id is unknown, expired or another team's (one answer for all
three, so another team's id is not confirmed). A key continues any response of its own team.

Each stored response holds the whole conversation up to and with its answer (without the request's
``instructions``, which OpenAI does not carry over either): continuing reads one row, and deleting one
response never breaks a continuation of another. The price is storage growing with the square of a
conversation's length, bounded by the expiry (``server.responses_ttl_days``, 30 days by default; expired
responses are deleted as new ones are stored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .config import AccessConfig
from .errors import InvalidRequest, NotFound, PermissionDenied
from .store.responses import ResponseStore, StoredResponse
from .types import JSON, Message, Principal

log = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True)
class Conversations:
    store: ResponseStore
    access: AccessConfig
    enabled: bool
    ttl_seconds: float
    clock: Callable[[], float]

    def _zero_retention(self, principal: Principal) -> bool:
        team = self.access.team(principal.team)
        return team is not None and team.retention == "zero"

    def keeps(self, principal: Principal, requested: bool | None) -> bool:
        """Whether an answer to this caller is stored (``requested`` is the request's ``store``)."""
        return self.enabled and requested is not False and not self._zero_retention(principal)

    async def history(self, principal: Principal, response_id: str) -> list[Message]:
        """The conversation of a stored response of the caller's team, to continue it."""
        param = "previous_response_id"
        if self._zero_retention(principal):
            raise PermissionDenied(
                f"team {principal.team!r} is under zero retention: no response is stored, so none can be "
                "continued; send the whole conversation in input",
                param=param,
                code="zero_retention",
            )
        if not self.enabled:
            raise InvalidRequest(
                "this gateway does not store responses (server.responses_store is off), so none can be "
                "continued; send the whole conversation in input",
                param=param,
                code="response_store_disabled",
            )
        found = await self._find(principal, response_id)
        if found is None:
            raise NotFound(f"no stored response {response_id!r}", param=param, code="response_not_found")
        return [Message.model_validate(m) for m in found.messages]

    async def keep(self, principal: Principal, response_id: str, messages: list[Message], body: JSON) -> bool:
        """Store an answer; False (logged) when the store failed: the answer stands, unstored."""
        now = self.clock()
        stored = StoredResponse(
            id=response_id,
            team=principal.team,
            key_id=principal.key_id,
            created=now,
            expires=now + self.ttl_seconds,
            messages=[m.model_dump(exclude_none=True) for m in messages],
            body=body,
        )
        try:
            await asyncio.to_thread(self.store.put_response, stored)
        except Exception:
            log.exception("storing response %s failed; it is answered unstored", response_id)
            return False
        return True

    async def get(self, principal: Principal, response_id: str) -> JSON:
        """The Response object of a stored response of the caller's team (404 otherwise)."""
        found = await self._find(principal, response_id) if self.enabled else None
        if found is None:
            raise NotFound(f"no stored response {response_id!r}", param="response_id", code="response_not_found")
        return found.body

    async def delete(self, principal: Principal, response_id: str) -> None:
        deleted = self.enabled and await asyncio.to_thread(self.store.delete_response, response_id, principal.team)
        if not deleted:
            raise NotFound(f"no stored response {response_id!r}", param="response_id", code="response_not_found")

    async def _find(self, principal: Principal, response_id: str) -> StoredResponse | None:
        return await asyncio.to_thread(self.store.find_response, response_id, principal.team, self.clock())
