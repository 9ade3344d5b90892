"""The ordered policy pipeline, built through a registry of policy factories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..config import ModelConfig
from .access import AccessPolicy
from .base import Policy, PolicyDeps, PolicyFactory, RoutingContext
from .budget import BudgetPolicy
from .cascade import CascadePolicy
from .residency import ResidencyPolicy
from .router import RouterPolicy


def default_policies() -> dict[str, PolicyFactory]:
    """Built-in policies in pipeline order: access (RBAC), sensitivity and residency, budgets, cascade
    or router ordering. The budget policy reserves spend, so it comes after every policy that may refuse
    on other grounds; the policies after it only reorder. A gateway takes another mapping (``policies=``):
    drop, replace or insert entries, keeping that rule."""
    return {
        "access": lambda d: AccessPolicy(d.access),
        "residency": lambda d: ResidencyPolicy(d.classify, classify_large=d.classify_large),
        "budget": lambda d: BudgetPolicy(d.budgets, d.prices),
        "cascade": lambda d: CascadePolicy(d.prices),
        "router": lambda d: RouterPolicy(d.routers, d.prices, d.premium_for),
    }


class PolicyPipeline:
    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)

    @classmethod
    def build(cls, deps: PolicyDeps, factories: Mapping[str, PolicyFactory]) -> PolicyPipeline:
        return cls([factory(deps) for factory in factories.values()])

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        for policy in self.policies:
            candidates = await policy.apply(ctx, candidates)
        return candidates
