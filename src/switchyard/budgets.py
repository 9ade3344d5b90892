"""Budgets and rate limits per team and per key: requests and tokens per minute, spend per day and
month (UTC windows).

Enforcement is reserve-then-settle: before a call, the worst-case estimate (prompt tokens counted, the
output limit, the priciest remaining candidate) is reserved against every limit that applies, atomically;
after the call the reservation is replaced by the actual usage. Admitted requests therefore never spend
more than the limit, streams included. Counters live in one of two stores:

- ``Counters``, in memory for one process (spend windows are seeded from the ledger at start-up): plain
  method calls, no await, so check and reserve happen without an await and concurrent requests on the
  event loop cannot both take the last of a budget; ``reserve``, ``extend``, ``settle``.
- ``SharedCounters`` (Redis) for replicas: the same operations, awaited (``areserve``, ``aextend``), each
  one atomic in the store. A settlement is a task of its own (``settle`` returns at once; ``drain``
  awaits the tasks at shutdown), and the gauges read the last values seen (``current_use``) rather than
  wait on the store at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from .config import BudgetConfig
from .errors import CountersUnavailable, RateLimited
from .types import Principal

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Charge:
    """An amount to add to one window's counter, if the counter stays within ``limit``."""

    key: str
    amount: float
    limit: float
    expires_at: float  # when the window ends: the counter may be dropped after it


class Counters(Protocol):
    """Where the counters live. Every method is atomic with respect to other callers (replicas too)."""

    def get_many(self, keys: Sequence[str]) -> list[float]: ...

    def charge(self, charges: Sequence[Charge]) -> int | None:
        """When every counter stays within its limit, add every amount and return None; otherwise add
        nothing and return the index of the first charge over its limit."""
        ...

    def add(self, key: str, amount: float, expires_at: float) -> None: ...

    def seed(self, key: str, amount: float, expires_at: float) -> None:
        """Start-up: set a counter the store does not hold yet (a shared store may already hold it)."""
        ...


class SharedCounters(Protocol):
    """Counters shared by replicas behind a network round trip (Redis): the operations of ``Counters``,
    awaited, each atomic in the store; each fails with ``CountersUnavailable`` within its timeout."""

    async def get_many(self, keys: Sequence[str]) -> list[float]: ...

    async def charge(self, charges: Sequence[Charge]) -> int | None: ...

    async def add_many(self, amounts: Sequence[tuple[str, float, float]]) -> None:
        """Add each (key, amount, expires_at)."""
        ...

    async def seed(self, key: str, amount: float, expires_at: float) -> None: ...


