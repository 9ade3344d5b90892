"""The deployments of one model, and how a request picks among them (round-robin or least-busy),
skipping deployments whose circuit is open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .breaker import CircuitBreaker
from .config import ModelConfig
from .providers.base import Provider


@dataclass
class Member:
    provider: Provider
    breaker: CircuitBreaker
    in_flight: int = 0


class DeploymentPool:
    def __init__(self, model: ModelConfig, providers: list[Provider]) -> None:
        self.model = model
        self.members = [Member(p, CircuitBreaker(model.breaker)) for p in providers]
        self._next = 0

    def candidates(self) -> list[Member]:
        """Members in the order this request should try them; open circuits left out."""
        n = len(self.members)
        if self.model.balance == "least_busy":
            ordered = sorted(self.members, key=lambda m: m.in_flight)
        else:
            start = self._next % n
            self._next += 1
            ordered = self.members[start:] + self.members[:start]
        return [m for m in ordered if m.breaker.available()]

    @contextmanager
    def busy(self, member: Member) -> Iterator[None]:
        member.in_flight += 1
        try:
            yield
        finally:
            member.in_flight -= 1

    async def aclose(self) -> None:
        for m in self.members:
            await m.provider.aclose()
