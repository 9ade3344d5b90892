"""RBAC through the real gateway: teams limited to some routes and models get 403 naming what they
asked for; the ledger keeps the decision trail and the counterfactual cost."""

from __future__ import annotations

import openai
import pytest

from switchyard.config import AccessConfig, GatewayConfig, RouteConfig, TeamConfig
from switchyard.keys import create_key
from switchyard.policies.access import may
from switchyard.testing import MockUpstream
from switchyard.types import Principal
from tests.server.configs import openai_model

MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[
            openai_model("cheap", upstream.url, price={"input": 0.5, "output": 1.0}),
            openai_model("premium", upstream.url, price={"input": 10.0, "output": 30.0}),
        ],
        routes=[RouteConfig(name="auto", models=["premium", "cheap"]), RouteConfig(name="other", models=["cheap"])],
        access=AccessConfig(
            teams=[
                TeamConfig(name="research", models=["*"], routes=["auto"]),
                TeamConfig(name="support", models=["cheap"], routes=["auto"]),
            ]
        ),
    )
    return gateway_factory(cfg)


def client(gw, team: str) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    _, secret = create_key(gw.gateway.store, team)
    return openai.OpenAI(base_url=gw.v1, api_key=secret, max_retries=0)


def test_team_limited_to_some_models_is_routed_within_them(gw) -> None:  # type: ignore[no-untyped-def]
    raw = client(gw, "support").chat.completions.with_raw_response.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert raw.headers["x-switchyard-model"] == "cheap"
    assert "access: support may not use premium" in raw.headers["x-switchyard-reason"]
    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert rec.served_model == "cheap" and rec.reasons == ["access: support may not use premium"]
    # The counterfactual is the route's premium model, for the same tokens.
    assert rec.counterfactual_cost == pytest.approx((rec.input_tokens * 10 + rec.output_tokens * 30) / 1e6)
    assert rec.counterfactual_cost > rec.cost > 0


@pytest.mark.parametrize(
    ("team", "model", "fragment"),
    [
        ("support", "premium", "the model 'premium'"),
        ("research", "other", "the route 'other'"),
        ("marketing", "auto", "team 'marketing'"),
    ],
)
def test_denied_calls_get_403_naming_the_model_or_route(gw, upstream: MockUpstream, team, model, fragment) -> None:  # type: ignore[no-untyped-def]
    before = len(upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(gw, team).chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert len(upstream.requests) == before  # nothing was sent


def test_admin_actions_by_role() -> None:
    access = AccessConfig(
        teams=[TeamConfig(name="ops", roles=["viewer"])], roles={"admin": ["*"], "viewer": ["usage:read"]}
    )
    viewer = Principal(key_id="k", team="ops")
    assert may(access, viewer, "usage:read") and not may(access, viewer, "keys:create")
    assert may(access, Principal(key_id="k2", team="x", roles=("admin",)), "keys:create")


def test_models_lists_only_what_the_team_may_call(gw) -> None:  # type: ignore[no-untyped-def]
    """/v1/models named every model, route and locality to any key; now a team sees what it may call."""
    listed = {m.id for m in client(gw, "support").models.list()}
    assert listed == {"cheap", "auto"}
    assert {m.id for m in client(gw, "research").models.list()} == {"cheap", "premium", "auto"}
    assert {m.id for m in client(gw, "marketing").models.list()} == set()  # not a listed team (deny)
