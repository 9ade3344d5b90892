"""Router routes through the real gateway: a router trained with the embedded embedding model picks the
cheap candidate for prompts it predicts the cheap model answers as well, the premium one otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# ---- the N-model router: three candidates, chosen per prompt -------------------------------------------

THREE_TARGET = 0.9


@pytest.fixture(scope="module")
def three_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from switchyard.routing.nrouter import fit_from_results
    from tests.routing.conftest import synthetic_results

    prompts, correct, costs, tokens = synthetic_results(300)
    router = fit_from_results(
        prompts, correct, costs, THREE_TARGET, output_tokens=tokens, encoder=LocalEncoder(),
        options=FitOptions(c_grid=(0.3, 1.0), embedding_gains=(3.0,), folds=5),
    )  # fmt: skip
    root = tmp_path_factory.mktemp("nrouter") / "artifact"
    router.save(root)
    return root


def three_config(url: str, artifact: Path, route_models: list[str], *extra: Any) -> GatewayConfig:
    from tests.routing.conftest import THREE_PRICES

    return GatewayConfig(
        models=[
            *(
                openai_model(name, url, upstream_model=f"up-{name}", price=Price(input=p_in, output=p_out))
                for name, (p_in, p_out) in THREE_PRICES.items()
            ),
            *extra,
        ],
        routes=[
            RouteConfig(
                name="smart",
                models=route_models,
                policy=RoutePolicy.model_validate(
                    {"strategy": "router", "router": str(artifact), "target_quality": THREE_TARGET}
                ),
            )
        ],
    )


def test_router_picks_among_three_models(gateway_factory, three_artifact: Path) -> None:  # type: ignore[no-untyped-def]
    from collections import Counter

    from tests.routing.conftest import difficulty, synthetic_results

    with MockUpstream(models=["up-small", "up-medium", "up-large"]) as up:
        gw = gateway_factory(three_config(up.url, three_artifact, ["large", "medium", "small"]))
        client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        chosen: dict[str, Counter[str]] = {"easy": Counter(), "middling": Counter(), "hard": Counter()}
        for i, prompt in enumerate(synthetic_results(45, seed=11)[0].values()):
            raw = client.chat.completions.with_raw_response.create(
                model="smart", messages=[{"role": "user", "content": prompt}], max_tokens=5
            )
            model = raw.headers["x-switchyard-model"]
            reason = raw.headers["x-switchyard-reason"]
            assert f"router: {model} (p=" in reason and f"at target {THREE_TARGET:g}" in reason, reason
            assert up.requests[-1].model == f"up-{model}"  # the call went where the header says
            chosen[difficulty(i)][model] += 1
        gw.flush()
        rec = gw.ledger().get(raw.headers["x-request-id"])
        assert rec.route == "smart" and any(r.startswith("router: ") for r in rec.reasons)
    assert chosen["easy"].most_common(1)[0][0] == "small", chosen
    assert chosen["middling"].most_common(1)[0][0] == "medium", chosen
    assert chosen["hard"].most_common(1)[0][0] == "large", chosen


def test_the_pick_falls_back_to_the_next_best(gateway_factory, three_artifact: Path) -> None:  # type: ignore[no-untyped-def]
    from switchyard.testing import Fault

    with MockUpstream(models=["up-small", "up-medium", "up-large"]) as up:
        gw = gateway_factory(three_config(up.url, three_artifact, ["large", "medium", "small"]))
        up.script([Fault.status(500)] * 4, model="up-large")
        client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="smart", messages=[{"role": "user", "content": "quantum entropy tensor ?"}]
        )
        assert raw.headers["x-switchyard-model"] == "medium"  # large failed; medium is next by utility


def test_models_the_artifact_does_not_know_come_last(gateway_factory, three_artifact: Path) -> None:  # type: ignore[no-untyped-def]
    with MockUpstream(models=["up-small", "up-medium", "up-large", "mock-model"]) as up:
        stranger = openai_model("stranger", up.url, price=Price(input=0.1, output=0.1))
        gw = gateway_factory(three_config(up.url, three_artifact, ["stranger", "large", "small"], stranger))
        client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="smart", messages=[{"role": "user", "content": "apple pear plum ?"}]
        )
        assert raw.headers["x-switchyard-model"] in ("small", "large")  # medium is not in the route
        assert "router: " in raw.headers["x-switchyard-reason"]
