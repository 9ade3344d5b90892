"""Budgets through the real gateway: atomic under concurrency (streams included), 429 with the reset
time, or a downgrade to cheaper candidates per route."""

from __future__ import annotations

import openai
import pytest

from switchyard.budgets import Budgets, Estimate, MemoryCounters, window_bounds
from switchyard.config import BudgetConfig, GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.errors import RateLimited
from switchyard.keys import create_key
from switchyard.testing import Fault, MockUpstream
from switchyard.types import Principal
from tests.server.configs import openai_model
from tests.streams import concurrent_posts, concurrent_streams


def test_extend_is_all_or_nothing_and_settle_replaces_the_whole_reservation() -> None:
    b = Budgets([BudgetConfig(team="t", usd_per_day=1.0, tokens_per_minute=100)], MemoryCounters())
    p = Principal(key_id="k", team="t")
    r = b.reserve(p, Estimate(cost=0.4, tokens=40))
    b.extend(r, Estimate(cost=0.4, tokens=40))  # a second try of the same call
    with pytest.raises(RateLimited):
        b.extend(r, Estimate(cost=0.1, tokens=40))  # tokens would pass 100: nothing is taken
    other = b.reserve(p, Estimate(cost=0.2, tokens=20))  # what is left
    b.settle(r, cost=0.5, tokens=50)  # both tries together cost this
    b.settle(other, cost=0.2, tokens=20)
    used = {u.limit_name: u.used for u in b.current_use()}
    assert used["usd_per_day"] == pytest.approx(0.7) and used["tokens_per_minute"] == 70


def test_reserve_settle_and_windows() -> None:
    clock = [1_700_000_000.0]
    b = Budgets([BudgetConfig(team="t", usd_per_day=1.0, requests_per_minute=3)], MemoryCounters(), lambda: clock[0])
    p = Principal(key_id="k", team="t")
    r1 = b.reserve(p, Estimate(cost=0.6, tokens=10))
    assert not b.fits(p, Estimate(cost=0.6, tokens=10))  # 0.6 reserved + 0.6 > 1.0
    b.settle(r1, cost=0.1, tokens=5)  # the call was cheaper than feared
    b.reserve(p, Estimate(cost=0.6, tokens=10))
    b.reserve(p, Estimate(cost=0.1, tokens=10))
    with pytest.raises(RateLimited) as info:  # the 4th request in the minute
        b.reserve(p, Estimate(cost=0.0, tokens=1))
    assert info.value.status == 429 and int(info.value.headers["retry-after"]) <= 60
    clock[0] += 60  # a new minute: requests reset, the day's spend does not
    with pytest.raises(RateLimited):
        b.reserve(p, Estimate(cost=0.5, tokens=1))
    assert b.applicable(Principal(key_id="admin", team="admin", is_admin=True)) == []
    assert window_bounds("month", 1_700_000_000.0)[0] == "2023-11"


@pytest.fixture
def budget_gw(upstream: MockUpstream, gateway_factory, counters_at):  # type: ignore[no-untyped-def]
    def make(**policy):  # type: ignore[no-untyped-def]
        cfg = GatewayConfig(
            models=[
                openai_model("premium", upstream.url, price=Price(input=1000, output=1000)),
                openai_model("cheap", upstream.url, upstream_model="mock-b", price=Price(input=10, output=10)),
            ],
            routes=[RouteConfig(name="auto", models=["premium", "cheap"], policy=RoutePolicy(**policy))],
            budgets=[BudgetConfig(team="small", usd_per_day=0.5)],
        )
        gw = gateway_factory(cfg, **counters_at)
        _, secret = create_key(gw.gateway.store, "small")
        return gw, secret

    return make


