"""Models in the YAML config: deployments, prices, timeouts, retries, circuit breakers."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .embedded import embedded_finders

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
    constrained_decoding: bool | None = Field(
        default=None,
        description="the model's server enforces a named `tool_choice` and a json_schema `response_format` with a "
        "grammar (vLLM, SGLang, llama.cpp): the guard's repair then forces the call it needs; default: true for "
        "llamacpp, false otherwise",
    )
    max_concurrency: int = Field(default=1, ge=1, description="local models: parallel generations")
    queue_size: int = Field(default=32, ge=0, description="local models: requests allowed to wait")

    @property
    def upstream_name(self) -> str:
        return self.upstream_model or self.name

    @model_validator(mode="after")
    def _embedded_paths(self) -> ModelConfig:
        """A local model without a path means the embedded one shipped as a Python package."""
        if self.path is None and not self.deployments:
            finder = embedded_finders().get(self.provider)
            if finder is not None:
                self.path = finder()
        return self

    @model_validator(mode="after")
    def _default_weights(self) -> ModelConfig:
        if self.weights is None:
            self.weights = default_weights(self.provider, self.locality, self.tags)
        return self

    @property
    def constrains_output(self) -> bool:
        """Whether a forced tool choice or a JSON schema is enforced by the model's server (grammar)."""
        if self.constrained_decoding is not None:
            return self.constrained_decoding
        return self.provider == "llamacpp"

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
