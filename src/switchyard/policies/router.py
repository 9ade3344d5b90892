"""The quality/cost router as a route strategy: before any call, the trained router (``switchyard.routing``)
picks the candidate to try first; the other candidates stay behind it as fallbacks, so a failing upstream
still falls back.

- An N-model artifact (``switchyard router fit --from-run``, format 2) weighs the route's models that it
  names: per prompt, P(correct) and the predicted cost of each, priced with the route's own prices; the
  pick is the highest ``p - lambda * cost / scale`` at the route's ``target_quality``, then the other named
  models by the same utility, then the route's models the artifact does not know, in route order. Trail:
  ``router: cheap (p=0.83) over premium (p=0.91), lambda 0.1 at target 0.95``.
- A two-model artifact (format 1) predicts whether the cheap candidates answer as well as the route's
  premium model: the cheapest goes first when the score is at or below the target's threshold, premium
  otherwise. Trail: ``router: p_as_good=0.83 score=0.012<=0.020 at target 0.95 -> cheap``.

The router reads the request's last user message, as it read each eval item when it was trained.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ModelConfig, RoutePolicy
from ..errors import ConfigError
from ..pricing import ModelPrice
from .base import PremiumFor, RoutingContext

if TYPE_CHECKING:
    from ..routing.model import RouterModel
    from ..routing.nrouter import AnyRouter, NRouter


def load_routers(policies: list[RoutePolicy]) -> dict[str, AnyRouter]:
    """Every artifact the routes name, loaded once per directory (the embedding model loads on warm-up)."""
    paths = sorted({p.router for p in policies if p.strategy == "router" and p.router})
    if not paths:
        return {}
    try:
        from ..routing.data import RouterDataError
        from ..routing.nrouter import load_router
    except ImportError as exc:  # pragma: no cover - numpy is a core dependency
        raise ConfigError(f"strategy router needs the router's dependencies: {exc}") from exc
    loaded: dict[str, AnyRouter] = {}
    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"router artifact {path} does not exist (train one with `switchyard router fit`)")
        try:
            loaded[path] = load_router(Path(path))
        except RouterDataError as exc:
            raise ConfigError(f"router artifact {path}: {exc.message}") from exc
    return loaded


class RouterPolicy:
    name = "router"

    def __init__(
        self,
        routers: Mapping[str, AnyRouter],
        prices: Mapping[str, ModelPrice],
        premium_for: PremiumFor,
    ) -> None:
        self.routers = routers
        self.prices = prices
        self.premium_for = premium_for

    def _blended(self, model: ModelConfig) -> float:
        return self.prices[model.name].blended()

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        policy = ctx.policy
        if policy.strategy != "router" or policy.router is None or len(candidates) < 2 or ctx.request is None:
            return candidates
        from ..routing.cascade import request_prompt
        from ..routing.nrouter import NRouter

        model = self.routers[policy.router]
        prompt = request_prompt(ctx.request)
        if isinstance(model, NRouter):
            return await self._pick(model, ctx, candidates, prompt)
        return await self._two(model, ctx, candidates, prompt)

    async def _pick(
        self, model: NRouter, ctx: RoutingContext, candidates: list[ModelConfig], prompt: str
    ) -> list[ModelConfig]:
        known = [m for m in candidates if m.name in model.names]
        if len(known) < 2:
            ctx.note(f"router: {len(known)} of the route's allowed models known to the artifact, route order kept")
            return candidates
        prices = {m.name: self.prices[m.name] for m in known if self.prices[m.name].source != "unknown"}
        target = ctx.policy.target_quality
        decide = functools.partial(model.explain, prompt, target, prices=prices, among=[m.name for m in known])
        pick = await asyncio.to_thread(decide)
        by_name = {m.name: m for m in known}
        others = ", ".join(f"{n} (p={pick.p[n]:.2f})" for n in pick.order[1:3])
        more = f" +{len(pick.order) - 3}" if len(pick.order) > 3 else ""
        lam = {float("-inf"): "reference only", float("inf"): "cheapest"}.get(pick.lam, f"lambda {pick.lam:.3g}")
        ctx.note(f"router: {pick.choice} (p={pick.p[pick.choice]:.2f}) over {others}{more}, {lam} at target {target:g}")
        ordered = [by_name[n] for n in pick.order]
        return [*ordered, *(m for m in candidates if m.name not in by_name)]

    async def _two(
        self, model: RouterModel, ctx: RoutingContext, candidates: list[ModelConfig], prompt: str
    ) -> list[ModelConfig]:
        policy = ctx.policy
        premium = self.premium_for(policy, candidates)
        cheap = sorted((m for m in candidates if m.name != premium.name), key=self._blended)
        if premium not in candidates:  # an earlier policy (residency, budget) removed it: nothing to weigh
            ctx.note(f"router: {premium.name} not allowed, cheapest first")
            return cheap
        decide = functools.partial(
            model.explain,
            prompt,
            policy.target_quality,
            cheap_price=self.prices[cheap[0].name],
            premium_price=self.prices[premium.name],
        )
        decision = await asyncio.to_thread(decide)
        verdict = "premium" if decision.premium else "cheap"
        relation = ">" if decision.premium else "<="
        ctx.note(
            f"router: p_as_good={decision.p_as_good:.2f} score={decision.score:.3g}{relation}"
            f"{decision.threshold:.3g} at target {policy.target_quality:g} -> {verdict}"
        )
        return [premium, *cheap] if decision.premium else [*cheap, premium]
