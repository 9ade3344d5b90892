"""Budgets as a policy: reserve the worst-case cost of the request against the caller's limits, or
downgrade to the candidates that still fit (per route), or refuse with 429 and the reset time.

The worst case is a bound, not a guess, so that admitted requests never spend past a limit:
- prompt tokens are bounded by the UTF-8 bytes of everything the request sends (every token of a
  byte-level BPE or byte-fallback SentencePiece vocabulary is at least one byte): message texts and names,
  tool calls and results, tool definitions with their schemas, ``response_format``, stop sequences, plus
  chat-template tokens per message and a bound per image part;
- output tokens by the request's limit, or, when it sets none, the cap the call then sends upstream
  (``RoutingContext.caps``: the model's room up to ``DEFAULT_OUTPUT_ESTIMATE``).
A call that needs another try (a retry after a timeout the upstream bills, a fallback, a cascade's next
model) extends the reservation before it, or stops with 429 (``calls/budget_guard.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from ..budgets import Budgets, Estimate
from ..config import ModelConfig
from ..pricing import ModelPrice
from ..tokens import worst_output
from ..types import ChatRequest, Usage
from .base import RoutingContext

# Tokens one image part may be billed at most (OpenAI high detail: 85 + 170 per 512-px tile, at most
# ~1,450; Anthropic: about width x height / 750, at most ~1,600 after its resize).
IMAGE_TOKENS_BOUND = 2000
# Chat-template tokens around one message (role markers, separators), generously.
MESSAGE_OVERHEAD = 16


def prompt_bound(ctx: RoutingContext) -> int:
    """At least as many tokens as any upstream bills for the request's prompt."""
    if ctx.request is None:
        return sum(len(t.encode()) + 1 for t in ctx.inputs)
    return chat_prompt_bound(ctx.request)


def chat_prompt_bound(request: ChatRequest) -> int:
    total = 0
    for m in request.messages:
        total += MESSAGE_OVERHEAD + len(m.name.encode()) if m.name else MESSAGE_OVERHEAD
        if isinstance(m.content, str):
            total += len(m.content.encode())
        elif m.content is not None:
            for part in m.content:
                if part.get("type") == "text":
                    total += len(part["text"].encode())
                else:  # an image, audio or file part
                    total += IMAGE_TOKENS_BOUND + len(orjson.dumps(part)) // 64
        for call in m.tool_calls or ():
            total += len(call.function.name.encode()) + len(call.function.arguments.encode()) + MESSAGE_OVERHEAD
    if request.tools:
        total += len(orjson.dumps([t.model_dump(exclude_none=True) for t in request.tools]))
    if request.response_format is not None:
        total += len(orjson.dumps(request.response_format.model_dump(exclude_none=True)))
    total += sum(len(s.encode()) for s in request.stop_list())
    return total


class BudgetPolicy:
    name = "budget"

    def __init__(self, budgets: Budgets, prices: Mapping[str, ModelPrice]) -> None:
        self.budgets = budgets
        self.prices = prices

    def _estimate(self, ctx: RoutingContext, model: ModelConfig, prompt_tokens: int) -> Estimate:
        output = 0
        if ctx.request is not None:
            requested = ctx.request.output_limit()
            output = worst_output(requested, model, prompt_tokens)
            if requested is None:
                ctx.caps[model.name] = output  # sent upstream, so the bound holds
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=output)
        return Estimate(cost=self.prices[model.name].cost(usage), tokens=prompt_tokens + output)

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        if not self.budgets.applicable(ctx.principal):
            return candidates
        bound = prompt_bound(ctx)
        estimates = {m.name: self._estimate(ctx, m, bound) for m in candidates}
        shared = self.budgets.shared is not None  # Redis: awaited; in memory: no await at all
        kept = candidates
        if ctx.policy.on_limit == "downgrade":
            ests = [estimates[m.name] for m in candidates]
            fits = (
                await self.budgets.afitting(ctx.principal, ests)
                if shared
                else self.budgets.fitting(ctx.principal, ests)
            )
            fitting = [m for m, fit in zip(candidates, fits, strict=True) if fit]
            if fitting and len(fitting) < len(candidates):
                dropped = [m.name for m in candidates if m not in fitting]
                ctx.note(f"budget: downgraded past {','.join(dropped)}")
                kept = fitting
        worst = max((estimates[m.name] for m in kept), key=lambda e: (e.cost, e.tokens))
        # raises 429 at the limit (503 when the shared counters do not answer within their timeout)
        if shared:
            ctx.reservation = await self.budgets.areserve(ctx.principal, worst)
        else:
            ctx.reservation = self.budgets.reserve(ctx.principal, worst)
        ctx.estimates = {m.name: estimates[m.name] for m in kept}
        ctx.reserved = worst
        return kept
