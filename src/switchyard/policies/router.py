"""The quality/cost router as a route strategy: before any call, the trained router (``switchyard.routing``)
predicts whether the cheap candidates answer this prompt as well as the route's premium model; the
cheapest candidate predicted good enough for the route's ``target_quality`` goes first, the premium model
otherwise. The other candidates stay behind it as fallbacks, so a failing upstream still falls back.

The prediction is scored with the route's own prices (the artifact's training prices are only its
default), and it lands in the decision trail: ``router: p_as_good=0.83 score=0.012<=0.020 -> cheap``.
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


def load_routers(policies: list[RoutePolicy]) -> dict[str, RouterModel]:
    """Every artifact the routes name, loaded once per directory (the embedding model loads on warm-up)."""
    paths = sorted({p.router for p in policies if p.strategy == "router" and p.router})
    if not paths:
        return {}
    try:
        from ..routing.data import RouterDataError
        from ..routing.model import RouterModel
    except ImportError as exc:  # pragma: no cover - numpy is a core dependency
        raise ConfigError(f"strategy router needs the router's dependencies: {exc}") from exc
    loaded: dict[str, RouterModel] = {}
    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"router artifact {path} does not exist (train one with `switchyard router fit`)")
        try:
            loaded[path] = RouterModel.load(Path(path))
        except RouterDataError as exc:
            raise ConfigError(f"router artifact {path}: {exc.message}") from exc
    return loaded


class RouterPolicy:
    name = "router"

    def __init__(
        self,
        routers: Mapping[str, RouterModel],
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
        model = self.routers[policy.router]
        premium = self.premium_for(policy, candidates)
        cheap = sorted((m for m in candidates if m.name != premium.name), key=self._blended)
        if premium not in candidates:  # an earlier policy (residency, budget) removed it: nothing to weigh
            ctx.note(f"router: {premium.name} not allowed, cheapest first")
            return cheap
        prompt = ctx.request.prompt_text()
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
