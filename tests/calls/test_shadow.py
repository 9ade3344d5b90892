"""Shadow traffic (``policy.shadow``): a sample of a route's live requests is asked again of a candidate
model in the background; both answers and the prompt are recorded in an eval run; the client receives only
the route's answer, never the shadow's, streamed or not, and never waits for or fails because of it. Off by
default; never for a team under zero retention."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from switchyard.config import AccessConfig, GatewayConfig, RouteConfig, RoutePolicy, ShadowConfig, TeamConfig
from switchyard.keys import create_key
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY, RunningGateway
from tests.server.configs import openai_model


@pytest.fixture
def upstream() -> Any:
    with MockUpstream(models=["up-prod", "up-cand"]) as up:
        up.set_default(Fault.ok("production answer"), model="up-prod")
        up.set_default(Fault.ok("candidate answer"), model="up-cand")
        yield up


def config(url: str, shadow: ShadowConfig | None, teams: list[TeamConfig] | None = None) -> GatewayConfig:
    return GatewayConfig(
        models=[openai_model("prod", url, "up-prod"), openai_model("cand", url, "up-cand")],
        routes=[RouteConfig(name="assist", models=["prod"], policy=RoutePolicy(shadow=shadow))],
        access=AccessConfig(teams=teams or []),
    )


def wait_for(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pred()


def cand_requests(upstream: MockUpstream) -> list[Any]:
    return [r for r in upstream.requests if r.body and r.body.get("model") == "up-cand"]


def test_the_client_gets_the_route_answer_and_the_candidate_is_recorded(
    upstream: MockUpstream, gateway_factory: Any
) -> None:
    gw: RunningGateway = gateway_factory(config(upstream.url, ShadowConfig(model="cand", sample=1.0)))
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    whole = client.chat.completions.create(model="assist", messages=[{"role": "user", "content": "q one"}])
    assert whole.choices[0].message.content == "production answer"
    streamed = client.chat.completions.create(
        model="assist", messages=[{"role": "user", "content": "q two"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == "production answer"
    wait_for(lambda: len(cand_requests(upstream)) == 2)
    shadow = gw.gateway.calls.shadow
    assert shadow is not None
    wait_for(lambda: shadow.pending() == 0)
    store = gw.ledger()
    run = store.find_eval_run("shadow-assist-cand")
    assert run is not None and run.kind == "shadow" and run.targets == ["assist", "cand"]
    results = store.eval_results(run.id)
    assert len(results) == 4
    by_target: dict[str, list[Any]] = {}
    for r in results:
        by_target.setdefault(r.target, []).append(r)
    assert sorted(r.answer for r in by_target["assist"]) == ["production answer"] * 2
    assert sorted(r.answer for r in by_target["cand"]) == ["candidate answer"] * 2
    prompts = sorted(r.extra["messages"][-1]["content"] for r in by_target["assist"])
    assert prompts == ["q one", "q two"]
    gw.flush()
    shadow_calls = [r for r in store.recent(100) if r.endpoint == "shadow"]
    assert len(shadow_calls) == 2 and all(r.eval_run == run.id and r.served_model == "cand" for r in shadow_calls)
    # each pair is keyed by the production call's ledger id
    assert {r.item_id for r in by_target["cand"]} == {r.request_id for r in by_target["assist"]}


def test_a_failing_or_slow_candidate_never_touches_the_client(upstream: MockUpstream, gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config(upstream.url, ShadowConfig(model="cand", sample=1.0, max_in_flight=1)))
    upstream.set_default(Fault.ok("candidate answer", delay=1.0), model="up-cand")
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    started = time.monotonic()
    for i in range(3):
        r = client.chat.completions.create(model="assist", messages=[{"role": "user", "content": f"q{i}"}])
        assert r.choices[0].message.content == "production answer"
    assert time.monotonic() - started < 1.0  # never waited for the slow candidate
    shadow = gw.gateway.calls.shadow
    assert shadow is not None and shadow.counts.sent == 1 and shadow.counts.skipped_busy == 2
    wait_for(lambda: shadow.pending() == 0)
    upstream.set_default(Fault.status(500), model="up-cand")
    r = client.chat.completions.create(model="assist", messages=[{"role": "user", "content": "q9"}])
    assert r.choices[0].message.content == "production answer"
    wait_for(lambda: shadow.pending() == 0)
    run = gw.ledger().find_eval_run("shadow-assist-cand")
    assert run is not None
    failed = [x for x in gw.ledger().eval_results(run.id) if x.target == "cand" and not x.answered]
    assert len(failed) == 1 and "UpstreamStatusError" in (failed[0].error or "")


def test_off_by_default_and_never_for_zero_retention(upstream: MockUpstream, gateway_factory: Any) -> None:
    gw: RunningGateway = gateway_factory(config(upstream.url, None))
    assert gw.gateway.calls.shadow is None
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    client.chat.completions.create(model="assist", messages=[{"role": "user", "content": "q"}])
    teams = [TeamConfig(name="vault", retention="zero"), TeamConfig(name="apps")]
    gw2: RunningGateway = gateway_factory(config(upstream.url, ShadowConfig(model="cand", sample=1.0), teams))
    store = gw2.ledger()
    _rec, vault_key = create_key(store, "vault")
    _rec, apps_key = create_key(store, "apps")
    for key in (vault_key, apps_key):
        r = openai.OpenAI(base_url=gw2.v1, api_key=key, max_retries=0).chat.completions.create(
            model="assist", messages=[{"role": "user", "content": f"from {key[:12]}"}]
        )
        assert r.choices[0].message.content == "production answer"
    wait_for(lambda: len(cand_requests(upstream)) == 1)
    shadow = gw2.gateway.calls.shadow
    assert shadow is not None
    wait_for(lambda: shadow.pending() == 0)
    run = store.find_eval_run("shadow-assist-cand")
    assert run is not None and run.team == "apps"
    assert {
        r.extra.get("messages", [{}])[-1].get("content") for r in store.eval_results(run.id) if r.target == "assist"
    } == {f"from {apps_key[:12]}"}
    assert len(cand_requests(upstream)) == 1  # the zero-retention team's request was never shadowed


def test_the_shadow_model_must_exist() -> None:
    with pytest.raises(ValueError, match=r"shadow\.model"):
        config("http://127.0.0.1:1", ShadowConfig(model="nope", sample=0.5))
