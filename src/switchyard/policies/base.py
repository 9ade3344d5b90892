"""The Policy seam: what a policy sees of one request (``RoutingContext``), what it may use
(``PolicyDeps``), and the interface itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..budgets import Budgets, Estimate, Reservation
from ..config import AccessConfig, ModelConfig, RoutePolicy
from ..pricing import ModelPrice
from ..sensitivity.detector import request_texts
from ..tokens import TokenCounter
from ..types import ChatRequest, Principal

if TYPE_CHECKING:
    from ..routing.nrouter import AnyRouter

# The sensitivity classes of the texts one request sends (e.g. {"pii", "health"}).
Classifier = Callable[[Sequence[str]], set[str]]
# The same, off the event loop's GIL (a worker process), for large requests.
AsyncClassifier = Callable[[Sequence[str]], Awaitable[set[str]]]
# The model a route's counterfactual cost is counted against.
PremiumFor = Callable[[RoutePolicy, list[ModelConfig]], ModelConfig]


@dataclass
class RoutingContext:
    """What the policies see of one request, and the trail they leave."""

    principal: Principal
    requested: str
    route: str | None
    policy: RoutePolicy
    request: ChatRequest | None = None  # None for embeddings
    inputs: list[str] = field(default_factory=list)  # embedding inputs (chat requests carry messages)
    # Sensitivity classes of the request: given by the caller for context it added itself (a RAG
    # collection's classes), then extended by the detector.
    classes: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    pseudonymize_for: set[str] = field(default_factory=set)  # models that may only get a masked copy
    reservation: Reservation = field(default_factory=lambda: Reservation(settled=True))
    # Budgets: each candidate's worst case, what was reserved, and the output caps to send upstream for
    # requests that set no limit of their own.
    estimates: dict[str, Estimate] = field(default_factory=dict)
    reserved: Estimate | None = None
    caps: dict[str, int] = field(default_factory=dict)

    def texts(self) -> list[str]:
        """Every text the request sends upstream: messages and tool arguments, or the embedding inputs."""
        return list(self.inputs) if self.request is None else request_texts(self.request)

    def note(self, reason: str) -> None:
        self.reasons.append(reason)


@dataclass(frozen=True)
class PolicyDeps:
    """Everything a built-in policy may be built from; a policy takes the few parts it uses."""

    access: AccessConfig
    prices: Mapping[str, ModelPrice]
    budgets: Budgets
    tokens: TokenCounter
    premium_for: PremiumFor
    classify: Classifier | None = None
    classify_large: AsyncClassifier | None = None
    routers: Mapping[str, AnyRouter] = field(default_factory=dict)


class Policy(Protocol):
    """Narrow or reorder ``candidates``; raise a SwitchyardError (403, 429) to refuse the request.
    Every policy appends a short reason to the context."""

    name: str

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]: ...


# Builds one policy from the gateway's parts; ``Gateway(policies=...)`` takes an ordered mapping of these.
PolicyFactory = Callable[[PolicyDeps], Policy]
