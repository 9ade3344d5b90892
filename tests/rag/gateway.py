"""A gateway for RAG server tests: two chat models on a loopback upstream (one in the cloud, one on
premises), the embedded embedding model, and a route whose residency keeps health data on premises."""

from __future__ import annotations

from pathlib import Path

import httpx

from switchyard.config import (
    AccessConfig,
    GatewayConfig,
    ModelConfig,
    Price,
    RagConfig,
    RouteConfig,
    RoutePolicy,
    local_embed_model,
)
from switchyard.keys import create_key
from switchyard.store.sqlite import SQLiteStore

from ..conftest import ADMIN_KEY, RunningGateway


def chat_model(name: str, url: str, locality: str) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "name": name,
            "provider": "openai",
            "base_url": url + "/v1",
            "upstream_model": name,
            "locality": locality,
            "price": Price(input=1.0, output=2.0),
            "retry": {"max_retries": 0},
            "timeouts": {"connect": 2, "first_token": 10, "total": 20},
        }
    )


def rag_config(upstream_url: str, models_dir: Path) -> GatewayConfig:
    embed = local_embed_model(price=Price(input=0.0, output=0.0))
    return GatewayConfig(
        models=[chat_model("cloud", upstream_url, "us"), chat_model("onprem", upstream_url, "on_prem"), embed],
        routes=[
            RouteConfig(name="auto", models=["cloud", "onprem"], policy=RoutePolicy(residency={"health": ["on_prem"]}))
        ],
        rag=RagConfig(models_dir=str(models_dir)),
        access=AccessConfig(roles={"admin": ["*"], "privacy": ["rag:erase"]}),
    )


def team_key(gw: RunningGateway, team: str, roles: tuple[str, ...] = ()) -> str:
    store = SQLiteStore(gw.db_path)
    try:
        _, secret = create_key(store, team, roles=roles)
    finally:
        store.close()
    return secret


def client(gw: RunningGateway, key: str = ADMIN_KEY) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {key}"}, timeout=60)
