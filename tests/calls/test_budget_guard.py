"""BudgetGuard with shared counters: an admission that waits on the store counts its tries as pending,
so a concurrent admission (an agreement cascade's branches) extends the reservation for itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from switchyard.budgets import Budgets, Charge, Estimate, MemoryCounters
from switchyard.calls.budget_guard import BudgetGuard
from switchyard.config import BudgetConfig, Price, RoutePolicy
from switchyard.dispatch import Attempt, DispatchTrace
from switchyard.errors import RateLimited
from switchyard.pricing import resolve_price
from switchyard.resolve import Resolution
from switchyard.types import Principal
from tests.server.configs import openai_model


class GatedCounters:
    """In-memory counters behind an await that lasts until ``gate`` opens (a slow Redis)."""

    def __init__(self) -> None:
        self.memory = MemoryCounters()
        self.gate = asyncio.Event()

    async def get_many(self, keys: Sequence[str]) -> list[float]:
        return self.memory.get_many(keys)

    async def charge(self, charges: Sequence[Charge]) -> int | None:
        await self.gate.wait()
        return self.memory.charge(charges)

    async def add_many(self, amounts: Sequence[tuple[str, float, float]]) -> None:
        for key, amount, expires_at in amounts:
            self.memory.add(key, amount, expires_at)

    async def seed(self, key: str, amount: float, expires_at: float) -> None:
        self.memory.seed(key, amount, expires_at)


async def _tokens(budgets: Budgets) -> float:
    (use,) = await budgets.acurrent_use()
    return use.used


async def test_a_concurrent_admission_counts_the_waiting_ones_tries() -> None:
    shared = GatedCounters()
    budgets = Budgets([BudgetConfig(team="t", tokens_per_minute=100)], shared=shared)
    shared.gate.set()
    reservation = await budgets.areserve(Principal(key_id="k", team="t"), Estimate(0.0, 10))
    shared.gate.clear()
    a, b, x = (openai_model(n, "http://127.0.0.1:9") for n in ("a", "b", "x"))
    estimates = {"a": Estimate(0.0, 4), "b": Estimate(0.0, 1), "x": Estimate(0.0, 8)}
    res = Resolution("r", "r", [x, a, b], RoutePolicy(), x, reservation=reservation, estimates=estimates)
    res.reserved = Estimate(0.0, 10)
    prices = {m.name: resolve_price(m.model_copy(update={"price": Price(input=0, output=0)})) for m in (a, b, x)}
    guard = BudgetGuard(budgets, prices, res)
    trace = DispatchTrace([Attempt("x", "p", "us", time.monotonic())])  # in flight: 8 at most
    waiting_a = guard.admit(a, trace)  # 8 + 4 > 10: waits on the store to extend by 2
    assert waiting_a is not None
    task_a = asyncio.ensure_future(waiting_a)
    await asyncio.sleep(0)
    # Meanwhile b: 8 + a's pending 4 + 1 > 12 (what a's extension will make it): b extends for itself.
    # (Without counting a's try, 8 + 1 <= 10 would have let b start uncovered: 13 tries on 12 reserved.)
    waiting_b = guard.admit(b, trace)
    assert waiting_b is not None
    shared.gate.set()
    await task_a
    trace.attempts.append(Attempt("a", "p", "us", time.monotonic()))  # the dispatcher's next step
    await waiting_b
    trace.attempts.append(Attempt("b", "p", "us", time.monotonic()))
    assert guard.reserved.tokens == 13 == await _tokens(budgets)  # 8 + 4 + 1: every try in flight is covered
    # A refused extension takes nothing and leaves the guard's count as it was.
    waiting = guard.admit_all([openai_model("x", "http://127.0.0.1:9")] * 12, trace)
    assert waiting is not None
    with pytest.raises(RateLimited):
        await waiting
    assert guard.reserved.tokens == 13 == await _tokens(budgets) and guard.pending == Estimate(0.0, 0)


def test_in_memory_counters_admit_without_an_await() -> None:
    budgets = Budgets([BudgetConfig(team="t", tokens_per_minute=100)])
    reservation = budgets.reserve(Principal(key_id="k", team="t"), Estimate(0.0, 10))
    x = openai_model("x", "http://127.0.0.1:9")
    res = Resolution("r", "r", [x], RoutePolicy(), x, reservation=reservation, estimates={"x": Estimate(0.0, 8)})
    res.reserved = Estimate(0.0, 10)
    guard = BudgetGuard(budgets, {"x": resolve_price(x)}, res)
    trace = DispatchTrace()
    assert guard.admit(x, trace) is None  # covered
    trace.attempts.append(Attempt("x", "p", "us", time.monotonic(), abandoned=True))
    assert guard.admit(x, trace) is None  # extended in memory, at once
    assert guard.reserved.tokens == 16 == budgets.current_use()[0].used
