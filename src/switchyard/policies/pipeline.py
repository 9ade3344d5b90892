"""The ordered policy pipeline, built from config through a registry of policy factories."""

from __future__ import annotations

from collections.abc import Callable

from ..config import GatewayConfig, ModelConfig
from ..types import ChatRequest
from .access import AccessPolicy
from .base import Policy, RoutingContext
from .residency import Classifier, ResidencyPolicy

PolicyFactory = Callable[[GatewayConfig], Policy]


def _no_classifier(request: ChatRequest) -> set[str]:
    return set()


def default_policies(classify: Classifier | None = None) -> dict[str, PolicyFactory]:
    """Built-in policies in pipeline order: access (RBAC), then sensitivity and residency."""
    return {
        "access": lambda cfg: AccessPolicy(cfg.access),
        "residency": lambda cfg: ResidencyPolicy(classify or _no_classifier),
    }


class PolicyPipeline:
    def __init__(self, policies: list[Policy]) -> None:
        self.policies = policies

    @classmethod
    def build(cls, config: GatewayConfig, factories: dict[str, PolicyFactory]) -> PolicyPipeline:
        return cls([factory(config) for factory in factories.values()])

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        for policy in self.policies:
            candidates = await policy.apply(ctx, candidates)
        return candidates