class MemoryCounters:
    """Counters of one process. Windows that ended are dropped as new ones start."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._values: dict[str, float] = {}
        self._expiry: dict[str, float] = {}
        self._clock = clock
        self._next_prune = 0.0

    def get(self, key: str) -> float:
        return self._values.get(key, 0.0)

    def get_many(self, keys: Sequence[str]) -> list[float]:
        return [self._values.get(k, 0.0) for k in keys]

    def charge(self, charges: Sequence[Charge]) -> int | None:
        for i, c in enumerate(charges):
            if self._values.get(c.key, 0.0) + c.amount > c.limit:
                return i
        for c in charges:
            self.add(c.key, c.amount, c.expires_at)
        return None

    def add(self, key: str, amount: float, expires_at: float) -> None:
        if key not in self._values:
            self._expiry[key] = expires_at
            self._prune()
        self._values[key] = self._values.get(key, 0.0) + amount

    def seed(self, key: str, amount: float, expires_at: float) -> None:
        self.add(key, amount, expires_at)

    def __len__(self) -> int:
        return len(self._values)

    def _prune(self) -> None:
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + 60
        for key in [k for k, exp in self._expiry.items() if exp <= now]:
            del self._values[key], self._expiry[key]


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
    entries: list[tuple[Charge, str]] = field(default_factory=list)  # (what was charged, metric)
    settled: bool = False
    team: str = ""  # whose limits, for messages


@dataclass(frozen=True)
class Estimate:
    cost: float
    tokens: int


class Budgets:
    """``counters`` (in memory by default) or, when given, ``shared``: see the module docstring. With shared
    counters the synchronous ``reserve``, ``extend``, ``fitting`` and ``seed_spend`` are not available (they
    would block the event loop): the ``a``-prefixed ones are, and they work with either store."""

    def __init__(
        self,
        budgets: list[BudgetConfig],
        counters: Counters | None = None,
        clock: Callable[[], float] = time.time,
        *,
        shared: SharedCounters | None = None,
    ) -> None:
        self.budgets = budgets
        self.counters = counters or MemoryCounters(clock)
        self.shared = shared
        self.clock = clock
        self._known: dict[str, float] = {}  # shared counters: the last values read, for the gauges
        self._tasks: set[asyncio.Task[None]] = set()  # settlements and gauge refreshes in flight
        self._refreshing: asyncio.Task[None] | None = None

    def _local(self) -> Counters:
        if self.shared is not None:
            raise TypeError("the budget counters are shared (Redis): use the awaited method")
        return self.counters

    def applicable(self, principal: Principal) -> list[BudgetConfig]:
        if principal.is_admin:
            return []
        return [b for b in self.budgets if b.team == principal.team or b.key == principal.key_id]

    def _plan(self, budgets: list[BudgetConfig], est: Estimate) -> list[tuple[Charge, str, float]]:
        """The charges this request needs, with their metric and the time their window resets."""
        now = self.clock()
        amounts = {"requests": 1.0, "tokens": float(est.tokens), "usd_day": est.cost, "usd_month": est.cost}
        plan: list[tuple[Charge, str, float]] = []
        for b in budgets:
            for metric, (field_name, window) in METRICS.items():
                limit = getattr(b, field_name)
                if limit is None:
                    continue
                wkey, reset = window_bounds(window, now)
                plan.append((Charge(f"{b.scope}|{metric}|{wkey}", amounts[metric], float(limit), reset), metric, reset))
        return plan

    # --- whether estimates fit (a hint for downgrading: ``reserve`` decides)
    def _fitting_plans(self, principal: Principal, ests: Sequence[Estimate]) -> list[list[Charge]]:
        budgets = self.applicable(principal)
        return [[c for c, _, _ in self._plan(budgets, est)] for est in ests]

    @staticmethod
    def _fit(plans: list[list[Charge]], current: list[float]) -> list[bool]:
        now = dict(zip([c.key for c in plans[0]], current, strict=True)) if plans else {}
        return [all(now[c.key] + c.amount <= c.limit for c in plan) for plan in plans]

    def fits(self, principal: Principal, est: Estimate) -> bool:
        """Whether the estimate fits every applicable limit now."""
        return self.fitting(principal, [est])[0]

    def fitting(self, principal: Principal, ests: Sequence[Estimate]) -> list[bool]:
        """Whether each estimate fits every applicable limit now (one read of the counters)."""
        plans = self._fitting_plans(principal, ests)
        return self._fit(plans, self._local().get_many([c.key for c in plans[0]]) if plans else [])

    async def afitting(self, principal: Principal, ests: Sequence[Estimate]) -> list[bool]:
        plans = self._fitting_plans(principal, ests)
        keys = [c.key for c in plans[0]] if plans else []
        return self._fit(plans, await self._read(keys))

    # --- reserving
    def reserve(self, principal: Principal, est: Estimate) -> Reservation:
        """Check every applicable limit and reserve the estimate against all of them, or raise 429."""
        budgets = self.applicable(principal)
        if not budgets:
            return Reservation(settled=True)
        plan = self._plan(budgets, est)
        return self._reserved(principal, plan, self._local().charge([c for c, _, _ in plan]))

    async def areserve(self, principal: Principal, est: Estimate) -> Reservation:
        """``reserve``, with the check-and-reserve awaited in the shared store (atomic there)."""
        if self.shared is None:
            return self.reserve(principal, est)
        budgets = self.applicable(principal)
        if not budgets:
            return Reservation(settled=True)
        plan = self._plan(budgets, est)
        return self._reserved(principal, plan, await self.shared.charge([c for c, _, _ in plan]))

    def _reserved(self, principal: Principal, plan: list[tuple[Charge, str, float]], broken: int | None) -> Reservation:
        if broken is not None:
            raise self._refusal(principal.team, plan[broken][2])
        return Reservation([(c, metric) for c, metric, _ in plan], team=principal.team)

    def _refusal(self, team: str, reset: float) -> RateLimited:
        wait = max(1, int(reset - self.clock() + 0.999))
        err = RateLimited(
            f"budget or rate limit reached for team {team!r}; it resets in {wait}s", code="budget_exceeded"
        )
        err.headers = {"retry-after": str(wait), "x-ratelimit-reset": str(int(reset))}
        return err

    @staticmethod
    def _extension(reservation: Reservation, more: Estimate) -> list[tuple[Charge, str]]:
        if reservation.settled or (more.cost <= 0 and more.tokens <= 0):
            return []
        amounts = {"tokens": float(more.tokens), "usd_day": more.cost, "usd_month": more.cost}
        seen: set[str] = set()
        charges: list[tuple[Charge, str]] = []
        for charge, metric in reservation.entries:
            if metric in amounts and charge.key not in seen:
                seen.add(charge.key)
                charges.append((Charge(charge.key, amounts[metric], charge.limit, charge.expires_at), metric))
        return charges

    def _extended(self, reservation: Reservation, charges: list[tuple[Charge, str]], broken: int | None) -> None:
        if broken is not None:
            raise self._refusal(reservation.team, charges[broken][0].expires_at)
        reservation.entries += charges

    def extend(self, reservation: Reservation, more: Estimate) -> None:
        """Reserve ``more`` on the same counters (another try of a call: a retry, a fallback, a cascade's
        next model), all or nothing, or raise 429: what a call may spend never passes what it reserved."""
        charges = self._extension(reservation, more)
        if charges:
            self._extended(reservation, charges, self._local().charge([c for c, _ in charges]))

    async def aextend(self, reservation: Reservation, more: Estimate) -> None:
        """``extend``, awaited in the shared store."""
        charges = self._extension(reservation, more)
        if not charges:
            return
        counted = [c for c, _ in charges]
        broken = self.counters.charge(counted) if self.shared is None else await self.shared.charge(counted)
        self._extended(reservation, charges, broken)

    # --- settling
    def settle(self, reservation: Reservation, *, cost: float, tokens: int) -> None:
        """Replace the reservation with what the call really used (requests stay counted). Never waits:
        with shared counters the correction is a task of its own (``drain`` awaits them), and until it
        lands the reservation (a worst case) stays counted, so budgets err on the safe side."""
        if reservation.settled:
            return
        reservation.settled = True
        actual = {"tokens": float(tokens), "usd_day": cost, "usd_month": cost}
        held: dict[str, tuple[Charge, str, float]] = {}
        for charge, metric in reservation.entries:
            _, _, total = held.get(charge.key, (charge, metric, 0.0))
            held[charge.key] = (charge, metric, total + charge.amount)
        amounts = [
            (charge.key, actual[metric] - total, charge.expires_at)
            for charge, metric, total in held.values()
            if metric in actual and actual[metric] != total
        ]
        if not amounts:
            return
        if self.shared is None:
            for key, amount, expires_at in amounts:
                self.counters.add(key, amount, expires_at)
            return
        self._track(asyncio.get_running_loop().create_task(self._asettle(self.shared, amounts)))

    @staticmethod
    async def _asettle(shared: SharedCounters, amounts: list[tuple[str, float, float]]) -> None:
        try:
            await shared.add_many(amounts)
        except CountersUnavailable:
            # The reservation (a worst case) stays counted: budgets err on the safe side, and the request
            # itself is already answered and recorded.
            log.warning("could not settle a budget reservation: the counters did not answer")

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the settlements (and gauge refreshes) in flight: shutdown calls it before closing the
        shared counters. Each is bounded by the counters' timeout."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # --- reading (metrics, dashboard)
    async def _read(self, keys: list[str]) -> list[float]:
        if self.shared is None:
            return self.counters.get_many(keys)
        values = await self.shared.get_many(keys) if keys else []
        self._known.update(zip(keys, values, strict=True))
        return values

    def _rows(self, scopes: Container[str] | None) -> list[tuple[str, str, float, str, float]]:
        now = self.clock()
        rows: list[tuple[str, str, float, str, float]] = []
        for b in self.budgets:
            if scopes is not None and b.scope not in scopes:
                continue
            for metric, (field_name, window) in METRICS.items():
                limit = getattr(b, field_name)
                if limit is None:
                    continue
                wkey, reset = window_bounds(window, now)
                rows.append((b.scope, field_name, float(limit), f"{b.scope}|{metric}|{wkey}", reset))
        return rows

    @staticmethod
    def _uses(rows: list[tuple[str, str, float, str, float]], used: list[float]) -> list[BudgetUse]:
        return [
            BudgetUse(scope, name, limit, value, reset)
            for (scope, name, limit, _, reset), value in zip(rows, used, strict=True)
        ]

    def current_use(self, scopes: Container[str] | None = None) -> list[BudgetUse]:
        """Every configured limit with its current window's use, in config order (metrics, dashboard); of
        the budgets whose scope (``team:x``, ``key:id``) is in ``scopes`` only, when given. Never waits: with
        shared counters, the values last read (0 for a window not read yet), and a refresh is started for
        the next call (so a scrape shows what the previous one asked for)."""
        rows = self._rows(scopes)
        if self.shared is None:
            return self._uses(rows, self.counters.get_many([key for _, _, _, key, _ in rows]) if rows else [])
        if rows and self._refreshing is None:
            with suppress(RuntimeError):  # no running loop (a script): nothing to refresh with
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
                self._track(self._refreshing)
        return self._uses(rows, [self._known.get(key, 0.0) for _, _, _, key, _ in rows])

    async def acurrent_use(self, scopes: Container[str] | None = None) -> list[BudgetUse]:
        """``current_use`` read now (within the shared counters' timeout; the last values seen if they do
        not answer)."""
        rows = self._rows(scopes)
        keys = [key for _, _, _, key, _ in rows]
        try:
            return self._uses(rows, await self._read(keys))
        except CountersUnavailable as exc:
            log.warning("budget use not read: %s", exc.message)
            return self._uses(rows, [self._known.get(key, 0.0) for key in keys])

    async def refresh(self) -> None:
        """Read every limit's current window from the shared counters (the gauges' values); windows that
        ended are forgotten. Raises ``CountersUnavailable``."""
        keys = [key for _, _, _, key, _ in self._rows(None)]
        values = await self._read(keys)
        self._known = dict(zip(keys, values, strict=True))

    async def _refresh(self) -> None:
        try:
            await self.refresh()
        except CountersUnavailable as exc:
            log.warning("budget gauges not refreshed: %s", exc.message)
        finally:
            self._refreshing = None

    # --- start-up
    def _seeds(self, spend: dict[str, float], window: str) -> list[tuple[str, float, float]]:
        wkey, reset = window_bounds(window, self.clock())
        metric = "usd_day" if window == "day" else "usd_month"
        return [(f"{scope}|{metric}|{wkey}", amount, reset) for scope, amount in spend.items()]

    def seed_spend(self, spend: dict[str, float], window: str) -> None:
        """Start-up: spend already in the ledger for the current day or month, by scope (``team:x``)."""
        counters = self._local()
        for key, amount, reset in self._seeds(spend, window):
            counters.seed(key, amount, reset)

    async def aseed_spend(self, spend: dict[str, float], window: str) -> None:
        """``seed_spend``, awaited in the shared store (which keeps counters it already holds)."""
        for key, amount, reset in self._seeds(spend, window):
            if self.shared is None:
                self.counters.seed(key, amount, reset)
            else:
                await self.shared.seed(key, amount, reset)
