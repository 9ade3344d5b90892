"""Resolution: what a requested model name stands for (a route's ordered candidates, or one model),
narrowed and ordered by the policy pipeline, with the reasons the policies gave."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .budgets import Budgets, Estimate, Reservation
from .config import GatewayConfig, ModelConfig, RouteConfig, RoutePolicy
from .errors import InvalidRequest, NotFound
from .policies import PolicyPipeline, RoutingContext
from .pricing import ModelPrice
from .types import ChatRequest, Principal


@dataclass
class Resolution:
    """A request's candidates after every policy has had its say, and what the policies left for the call:
    the budget reservation to settle, the models that may only get a masked copy, the data classes."""

    requested: str
    route: str | None
    targets: list[ModelConfig]
    policy: RoutePolicy
    premium: ModelConfig  # the counterfactual: what the route's premium model would have cost
    reasons: list[str] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)
    reservation: Reservation = field(default_factory=lambda: Reservation(settled=True))
    pseudonymize_for: set[str] = field(default_factory=set)
    estimates: dict[str, Estimate] = field(default_factory=dict)  # per candidate, when budgets apply
    reserved: Estimate | None = None
    caps: dict[str, int] = field(default_factory=dict)  # output caps to send (the request set none)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) or ("fallback-order" if self.route else "direct")


class Resolver:
    def __init__(
        self,
        config: GatewayConfig,
        prices: Mapping[str, ModelPrice],
        budgets: Budgets,
        pipeline: PolicyPipeline | None = None,
    ) -> None:
        self.config = config
        self.prices = prices
        self.budgets = budgets
        self.pipeline = pipeline or PolicyPipeline([])

    def candidates(self, name: str, kind: str) -> tuple[RouteConfig | None, list[ModelConfig]]:
        route = self.config.route(name)
        if route is not None:
            targets = [m for m in (self.config.model(n) for n in route.models) if m is not None and m.kind == kind]
            if not targets:
                raise InvalidRequest(f"route {name!r} has no {kind} model", param="model")
            return route, targets
        model = self.config.model(name)
        if model is None:
            raise NotFound(f"the model {name!r} does not exist", param="model")
        if model.kind != kind:
            raise InvalidRequest(f"model {name!r} is a {model.kind} model, not a {kind} model", param="model")
        return None, [model]

    def premium_for(self, policy: RoutePolicy, candidates: list[ModelConfig]) -> ModelConfig:
        """The model a route's counterfactual cost is counted against: named in policy, else the priciest."""
        if policy.premium is not None:
            named = self.config.model(policy.premium)
            if named is not None:
                return named
        return max(candidates, key=lambda m: self.prices[m.name].blended())

    async def resolve(
        self,
        principal: Principal,
        name: str,
        *,
        kind: str = "chat",
        request: ChatRequest | None = None,
        inputs: Sequence[str] = (),
        classes: Collection[str] = (),
    ) -> Resolution:
        """The candidates for a request, in order, after every policy has had its say (or a refusal).
        ``classes`` are data classes the caller already knows the request carries (RAG context)."""
        route, candidates = self.candidates(name, kind)
        policy = self.config.policy_for(route)
        ctx = RoutingContext(
            principal, name, route.name if route else None, policy, request, list(inputs), classes=set(classes)
        )
        try:
            targets = await self.pipeline.apply(ctx, candidates)
        except BaseException:
            # A later policy refused, or the caller went away: nothing will be spent against the reservation.
            self.budgets.settle(ctx.reservation, cost=0.0, tokens=0)
            raise
        premium = self.premium_for(policy, candidates)
        return Resolution(
            name,
            ctx.route,
            targets,
            policy,
            premium,
            ctx.reasons,
            ctx.classes,
            ctx.reservation,
            ctx.pseudonymize_for,
            ctx.estimates,
            ctx.reserved,
            ctx.caps,
        )
