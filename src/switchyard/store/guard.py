"""What the output guard did, read back from the ledger (issue 13): per route and model the verdicts on
each attempt (raw failures) and what they cost, per route what the clients were delivered. Behind the
same seam as the ledger; the SQLite store implements it from ``attempts.check_result`` and
``requests.guard`` (migration 0012)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .base import RollupFilter


@dataclass(slots=True)
class GuardChecks:
    """One route and model: answers checked, found invalid, and what the refused ones cost."""

    route: str  # "" for requests that named a model
    model: str
    checked: int
    invalid: int
    refused_cost: float

    @property
    def raw_failure_rate(self) -> float | None:
        return self.invalid / self.checked if self.checked else None


@dataclass(slots=True)
class GuardDelivered:
    """One route: what the clients received, by the guard's outcome."""

    route: str
    outcomes: dict[str, int] = field(default_factory=dict)  # valid, repaired, escalated, failed

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def delivered_failure_rate(self) -> float | None:
        """Requests answered with a clear error because no valid answer was found."""
        return self.outcomes.get("failed", 0) / self.requests if self.requests else None


@dataclass(slots=True)
class GuardStats:
    checks: list[GuardChecks]
    delivered: list[GuardDelivered]

    def as_dict(self) -> dict[str, object]:
        return {
            "checks": [
                {
                    "route": c.route or None, "model": c.model, "checked": c.checked, "invalid": c.invalid,
                    "raw_failure_rate": c.raw_failure_rate, "refused_cost": c.refused_cost,
                }
                for c in self.checks
            ],
            "delivered": [
                {
                    "route": d.route or None, "requests": d.requests, **d.outcomes,
                    "delivered_failure_rate": d.delivered_failure_rate,
                }
                for d in self.delivered
            ],
        }  # fmt: skip


class GuardStatsReader(Protocol):
    def guard_stats(self, f: RollupFilter) -> GuardStats: ...
