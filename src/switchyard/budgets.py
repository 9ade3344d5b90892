"""Budgets and rate limits per team and per key: requests and tokens per minute, spend per day and
month (UTC windows).

Enforcement is reserve-then-settle: before a call, the worst-case estimate (prompt tokens counted, the
output limit, the priciest remaining candidate) is reserved against every limit that applies, atomically
(check and reserve happen without an await, so concurrent requests on the event loop cannot both take
the last of a budget); after the call the reservation is replaced by the actual usage. Admitted requests
therefore never spend more than the limit, streams included. Counters live in a ``Counters`` store:
in memory for one process (spend windows are seeded from the ledger at start-up); a shared store
(Redis) takes its place for replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from .config import BudgetConfig
from .errors import RateLimited
from .types import Principal

METRICS = {
    # metric -> (config field, window)
    "requests": ("requests_per_minute", "minute"),
    "tokens": ("tokens_per_minute", "minute"),
    "usd_day": ("usd_per_day", "day"),
    "usd_month": ("usd_per_month", "month"),
}


def window_bounds(window: str, ts: float) -> tuple[str, float]:
    """The window's key and the time it resets."""
    t = datetime.fromtimestamp(ts, UTC)
    if window == "minute":
        start = t.replace(second=0, microsecond=0)
        return start.strftime("%Y-%m-%dT%H:%M"), start.timestamp() + 60
    if window == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start.timestamp() + 86400
    start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start.strftime("%Y-%m"), nxt.timestamp()


def month_start(ts: float) -> float:
    t = datetime.fromtimestamp(ts, UTC)
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class Counters(Protocol):
    def get(self, key: str) -> float: ...

    def add(self, key: str, amount: float) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._values: dict[str, float] = {}

    def get(self, key: str) -> float:
        return self._values.get(key, 0.0)

    def add(self, key: str, amount: float) -> None:
        self._values[key] = self._values.get(key, 0.0) + amount


@dataclass(frozen=True)
class BudgetUse:
    """One limit of one budget and what its current window holds (settled use plus reservations)."""

    scope: str  # team:x or key:id
    limit_name: str  # the config field, e.g. usd_per_day
    limit: float
    used: float
    resets_at: float


@dataclass
class Reservation:
    entries: list[tuple[str, str, float]] = field(default_factory=list)  # (counter key, metric, amount)
    settled: bool = False


@dataclass(frozen=True)
class Estimate:
    cost: float
    tokens: int


class Budgets:
    def __init__(
        self, budgets: list[BudgetConfig], counters: Counters | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.budgets = budgets
        self.counters = counters or MemoryCounters()
        self.clock = clock

    def applicable(self, principal: Principal) -> list[BudgetConfig]:
        if principal.is_admin:
            return []
        return [b for b in self.budgets if b.team == principal.team or b.key == principal.key_id]

    def _plan(self, budgets: list[BudgetConfig], est: Estimate) -> tuple[list[tuple[str, str, float]], float | None]:
        """The counter increments this request needs, and the reset time of the first limit it breaks."""
        now = self.clock()
        amounts = {"requests": 1.0, "tokens": float(est.tokens), "usd_day": est.cost, "usd_month": est.cost}
        entries: list[tuple[str, str, float]] = []
        for b in budgets:
            for metric, (field_name, window) in METRICS.items():
                limit = getattr(b, field_name)
                if limit is None:
                    continue
                wkey, reset = window_bounds(window, now)
                key = f"{b.scope}|{metric}|{wkey}"
                if self.counters.get(key) + amounts[metric] > limit:
                    return [], reset
                entries.append((key, metric, amounts[metric]))
        return entries, None

    def fits(self, principal: Principal, est: Estimate) -> bool:
        return self._plan(self.applicable(principal), est)[1] is None

    def reserve(self, principal: Principal, est: Estimate) -> Reservation:
        """Check every applicable limit and reserve the estimate against all of them, or raise 429."""
        budgets = self.applicable(principal)
        if not budgets:
            return Reservation(settled=True)
        entries, reset = self._plan(budgets, est)
        if reset is not None:
            wait = max(1, int(reset - self.clock() + 0.999))
            err = RateLimited(
                f"budget or rate limit reached for team {principal.team!r}; it resets in {wait}s",
                code="budget_exceeded",
            )
            err.headers = {"retry-after": str(wait), "x-ratelimit-reset": str(int(reset))}
            raise err
        for key, _, amount in entries:
            self.counters.add(key, amount)
        return Reservation(entries)

    def settle(self, reservation: Reservation, *, cost: float, tokens: int) -> None:
        """Replace the reservation with what the call really used (requests stay counted)."""
        if reservation.settled:
            return
        reservation.settled = True
        actual = {"tokens": float(tokens), "usd_day": cost, "usd_month": cost}
        for key, metric, amount in reservation.entries:
            if metric in actual:
                self.counters.add(key, actual[metric] - amount)

    def current_use(self) -> list[BudgetUse]:
        """Every configured limit with its current window's use, in config order (metrics, dashboard)."""
        now = self.clock()
        out = []
        for b in self.budgets:
            for metric, (field_name, window) in METRICS.items():
                limit = getattr(b, field_name)
                if limit is None:
                    continue
                wkey, reset = window_bounds(window, now)
                used = self.counters.get(f"{b.scope}|{metric}|{wkey}")
                out.append(BudgetUse(b.scope, field_name, float(limit), used, reset))
        return out

    def seed_spend(self, spend: dict[str, float], window: str) -> None:
        """Start-up: spend already in the ledger for the current day or month, by scope (``team:x``)."""
        wkey, _ = window_bounds(window, self.clock())
        metric = "usd_day" if window == "day" else "usd_month"
        for scope, amount in spend.items():
            self.counters.add(f"{scope}|{metric}|{wkey}", amount)
