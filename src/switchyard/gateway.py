"""The gateway object: everything a running switchyard holds, built from settings and config.

No module-level state: the server, the CLI and the tests each build their own ``Gateway``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .agreement import check_agreements
from .budgets import Budgets, month_start, window_bounds
from .calls import Accounting, CallCore, ChatResult, ChatStream, EmbeddingResult
from .calls.chat import ChatParts
from .calls.shadow import Shadowing
from .config import GatewayConfig, Settings, server_options
from .conversations import DAY, Conversations
from .dispatch import Dispatcher
from .errors import CountersUnavailable
from .keys import Authenticator, FailedAuthLimiter
from .ledger import LedgerWriter
from .observability import GatewayMetrics, tracing_from_env
from .policies import Classifier, PolicyDeps, PolicyFactory, PolicyPipeline, default_policies
from .policies.router import load_routers
from .pool import DeploymentPool
from .pricing import ModelPrice, resolve_price
from .providers.base import Provider, ProviderContext
from .providers.registry import ProviderRegistry, default_registry
from .providers.transport import HttpTransport
from .rag.serving.holder import RagHolder
from .redis_counters import RedisCounters
from .resolve import Resolver
from .sensitivity import Pseudonymizer, SensitivityDetector
from .sensitivity.process import DetectorProcess
from .store.base import LedgerRecord
from .store.open import Store, open_store
from .tokens import TokenCounter
from .types import ChatRequest, EmbeddingRequest, Principal

if TYPE_CHECKING:
    from .rag.serving.service import RagService
    from .routing.nrouter import AnyRouter

__all__ = ["Gateway"]

log = logging.getLogger(__name__)


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
        store: Store | None = None,
        policies: Mapping[str, PolicyFactory] | None = None,
    ) -> None:
        """``clock`` gives the wall-clock time stamped on ledger records and used for budget windows
        (a simulation replays a month of traffic by passing its own). ``store`` replaces the configured
        store (``open_store``); ``policies`` replaces the pipeline (``default_policies()`` in order, each
        factory given the gateway's ``PolicyDeps``); ``classify`` replaces the sensitivity detector."""
        check_agreements(config)
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
        self.store: Store = store if store is not None else open_store(self.options)
        self.ledger = LedgerWriter(
            self.store, flush_interval=settings.ledger_flush_interval, batch_size=settings.ledger_batch_size
        )
        self.conversations = Conversations(
            self.store,
            config.access,
            enabled=self.options.responses_store,
            ttl_seconds=self.options.responses_ttl_days * DAY,
            clock=clock,
        )
        self.auth = Authenticator(
            self.store, settings.admin_key, limiter=FailedAuthLimiter(settings.auth_failures_per_minute)
        )
        self.tokens = TokenCounter()
        self.counters = (
            RedisCounters(self.options.redis_url, timeout=self.options.redis_timeout)
            if self.options.redis_url
            else None
        )
        self.budgets = Budgets(config.budgets, clock=clock, shared=self.counters)
        self.detector: SensitivityDetector | None = None
        self.detector_process: DetectorProcess | None = None
        if config.has_residency_rules():
            self.detector = SensitivityDetector()
            if classify is None:  # the built-in detector: large requests go to its worker process
                classify = self.detector.classify
                self.detector_process = DetectorProcess(self.detector.max_scan_chars)
        self.routers: dict[str, AnyRouter] = load_routers([config.default_policy, *(r.policy for r in config.routes)])
        self.resolver = Resolver(config, self.prices, self.budgets)
        deps = PolicyDeps(
            access=config.access,
            prices=self.prices,
            budgets=self.budgets,
            tokens=self.tokens,
            premium_for=self.resolver.premium_for,
            classify=classify,
            classify_large=self.detector_process.classify if self.detector_process else None,
            routers=self.routers,
        )
        self.resolver.pipeline = PolicyPipeline.build(deps, default_policies() if policies is None else policies)
        self.metrics = GatewayMetrics(config, budgets=self.budgets.current_use, backlog=lambda: self.ledger.backlog)
        self.tracing = tracing_from_env(settings.otlp_endpoint, self.provider_ctx.environ)
        self.rag = RagHolder(self._build_rag)
        accounting = Accounting(config, self.prices, self.budgets, self.record, clock, self.tokens)
        pseudonyms = Pseudonymizer(self.detector).session if self.detector is not None else None
        self.calls = CallCore(self.resolver, ChatParts(accounting, self.dispatcher, self.tokens, pseudonyms), self.rag)
        if any(r.policy.shadow is not None for r in config.routes):
            shadow = Shadowing(lambda *a, **kw: self.calls.chat(*a, **kw), self.store, config.access, clock)
            self.calls = dataclasses.replace(self.calls, shadow=shadow)
        self.max_body_bytes = self.options.max_body_bytes
        self.started = False
        self._warmups: list[asyncio.Task[None]] = []

    def _build_rag(self) -> RagService:
        from .rag.serving.service import RagService

        return RagService.from_config(
            self.config, self.options.db_path, shared=self.provider_ctx.local_models, transport=self.http
        )

    # --- the calls (see ``switchyard.calls``)
    async def chat(
        self, principal: Principal, request: ChatRequest, *, endpoint: str = "chat", eval_run: str | None = None
    ) -> ChatResult:
        """One whole answer: policies, dispatch with fallbacks, cost, budget settlement, one ledger record
        (tagged with ``eval_run`` when an eval run asks). A request naming RAG collections
        (``"switchyard": {"collections": [...]}``) is answered over them."""
        return await self.calls.chat(principal, request, endpoint=endpoint, eval_run=eval_run)

    async def stream(
        self, principal: Principal, request: ChatRequest, *, endpoint: str = "chat", eval_run: str | None = None
    ) -> ChatStream:
        """The answer as a stream of chunks, opened once a model has produced its first one."""
        return await self.calls.stream(principal, request, endpoint=endpoint, eval_run=eval_run)

    async def embed(
        self, principal: Principal, request: EmbeddingRequest, *, endpoint: str = "embeddings"
    ) -> EmbeddingResult:
        """Vectors for the request's inputs, through the same policies as a chat."""
        return await self.calls.embed(principal, request, endpoint=endpoint)

    async def start(self, *, warm: bool = True) -> None:
        self.ledger.start()
        try:
            if self.counters is not None:
                await self.counters.ping()
            if self.config.budgets:
                await self._seed_budgets()
        except CountersUnavailable as exc:
            log.error("%s; requests with budgets get 503 until it answers (spend not seeded)", exc.message)
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

    async def _seed_budgets(self) -> None:
        """Spend windows continue across restarts: seed them from the ledger (indexed by day). A shared
        store keeps counters it already holds; its values are then read once for the gauges."""
        now = self.clock()
        for window in ("day", "month"):
            _, reset = window_bounds(window, now)
            start = reset - 86400 if window == "day" else month_start(now)
            await self.budgets.aseed_spend(await asyncio.to_thread(self.store.spend_by_scope, start), window)
        if self.counters is not None:
            await self.budgets.refresh()

    @staticmethod
    async def _warm(provider: Provider) -> None:
        try:
            await provider.warm()
        except Exception:
            log.warning("warming %s failed; the first request will retry", provider.label, exc_info=True)

    @staticmethod
    async def _warm_router(path: str, router: AnyRouter) -> None:
        try:
            await asyncio.to_thread(router.warm)
        except Exception:
            log.warning("loading the router's embedding model for %s failed; the first request will retry", path)

    async def aclose(self) -> None:
        self.started = False
        for task in self._warmups:
            task.cancel()
        if self.calls.shadow is not None:
            await self.calls.shadow.drain(timeout=10.0)
        await self.budgets.drain()  # settlements in flight (shared counters)
        await self.ledger.aclose()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        for pool in self.pools.values():
            await pool.aclose()
        await self.http.aclose()
        if self.detector_process is not None:
            self.detector_process.close()
        self.rag.close()
        self.store.close()
        if self.counters is not None:
            await self.counters.aclose()

    def record(self, rec: LedgerRecord) -> None:
        """A request's outcome is final: queue its ledger record, count it, trace it."""
        self.ledger.record(rec)
        self.metrics.observe(rec)
        if self.tracing is not None:
            self.tracing.record(rec)
