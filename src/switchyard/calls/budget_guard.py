"""A call's budget across its tries: before each try the reservation must cover what earlier tries will
be billed (cascade answers refused, tries given up while the upstream had the request) plus this try's
worst case; if it does not, it is extended, or the call stops with 429. So what a call is charged never
passes what it reserved, retries, fallbacks and cascades included. Also sends the output cap the budget
assumed to upstreams when the request set none."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence

from ..budgets import Budgets, Estimate
from ..config import ModelConfig
from ..dispatch import DispatchTrace, Rewrite
from ..pricing import ModelPrice
from ..resolve import Resolution
from ..types import ChatRequest


class BudgetGuard:
    """``admit`` and ``admit_all`` return None when the reservation already covers the tries or was
    extended in memory (no await), an awaitable when the extension waits on the shared counters (Redis).
    While one waits, the tries it admits count as pending: a concurrent admission (an agreement cascade's
    branches) counts them as in flight, as if they had started, so it extends the reservation for itself
    rather than rely on what the waiting one is adding."""

    def __init__(self, budgets: Budgets, prices: Mapping[str, ModelPrice], res: Resolution) -> None:
        self.budgets = budgets
        self.prices = prices
        self.res = res
        self.reserved = res.reserved or Estimate(0.0, 0)
        self.pending = Estimate(0.0, 0)  # worst cases of tries admitted, their extension still awaited

    @classmethod
    def for_resolution(cls, budgets: Budgets, prices: Mapping[str, ModelPrice], res: Resolution) -> BudgetGuard | None:
        if res.reservation.settled or not res.estimates:
            return None
        return cls(budgets, prices, res)

    def _billed(self, trace: DispatchTrace) -> Estimate:
        """What the tries so far may be billed, at most (pending ones included)."""
        cost, tokens = self.pending.cost, self.pending.tokens
        for a in trace.attempts:
            if a.usage is not None:  # an answer paid for (a cascade's refusal, an agreement's answer)
                cost += self.prices[a.model].cost(a.usage)
                tokens += a.usage.total_tokens
            elif a.abandoned or a.error is None:
                # Given up while the upstream had the request, or still running (concurrent tries of an
                # agreement cascade): bounded by that try's own worst case.
                worst = self.res.estimates.get(a.model, Estimate(0.0, 0))
                cost, tokens = cost + worst.cost, tokens + worst.tokens
        return Estimate(cost, tokens)

    def admit(self, model: ModelConfig, trace: DispatchTrace) -> Awaitable[None] | None:
        """Before one try of ``model``."""
        return self.admit_all([model], trace)

    def admit_all(self, models: Sequence[ModelConfig], trace: DispatchTrace) -> Awaitable[None] | None:
        """Before tries of ``models`` that will run at once: the reservation covers all of them."""
        billed = self._billed(trace)
        worst = Estimate(0.0, 0)
        for model in models:
            one = self.res.estimates.get(model.name, Estimate(0.0, 0))
            worst = _plus(worst, one)
        more = Estimate(
            max(0.0, billed.cost + worst.cost - self.reserved.cost),
            max(0, billed.tokens + worst.tokens - self.reserved.tokens),
        )
        if more.cost <= 0 and more.tokens <= 0:
            return None
        if self.budgets.shared is None:
            self.budgets.extend(self.res.reservation, more)  # raises 429: the call stops here
            self.reserved = _plus(self.reserved, more)
            return None
        return self._extend_shared(more, worst)

    async def _extend_shared(self, more: Estimate, worst: Estimate) -> None:
        # Counted before the await, so that admissions meanwhile see these tries as reserved and in flight.
        self.reserved, self.pending = _plus(self.reserved, more), _plus(self.pending, worst)
        try:
            await self.budgets.aextend(self.res.reservation, more)  # raises 429 (or 503): the call stops
        except BaseException:
            self.reserved = _minus(self.reserved, more)
            raise
        finally:
            # The dispatcher appends the try to the trace right after this returns, with no await between.
            self.pending = _minus(self.pending, worst)


def _plus(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.cost + b.cost, a.tokens + b.tokens)


def _minus(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.cost - b.cost, a.tokens - b.tokens)


def capped(res: Resolution, inner: Rewrite | None) -> Rewrite | None:
    """The request as each target gets it: with the output cap the budget assumed, if it set none."""
    if not res.caps:
        return inner

    def rewrite(model: ModelConfig, request: ChatRequest) -> ChatRequest:
        sent = inner(model, request) if inner is not None else request
        cap = res.caps.get(model.name)
        if cap is None or sent.output_limit() is not None:
            return sent
        return sent.model_copy(update={"max_tokens": cap})

    return rewrite
