"""Budgets as a policy: reserve the worst-case cost of the request against the caller's limits, or
downgrade to the candidates that still fit (per route), or refuse with 429 and the reset time."""

from __future__ import annotations

from collections.abc import Mapping

from ..budgets import Budgets, Estimate
from ..config import ModelConfig
from ..pricing import ModelPrice
from ..tokens import TokenCounter, worst_output
from ..types import Usage
from .base import RoutingContext


class BudgetPolicy:
    name = "budget"

    def __init__(self, budgets: Budgets, prices: Mapping[str, ModelPrice], tokens: TokenCounter) -> None:
        self.budgets = budgets
        self.prices = prices
        self.tokens = tokens

    def _estimate(self, ctx: RoutingContext, model: ModelConfig, prompt_tokens: int) -> Estimate:
        limit = worst_output(ctx.request.output_limit(), model, prompt_tokens) if ctx.request is not None else 0
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=limit)
        return Estimate(cost=self.prices[model.name].cost(usage), tokens=prompt_tokens + limit)

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        if not self.budgets.applicable(ctx.principal):
            return candidates
        prompt_tokens = self.tokens.count(ctx.prompt_text())
        estimates = {m.name: self._estimate(ctx, m, prompt_tokens) for m in candidates}
        kept = candidates
        if ctx.policy.on_limit == "downgrade":
            fitting = [m for m in candidates if self.budgets.fits(ctx.principal, estimates[m.name])]
            if fitting and len(fitting) < len(candidates):
                dropped = [m.name for m in candidates if m not in fitting]
                ctx.note(f"budget: downgraded past {','.join(dropped)}")
                kept = fitting
        worst = max((estimates[m.name] for m in kept), key=lambda e: (e.cost, e.tokens))
        ctx.reservation = self.budgets.reserve(ctx.principal, worst)  # raises 429 at the limit
        return kept
