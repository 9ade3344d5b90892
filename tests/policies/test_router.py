"""Router routes through the real gateway: a router trained with the embedded embedding model picks the
cheap candidate for prompts it predicts the cheap model answers as well, the premium one otherwise."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from switchyard.config import GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.errors import ConfigError
from switchyard.routing.features import LocalEncoder
from switchyard.routing.model import FitOptions, RouterModel
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY
from tests.routing.conftest import synthetic_table
from tests.server.configs import openai_model

TARGET = 0.8


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = RouterModel.fit(
        synthetic_table(n=200),
        encoder=LocalEncoder(),
        options=FitOptions(c_grid=(0.3, 1.0), embedding_gains=(3.0,), folds=5),
    )
    root = tmp_path_factory.mktemp("router") / "artifact"
    model.save(root)
    return root


def route_config(upstream: MockUpstream, artifact: Path, **policy: object) -> GatewayConfig:
    return GatewayConfig(
        models=[
            openai_model("premium", upstream.url, price=Price(input=10, output=30)),
            openai_model("cheap", upstream.url, upstream_model="mock-b", price=Price(input=0.6, output=0.6)),
        ],
        routes=[
            RouteConfig(
                name="smart",
                models=["premium", "cheap"],
                policy=RoutePolicy.model_validate(
                    {"strategy": "router", "router": str(artifact), "target_quality": TARGET, **policy}
                ),
            )
        ],
    )


def test_router_sends_hard_prompts_to_premium(upstream: MockUpstream, gateway_factory, artifact: Path) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(route_config(upstream, artifact))
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    table = synthetic_table(n=30, seed=7)
    chosen: dict[bool, list[str]] = {True: [], False: []}
    for i, prompt in enumerate(table.prompts):
        raw = client.chat.completions.with_raw_response.create(
            model="smart", messages=[{"role": "user", "content": prompt}], max_tokens=5
        )
        model = raw.headers["x-switchyard-model"]
        reason = raw.headers["x-switchyard-reason"]
        assert "router: p_as_good=" in reason and f"at target {TARGET:g}" in reason
        assert reason.endswith("-> premium") == (model == "premium")
        # The upstream call went where the header says.
        assert upstream.requests[-1].model == ("mock-model" if model == "premium" else "mock-b")
        chosen[i % 2 == 1].append(model)
    hard_premium = chosen[True].count("premium") / len(chosen[True])
    easy_premium = chosen[False].count("premium") / len(chosen[False])
    assert hard_premium > easy_premium + 0.3, (hard_premium, easy_premium)
    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert rec.route == "smart" and any(r.startswith("router: p_as_good=") for r in rec.reasons)


def test_premium_falls_back_to_cheap_when_it_fails(upstream: MockUpstream, gateway_factory, artifact: Path) -> None:  # type: ignore[no-untyped-def]
    from switchyard.testing import Fault

    gw = gateway_factory(route_config(upstream, artifact, target_quality=1.0))
    upstream.script([Fault.status(500)] * 4, model="mock-model")
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    hard = next(p for i, p in enumerate(synthetic_table(n=10, seed=9).prompts) if i % 2 == 1)
    raw = client.chat.completions.with_raw_response.create(model="smart", messages=[{"role": "user", "content": hard}])
    assert raw.headers["x-switchyard-model"] == "cheap"  # the router's pick failed; the route fell back


def test_router_route_needs_an_artifact(tmp_path: Path, upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="strategy router needs `router`"):
        RoutePolicy(strategy="router")
    with pytest.raises(ConfigError, match="does not exist"):
        gateway_factory(route_config(upstream, tmp_path / "nowhere"))


def test_relative_artifact_path_is_resolved_against_the_config_file(tmp_path: Path) -> None:
    from switchyard.config import load_config

    path = tmp_path / "switchyard.yaml"
    path.write_text(
        "models:\n"
        "  - {name: a, provider: openai, base_url: 'http://127.0.0.1:9/v1', locality: us}\n"
        "  - {name: b, provider: openai, base_url: 'http://127.0.0.1:9/v1', locality: us}\n"
        "routes:\n"
        "  - {name: r, models: [a, b], policy: {strategy: router, router: routers/chat}}\n"
    )
    cfg = load_config(path)
    assert cfg.routes[0].policy.router == str(tmp_path / "routers" / "chat")
