"""The gateway object: everything a running switchyard holds, built from settings and config.

No module-level state: the server, the CLI and the tests each build their own ``Gateway``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .budgets import Budgets, Reservation, month_start, window_bounds
from .config import GatewayConfig, ModelConfig, RouteConfig, RoutePolicy, Settings, server_options
from .dispatch import Dispatcher
from .errors import CountersUnavailable, InvalidRequest, NotFound
from .keys import Authenticator
from .ledger import LedgerWriter
from .observability import GatewayMetrics, tracing_from_env
from .policies import PolicyPipeline, RoutingContext, default_policies
from .policies.residency import Classifier
from .policies.router import load_routers
from .pool import DeploymentPool
from .pricing import ModelPrice, resolve_price
from .providers.base import Provider, ProviderContext
from .providers.registry import ProviderRegistry, default_registry
from .providers.transport import HttpTransport
from .redis_counters import RedisCounters
from .sensitivity import SensitivityDetector
from .store.base import LedgerRecord
from .store.sqlite import SQLiteStore
from .tokens import TokenCounter
from .types import ChatRequest, Principal

if TYPE_CHECKING:
    from .routing.model import RouterModel

log = logging.getLogger(__name__)


@dataclass
class Resolution:
    """What a requested model name stands for (a route's ordered candidates, or one model), narrowed by
    the policies, with the reasons they gave."""

    requested: str
    route: str | None
    targets: list[ModelConfig]
    policy: RoutePolicy
    premium: ModelConfig  # the counterfactual: what the route's premium model would have cost
    reasons: list[str] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)
    reservation: Reservation = field(default_factory=lambda: Reservation(settled=True))
    pseudonymize_for: set[str] = field(default_factory=set)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) or ("fallback-order" if self.route else "direct")


class Gateway:
    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        *,
        registry: ProviderRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        http: HttpTransport | None = None,
        classify: Classifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` gives the wall-clock time stamped on ledger records and used for budget windows
        (a simulation replays a month of traffic by passing its own)."""
        self.settings = settings
        self.clock = clock
        self.config = config
        self.http = http or HttpTransport()
        self.provider_ctx = ProviderContext(
            http=self.http, environ=dict(environ if environ is not None else os.environ)
        )
        registry = registry or default_registry()
        self.pools = {
            m.name: DeploymentPool(m, [registry.create(m, d, self.provider_ctx) for d in m.all_deployments()])
            for m in config.models
        }
        self.prices: dict[str, ModelPrice] = {m.name: resolve_price(m) for m in config.models}
        self.dispatcher = Dispatcher(self.pools)
        self.options = server_options(settings, config)
        self.store = SQLiteStore(self.options.db_path)
        self.ledger = LedgerWriter(
            self.store, flush_interval=settings.ledger_flush_interval, batch_size=settings.ledger_batch_size
        )
        self.auth = Authenticator(self.store, settings.admin_key)
        self.tokens = TokenCounter()
        self.counters = RedisCounters(self.options.redis_url) if self.options.redis_url else None
        self.budgets = Budgets(config.budgets, self.counters, clock=clock)
        self.detector: SensitivityDetector | None = None
        if config.has_residency_rules():
            self.detector = SensitivityDetector()
            classify = classify or self.detector.classify_request
        self.routers = load_routers([config.default_policy, *(r.policy for r in config.routes)])
        self.policies = PolicyPipeline.build(self, default_policies(classify))
        self.metrics = GatewayMetrics(config, budgets=self.budgets.current_use, backlog=lambda: self.ledger.backlog)
        self.tracing = tracing_from_env(settings.otlp_endpoint, self.provider_ctx.environ)
        self.max_body_bytes = self.options.max_body_bytes
        self.started = False
        self._warmups: list[asyncio.Task[None]] = []

    async def start(self, *, warm: bool = True) -> None:
        self.ledger.start()
        if self.counters is not None:
            try:
                await asyncio.to_thread(self.counters.ping)
            except CountersUnavailable as exc:
                log.error("%s; requests with budgets get 503 until it answers", exc.message)
        if self.config.budgets:
            # Spend windows continue across restarts: seed them from the ledger (indexed by day). A shared
            # store keeps counters it already holds.
            now = self.clock()
            try:
                for window in ("day", "month"):
                    _, reset = window_bounds(window, now)
                    start = reset - 86400 if window == "day" else month_start(now)
                    self.budgets.seed_spend(await asyncio.to_thread(self.store.spend_by_scope, start), window)
            except CountersUnavailable as exc:
                log.error("spend windows not seeded from the ledger: %s", exc.message)
        if warm:
            self._warmups += [
                asyncio.create_task(self._warm_router(path, router), name=f"warm-router-{path}")
                for path, router in self.routers.items()
            ]
        if warm and self.detector is not None:
            self._warmups.append(asyncio.create_task(asyncio.to_thread(self.detector.warm), name="warm-detector"))
        if warm:
            # Local models load in the background: the server answers at once, and a request that
            # arrives before its model is loaded waits for that load rather than starting another.
            self._warmups += [
                asyncio.create_task(self._warm(member.provider), name=f"warm-{name}")
                for name, pool in self.pools.items()
                for member in pool.members
            ]
        self.started = True

    @staticmethod
    async def _warm(provider: Provider) -> None:
        try:
            await provider.warm()
        except Exception:
            log.warning("warming %s failed; the first request will retry", provider.label, exc_info=True)

    @staticmethod
    async def _warm_router(path: str, router: RouterModel) -> None:
        try:
            await asyncio.to_thread(router.warm)
        except Exception:
            log.warning("loading the router's embedding model for %s failed; the first request will retry", path)

    async def aclose(self) -> None:
        self.started = False
        for task in self._warmups:
            task.cancel()
        await self.ledger.aclose()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        for pool in self.pools.values():
            await pool.aclose()
        await self.http.aclose()
        self.store.close()
        if self.counters is not None:
            self.counters.close()

    def record(self, rec: LedgerRecord) -> None:
        """A request's outcome is final: queue its ledger record, count it, trace it."""
        self.ledger.record(rec)
        self.metrics.observe(rec)
        if self.tracing is not None:
            self.tracing.record(rec)

    def _candidates(self, name: str, kind: str) -> tuple[RouteConfig | None, list[ModelConfig]]:
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
        return max(candidates, key=lambda m: self.prices[m.name].input * 0.8 + self.prices[m.name].output * 0.2)

    async def resolve(
        self,
        principal: Principal,
        name: str,
        *,
        kind: str = "chat",
        request: ChatRequest | None = None,
        inputs: Sequence[str] = (),
    ) -> Resolution:
        """The candidates for a request, in order, after every policy has had its say (or a refusal)."""
        route, candidates = self._candidates(name, kind)
        policy = self.config.policy_for(route)
        ctx = RoutingContext(principal, name, route.name if route else None, policy, request, list(inputs))
        targets = await self.policies.apply(ctx, candidates)
        premium = self.premium_for(policy, candidates)
        return Resolution(
            name, ctx.route, targets, policy, premium, ctx.reasons, ctx.classes, ctx.reservation, ctx.pseudonymize_for
        )
