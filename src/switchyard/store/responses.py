"""Stored Responses (``POST /v1/responses`` with the response store on): per response, the conversation a
continuation (``previous_response_id``) sends the model, and the Response object as answered (for
``GET /v1/responses/{id}``). Behind the same seam as the ledger: the SQLite store implements it.

Unlike the ledger this holds content, so it is kept only where the config allows (``server.responses_store``,
never for a team under zero retention: ``switchyard.conversations`` decides), and only until ``expires``.
Every read and delete names the team, in the query itself: one team never reaches another's responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True)
class StoredResponse:
    id: str  # resp_...
    team: str
    key_id: str  # the key that created it (its team owns it)
    created: float
    expires: float
    messages: list[dict[str, Any]]  # the conversation up to and with this answer, as internal chat messages
    body: dict[str, Any]  # the Response object


class ResponseStore(Protocol):
    def put_response(self, response: StoredResponse) -> None:
        """Keep ``response``; responses whose expiry has passed by its creation are deleted on the way."""

    def find_response(self, response_id: str, team: str, now: float) -> StoredResponse | None:
        """The team's response unless it has expired by ``now``; None for an unknown id or another team's."""

    def delete_response(self, response_id: str, team: str) -> bool:
        """Delete the team's response; False when the team has no response of that id."""