def test_concurrent_streams_never_overshoot_the_budget(budget_gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    gw, secret = budget_gw()
    upstream.set_default(Fault.slow_stream(0.01))
    statuses = concurrent_streams([gw.v1], secret)
    assert set(statuses) <= {200, 429} and statuses.count(200) > 0 and statuses.count(429) > 0
    gw.flush()
    rows = [r for r in gw.ledger().recent(500) if r.team == "small" and r.status == 200]
    assert len(rows) == statuses.count(200)
    spent = sum(r.cost for r in rows)
    assert spent <= 0.5 + 1e-12, spent  # zero overshoot (the tolerance is float rounding only)


def test_limit_gives_429_with_reset_or_downgrades(budget_gw) -> None:  # type: ignore[no-untyped-def]
    gw, secret = budget_gw()
    c = openai.OpenAI(base_url=gw.v1, api_key=secret, max_retries=0)
    big = [{"role": "user", "content": "word " * 200}]
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model="auto", messages=big, max_tokens=400)  # type: ignore[arg-type]
    assert "resets in" in str(info.value) and int(info.value.response.headers["retry-after"]) > 0

    gw2, secret2 = budget_gw(on_limit="downgrade")
    c2 = openai.OpenAI(base_url=gw2.v1, api_key=secret2, max_retries=0)
    raw = c2.chat.completions.with_raw_response.create(model="auto", messages=big, max_tokens=400)  # type: ignore[arg-type]
    assert raw.headers["x-switchyard-model"] == "cheap"
    assert "budget: downgraded past premium" in raw.headers["x-switchyard-reason"]


def test_concurrent_streams_never_pass_tokens_per_minute(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[openai_model("premium", upstream.url, price=Price(input=1, output=1))],
        routes=[RouteConfig(name="auto", models=["premium"])],
        budgets=[BudgetConfig(team="small", tokens_per_minute=600)],
    )
    gw = gateway_factory(cfg)
    _, secret = create_key(gw.gateway.store, "small")
    upstream.set_default(Fault.slow_stream(0.01))
    statuses = concurrent_streams([gw.v1], secret, n=60)
    assert set(statuses) <= {200, 429} and statuses.count(200) > 0 and statuses.count(429) > 0
    gw.flush()
    rows = [r for r in gw.ledger().recent(500) if r.team == "small" and r.status == 200]
    by_minute: dict[int, int] = {}
    for r in rows:
        by_minute[int(r.ts // 60)] = by_minute.get(int(r.ts // 60), 0) + r.input_tokens + r.output_tokens
    assert max(by_minute.values()) <= 600, by_minute


def test_a_cascade_that_pays_for_several_answers_never_overshoots(
    upstream: MockUpstream, gateway_factory, counters_at
) -> None:  # type: ignore[no-untyped-def]
    """A cascade reserved one answer's worst case and paid for two (the cheap answer the verifier refused,
    then the premium one): now it extends its reservation before escalating, or stops with 429."""
    cfg = GatewayConfig(
        models=[
            openai_model("cheap", upstream.url, upstream_model="mock-b", price=Price(input=300, output=300)),
            openai_model("premium", upstream.url, price=Price(input=1000, output=1000)),
        ],
        routes=[RouteConfig(name="auto", models=["cheap", "premium"], policy=RoutePolicy(strategy="cascade"))],
        budgets=[BudgetConfig(team="small", usd_per_day=0.5)],
    )
    gw = gateway_factory(cfg, **counters_at)
    _, secret = create_key(gw.gateway.store, "small")
    upstream.set_default(Fault.ok("not json at all"), model="mock-b")  # the verifier refuses it
    upstream.set_default(Fault.ok('{"answer": 42}'), model="mock-model")
    body = {
        "model": "auto",
        "max_tokens": 20,
        "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": "answer in JSON"}],
    }
    statuses = concurrent_posts(gw.v1, secret, body, n=40)
    assert set(statuses) <= {200, 429} and statuses.count(200) > 0 and statuses.count(429) > 0
    gw.flush()
    rows = [r for r in gw.ledger().recent(500) if r.team == "small"]
    assert all(len(r.attempts) == 2 for r in rows if r.status == 200)  # each paid for two answers
    spent = sum(r.cost for r in rows)
    assert spent <= 0.5 + 1e-12, spent
