"""Configs for server tests: models served by loopback mock upstreams."""

from __future__ import annotations

from typing import Any

from switchyard.config import GatewayConfig, ModelConfig, Price, RouteConfig, RoutePolicy


def openai_model(name: str, url: str, upstream_model: str = "mock-model", **kw: Any) -> ModelConfig:
    kw.setdefault("retry", {"max_retries": 1, "backoff_initial": 0.01, "backoff_max": 0.02})
    kw.setdefault("timeouts", {"connect": 2, "first_token": 5, "total": 10})
    return ModelConfig.model_validate(
        {
            "name": name,
            "provider": "openai",
            "base_url": url + "/v1",
            "upstream_model": upstream_model,
            "locality": "us",
            "tier": "premium",
            "price": Price(input=2.0, output=8.0, cached_input=0.5),
            **kw,
        }
    )


def config(*models: ModelConfig, routes: dict[str, list[str]] | None = None) -> GatewayConfig:
    return GatewayConfig(
        models=list(models),
        routes=[RouteConfig(name=n, models=m) for n, m in (routes or {}).items()],
    )


def masked_route(url: str) -> GatewayConfig:
    """One external model behind the route ``masked``: personal data may go out only pseudonymized."""
    return GatewayConfig(
        models=[openai_model("external", url, locality="us")],
        routes=[
            RouteConfig(
                name="masked",
                models=["external"],
                policy=RoutePolicy(residency={"pii": ["on_prem"]}, pseudonymize=True),
            )
        ],
    )
