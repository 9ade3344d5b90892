"""The Policy seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..budgets import Reservation
from ..config import ModelConfig, RoutePolicy
from ..types import ChatRequest, Principal


@dataclass
class RoutingContext:
    """What the policies see of one request, and the trail they leave."""

    principal: Principal
    requested: str
    route: str | None
    policy: RoutePolicy
    request: ChatRequest | None = None  # None for embeddings
    inputs: list[str] = field(default_factory=list)  # embedding inputs (chat requests carry messages)
    classes: set[str] = field(default_factory=set)  # sensitivity classes found in the request
    reasons: list[str] = field(default_factory=list)
    pseudonymize_for: set[str] = field(default_factory=set)  # models that may only get a masked copy
    reservation: Reservation = field(default_factory=lambda: Reservation(settled=True))

    def prompt_text(self) -> str:
        """What the request sends, as text, for estimates (never logged or stored)."""
        return "\n".join(self.inputs) if self.request is None else self.request.prompt_text()

    def note(self, reason: str) -> None:
        self.reasons.append(reason)


class Policy(Protocol):
    """Narrow or reorder ``candidates``; raise a SwitchyardError (403, 429) to refuse the request.
    Every policy appends a short reason to the context."""

    name: str

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]: ...
