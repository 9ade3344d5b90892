"""Settings (environment) and the YAML config of models and routes.

Precedence: environment variables (``SWITCHYARD_*``) > the YAML file's ``server`` section > defaults.
Secrets never appear in the file: a model names the environment variable that holds its API key.

The file's sections live in modules by concern — ``models`` (models and deployments), ``routes`` (routes
and their policies), ``access`` (teams, budgets), ``rag``, ``embedded`` (where the shipped models are) —
and are all importable from here; this module holds the whole file (``GatewayConfig``), the embedded
defaults and loading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError
from ..settings import MIN_ADMIN_KEY_CHARS as MIN_ADMIN_KEY_CHARS
from ..settings import Settings as Settings
from .access import AccessConfig as AccessConfig
from .access import BudgetConfig as BudgetConfig
from .access import TeamConfig as TeamConfig
from .embedded import embedded_chat_model_path as embedded_chat_model_path
from .embedded import embedded_embedding_model_path as embedded_embedding_model_path
from .embedded import embedded_finders as embedded_finders
from .models import LOCAL_PROVIDERS as LOCAL_PROVIDERS
from .models import LOCALITY_PATTERN as LOCALITY_PATTERN
from .models import Balance as Balance
from .models import BreakerPolicy as BreakerPolicy
from .models import Deployment as Deployment
from .models import ModelConfig as ModelConfig
from .models import Price as Price
from .models import RetryPolicy as RetryPolicy
from .models import Strict as Strict
from .models import Timeouts as Timeouts
from .models import Weights as Weights
from .models import default_weights as default_weights
from .rag import RagConfig as RagConfig
from .rag import RagRerankConfig as RagRerankConfig
from .rag import dsn_has_password
from .routes import SENSITIVITY_CLASSES as SENSITIVITY_CLASSES
from .routes import AgreementPolicy as AgreementPolicy
from .routes import GuardPolicy as GuardPolicy
from .routes import RouteConfig as RouteConfig
from .routes import RoutePolicy as RoutePolicy
from .routes import ShadowConfig as ShadowConfig


class ServerConfig(Strict):
    host: str | None = None
    port: int | None = None
    max_body_bytes: int | None = None
    db_path: str | None = None
    store: str | None = Field(
        default=None, description="the ledger and key store: sqlite (at db_path) or postgres (at postgres_dsn)"
    )
    postgres_dsn: str | None = Field(
        default=None,
        description="store postgres: a libpq URL or DSN without a password (PGPASSWORD, a .pgpass file, or the "
        "whole DSN in SWITCHYARD_POSTGRES_DSN); default: that variable",
    )
    postgres_pool_size: int | None = Field(
        default=None, ge=1, le=64, description="store postgres: connections the process keeps to the server (4)"
    )

    @field_validator("postgres_dsn")
    @classmethod
    def _no_password_in_the_file(cls, dsn: str | None) -> str | None:
        if dsn is not None and dsn_has_password(dsn):
            raise ValueError(
                "a password does not belong in the config file: use PGPASSWORD or a .pgpass file, or put the "
                "whole DSN in SWITCHYARD_POSTGRES_DSN"
            )
        return dsn

    redis_url: str | None = Field(
        default=None, description="shared budget and rate-limit counters for replicas, e.g. redis://127.0.0.1:6379/0"
    )
    redis_timeout: float | None = Field(
        default=None, gt=0, description="seconds a Redis operation may take before budgeted requests get 503 (2)"
    )
    responses_store: bool | None = Field(
        default=None, description="keep Responses API answers for previous_response_id (never zero-retention teams)"
    )
    responses_ttl_days: float | None = Field(default=None, gt=0, description="days a stored response is kept")
    workers: int | None = Field(
        default=None, ge=1, le=64, description="worker processes on the one port (serve --workers); default 1"
    )


class GatewayConfig(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    models: list[ModelConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    access: AccessConfig = Field(default_factory=AccessConfig)
    budgets: list[BudgetConfig] = Field(default_factory=list)
    rag: RagConfig = Field(default_factory=RagConfig)
    default_policy: RoutePolicy = Field(
        default_factory=RoutePolicy,
        description="applies to direct model calls, and lends its residency rules to routes without their own",
    )

    @model_validator(mode="after")
    def _check_names(self) -> GatewayConfig:
        if self.default_policy.agreement is not None:
            raise ValueError(
                "default_policy: verifier agreement applies to routes (a direct model call has one candidate)"
            )
        seen: set[str] = set()
        for i, m in enumerate(self.models):
            if m.name in seen:
                raise ValueError(f"models[{i}].name: duplicate model name {m.name!r}")
            seen.add(m.name)
        for i, r in enumerate(self.routes):
            if r.name in seen:
                raise ValueError(f"routes[{i}].name: {r.name!r} is already a model or route name")
            seen.add(r.name)
            for j, target in enumerate(r.models):
                if target not in {m.name for m in self.models}:
                    raise ValueError(f"routes[{i}].models[{j}]: unknown model {target!r}")
            if r.policy.premium is not None and r.policy.premium not in r.models:
                raise ValueError(f"routes[{i}].policy.premium: {r.policy.premium!r} is not one of the route's models")
            shadow = r.policy.shadow
            if shadow is not None and shadow.model not in {m.name for m in self.models if m.kind == "chat"}:
                raise ValueError(f"routes[{i}].policy.shadow.model: unknown chat model {shadow.model!r}")
        return self

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)

    def has_residency_rules(self) -> bool:
        return bool(self.default_policy.residency) or any(r.policy.residency for r in self.routes)

    def policy_for(self, route: RouteConfig | None) -> RoutePolicy:
        if route is None:
            return self.default_policy
        if route.policy.residency or not self.default_policy.residency:
            return route.policy
        return route.policy.model_copy(update={"residency": self.default_policy.residency})

    def route(self, name: str) -> RouteConfig | None:
        return next((r for r in self.routes if r.name == name), None)


LOCAL_CHAT_PRICE = Price(input=0.05, output=0.15)
LOCAL_EMBED_PRICE = Price(input=0.005, output=0.0)


def local_embed_model(price: Price = LOCAL_EMBED_PRICE) -> ModelConfig:
    """The embedded embedding model (all-MiniLM-L6-v2 from its package) as ``local-embed``."""
    return ModelConfig(
        name="local-embed",
        provider="sentence_transformers",
        kind="embedding",
        path=embedded_embedding_model_path(),
        locality="on_prem",
        tier="local",
        tags=["embedded", "open-weight"],
        context_window=256,
        price=price,
    )


def embedded_defaults() -> GatewayConfig:
    """The config used when no file is given: the two models shipped as Python packages."""
    return GatewayConfig(
        models=[
            ModelConfig(
                name="local-chat",
                provider="llamacpp",
                path=embedded_chat_model_path(),
                locality="on_prem",
                tier="local",
                tags=["embedded", "open-weight"],
                context_window=2048,
                price=LOCAL_CHAT_PRICE,
                max_concurrency=1,
            ),
            local_embed_model(),
        ],
        routes=[RouteConfig(name="auto", models=["local-chat"])],
    )


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    db_path: str
    max_body_bytes: int
    redis_url: str | None = None
    redis_timeout: float = 2.0
    store: str = "sqlite"
    responses_store: bool = False
    responses_ttl_days: float = 30.0
    postgres_dsn: str | None = field(default=None, repr=False)  # store postgres; may hold a password
    postgres_pool_size: int = 4
    workers: int = 1


def server_options(settings: Settings, cfg: GatewayConfig) -> ServerOptions:
    """Resolve server options: a setting given in the environment (or explicitly) wins over the file's
    ``server`` section, which wins over the defaults."""
    explicit = settings.model_fields_set

    def pick(name: str) -> Any:
        from_file = getattr(cfg.server, name)
        return getattr(settings, name) if name in explicit or from_file is None else from_file

    return ServerOptions(
        host=pick("host"),
        port=pick("port"),
        db_path=str(pick("db_path")),
        max_body_bytes=pick("max_body_bytes"),
        redis_url=pick("redis_url"),
        redis_timeout=pick("redis_timeout"),
        store=pick("store"),
        responses_store=pick("responses_store"),
        responses_ttl_days=pick("responses_ttl_days"),
        postgres_dsn=pick("postgres_dsn"),
        postgres_pool_size=pick("postgres_pool_size"),
        workers=pick("workers"),
    )


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid config"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: Path | None) -> GatewayConfig:
    """Read and validate a YAML config; ``None`` gives the embedded defaults.

    Raises :class:`ConfigError` whose message names the file, the field path and the problem.
    """
    if path is None:
        return embedded_defaults()
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with models / routes")
    try:
        config = GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from exc
    for route in config.routes:
        if route.policy.router is not None and not Path(route.policy.router).is_absolute():
            route.policy.router = str((path.parent / route.policy.router).resolve())
    return config


def api_key_from_env(env_var: str | None, environ: dict[str, str] | None = None) -> str | None:
    if env_var is None:
        return None
    return (environ if environ is not None else dict(os.environ)).get(env_var)
