"""The ordered policy pipeline, built from config through a registry of policy factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import ModelConfig
from ..types import ChatRequest
from .access import AccessPolicy
from .base import Policy, RoutingContext
from .budget import BudgetPolicy
from .cascade import CascadePolicy
from .residency import Classifier, ResidencyPolicy
from .router import RouterPolicy

if TYPE_CHECKING:
    from ..gateway import Gateway

PolicyFactory = Callable[["Gateway"], Policy]


def _no_classifier(request: ChatRequest) -> set[str]:
    return set()


def default_policies(classify: Classifier | None = None) -> dict[str, PolicyFactory]:
    """Built-in policies in pipeline order: access (RBAC), sensitivity and residency, budgets, cascade
    or router ordering. The budget policy reserves spend, so it comes after every policy that may refuse on other
    grounds; the policies after it only reorder."""
    return {
        "access": lambda gw: AccessPolicy(gw.config.access),
        "residency": lambda gw: ResidencyPolicy(classify or _no_classifier),
        "budget": lambda gw: BudgetPolicy(gw.budgets, gw.prices, gw.tokens),
        "cascade": lambda gw: CascadePolicy(gw.prices),
        "router": lambda gw: RouterPolicy(gw.routers, gw.prices, gw.premium_for),
    }


class PolicyPipeline:
    def __init__(self, policies: list[Policy]) -> None:
        self.policies = policies

    @classmethod
    def build(cls, gateway: Gateway, factories: dict[str, PolicyFactory]) -> PolicyPipeline:
        return cls([factory(gateway) for factory in factories.values()])

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        for policy in self.policies:
            candidates = await policy.apply(ctx, candidates)
        return candidates
