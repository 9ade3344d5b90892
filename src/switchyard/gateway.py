"""The gateway object: everything a running switchyard holds, built from settings and config.

No module-level state: the server, the CLI and the tests each build their own ``Gateway``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .config import GatewayConfig, ModelConfig, Settings, server_options
from .dispatch import Dispatcher
from .errors import InvalidRequest, NotFound
from .keys import Authenticator
from .ledger import LedgerWriter
from .pool import DeploymentPool
from .pricing import ModelPrice, resolve_price
from .providers.base import Provider, ProviderContext
from .providers.registry import ProviderRegistry, default_registry
from .providers.transport import HttpTransport
from .store.sqlite import SQLiteStore
from .tokens import TokenCounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    """What a requested model name stands for: a route (ordered candidates) or one model."""

    requested: str
    route: str | None
    targets: list[ModelConfig]
    reason: str


class Gateway:
    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        *,
        registry: ProviderRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        http: HttpTransport | None = None,
    ) -> None:
        self.settings = settings
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
        self.max_body_bytes = self.options.max_body_bytes
        self.started = False
        self._warmups: list[asyncio.Task[None]] = []

    async def start(self, *, warm: bool = True) -> None:
        self.ledger.start()
        if warm:
            # Local models load in the background: the server answers at once, and a request that
            # arrives before its model is loaded waits for that load rather than starting another.
            self._warmups = [
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

    async def aclose(self) -> None:
        self.started = False
        for task in self._warmups:
            task.cancel()
        await self.ledger.aclose()
        for pool in self.pools.values():
            await pool.aclose()
        await self.http.aclose()
        self.store.close()

    def resolve(self, name: str, kind: str = "chat") -> Resolution:
        route = self.config.route(name)
        if route is not None:
            targets = [m for m in (self.config.model(n) for n in route.models) if m is not None and m.kind == kind]
            if not targets:
                raise InvalidRequest(f"route {name!r} has no {kind} model", param="model")
            return Resolution(name, name, targets, "fallback-order")
        model = self.config.model(name)
        if model is None:
            raise NotFound(f"the model {name!r} does not exist", param="model")
        if model.kind != kind:
            raise InvalidRequest(f"model {name!r} is a {model.kind} model, not a {kind} model", param="model")
        return Resolution(name, None, [model], "direct")
