"""The agreement verifier of a cascade, through the real server with the openai SDK, in front of a real
loopback upstream scripted per model: two cheap candidates asked at once, the premium model only on a
disagreement; every answer paid for is an attempt on the one ledger record; budgets never overshot."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from switchyard.budgets import Estimate
from switchyard.config import BudgetConfig, GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.keys import create_key
from switchyard.policies.budget import chat_prompt_bound
from switchyard.testing import Fault, MockUpstream
from switchyard.types import ChatRequest
from tests.conftest import ADMIN_KEY
from tests.server.configs import openai_model
from tests.streams import concurrent_posts

MODELS = ("cheap-a", "cheap-b", "premium")
PRICES = {
    "cheap-a": Price(input=1, output=2),
    "cheap-b": Price(input=3, output=6),
    "premium": Price(input=30, output=60),
}


@pytest.fixture
def up() -> Iterator[MockUpstream]:
    with MockUpstream(models=MODELS) as upstream:
        yield upstream


def agreement_config(
    upstream: MockUpstream,
    policy: dict[str, Any],
    prices: dict[str, Price] = PRICES,
    budgets: list[BudgetConfig] | None = None,
) -> GatewayConfig:
    """Route "vote": the three models (listed premium first: the cascade orders them by price)."""
    return GatewayConfig(
        models=[openai_model(m, upstream.url, upstream_model=m, price=prices[m]) for m in MODELS],
        routes=[
            RouteConfig(
                name="vote",
                models=["premium", "cheap-b", "cheap-a"],
                policy=RoutePolicy.model_validate({"strategy": "cascade", **policy}),
            )
        ],
        budgets=budgets or [],
    )


def ask(gw: Any, content: str = "Which one?", key: str = ADMIN_KEY, **kw: Any) -> Any:
    c = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    return c.chat.completions.with_raw_response.create(
        model="vote", messages=[{"role": "user", "content": content}], **kw
    )


def called(upstream: MockUpstream) -> list[str]:
    return sorted(r.model or "" for r in upstream.requests)


def record(gw: Any, raw: Any) -> Any:
    gw.flush()
    return gw.ledger().get(raw.headers["x-request-id"])


def test_agreement_serves_the_cheapest_answer_and_never_calls_premium(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"agreement": {"compare": "choice"}}))
    up.script([Fault.ok("The answer is B")], model="cheap-a")
    up.script([Fault.ok("(b) because the others are wrong")], model="cheap-b")
    raw = ask(gw)
    assert raw.parse().choices[0].message.content == "The answer is B"  # the cheapest agreeing answer
    assert raw.headers["x-switchyard-model"] == "cheap-a"
    assert "cascade: agreement 2/2 on 'B' -> cheap-a" in raw.headers["x-switchyard-reason"]
    assert raw.headers["x-switchyard-fallbacks"] == "cheap-a,cheap-b"  # both were asked
    assert called(up) == ["cheap-a", "cheap-b"]
    rec = record(gw, raw)
    assert rec.served_model == "cheap-a" and rec.status == 200
    assert sorted((a.model, a.status) for a in rec.attempts) == [("cheap-a", "ok"), ("cheap-b", "ok")]
    assert all(a.cost > 0 and a.input_tokens > 0 and a.output_tokens > 0 for a in rec.attempts)
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert any(r.startswith("cascade: agreement 2/2") for r in rec.reasons)


def test_disagreement_escalates_and_every_answer_is_paid(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"agreement": {"compare": "choice"}}))
    up.script([Fault.ok("The answer is B")], model="cheap-a")
    up.script([Fault.ok("Answer: C")], model="cheap-b")
    up.script([Fault.ok("It is D.")], model="premium")
    raw = ask(gw)
    assert raw.parse().choices[0].message.content == "It is D."
    assert raw.headers["x-switchyard-model"] == "premium"
    reason = raw.headers["x-switchyard-reason"]
    assert "cascade: disagreement 1/2 (cheap-a 'B', cheap-b 'C') -> premium" in reason
    assert raw.headers["x-switchyard-fallbacks"] == "cheap-a,cheap-b,premium"
    assert called(up) == ["cheap-a", "cheap-b", "premium"]
    rec = record(gw, raw)
    assert rec.served_model == "premium"
    by_model = {a.model: a for a in rec.attempts}
    assert set(by_model) == set(MODELS) and all(a.status == "ok" and a.cost > 0 for a in rec.attempts)
    assert rec.attempts[-1].model == "premium"  # the escalation comes after the concurrent pair
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert rec.input_tokens == by_model["premium"].input_tokens  # the served answer's usage
    # Each attempt is priced at its own model's rates.
    for a in rec.attempts:
        p = PRICES[a.model]
        assert a.cost == pytest.approx((a.input_tokens * p.input + a.output_tokens * p.output) / 1e6)


def test_a_failing_cheap_candidate_counts_as_no_agreement(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"verifier": "agreement"}))
    up.script([Fault.ok("Paris")], model="cheap-a")
    up.set_default(Fault.status(500), model="cheap-b")  # both of its tries fail
    up.script([Fault.ok("Paris, France")], model="premium")
    raw = ask(gw)
    assert raw.headers["x-switchyard-model"] == "premium"
    assert "(cheap-a answer 1, cheap-b failed (UpstreamStatusError)) -> premium" in raw.headers["x-switchyard-reason"]
    rec = record(gw, raw)
    assert [(a.model, a.status) for a in rec.attempts if a.model == "cheap-b"] == [("cheap-b", "error")] * 2
    assert all(a.cost == 0 for a in rec.attempts if a.status == "error")  # an error is not billed
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts)) and rec.cost > 0


def test_normalized_text_is_the_default_comparison(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"verifier": "agreement"}))
    up.script([Fault.ok("The capital is Paris.")], model="cheap-a")
    up.script([Fault.ok("the  capital is PARIS")], model="cheap-b")
    raw = ask(gw)
    assert raw.headers["x-switchyard-model"] == "cheap-a"
    assert "cascade: agreement 2/2 (normalized) -> cheap-a" in raw.headers["x-switchyard-reason"]
    assert "Paris" not in raw.headers["x-switchyard-reason"]  # free text stays out of the trail


def test_final_numbers_agree(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"agreement": {"compare": "number"}}))
    up.script([Fault.ok("3 boxes of 14 make 42")], model="cheap-a")
    up.script([Fault.ok("The total is 42.0 apples.")], model="cheap-b")
    raw = ask(gw)
    assert raw.headers["x-switchyard-model"] == "cheap-a" and called(up) == ["cheap-a", "cheap-b"]


def test_tool_calls_agree_on_name_and_json_equal_arguments(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    gw = gateway_factory(agreement_config(up, {"verifier": "agreement"}))
    up.script([Fault.tool_call("weather", {"city": "Oslo", "days": 2})], model="cheap-a")
    up.script([Fault.tool_call("weather", {"days": 2.0, "city": "Oslo"})], model="cheap-b")
    raw = ask(gw, tools=tools)
    assert raw.headers["x-switchyard-model"] == "cheap-a"
    assert "agreement 2/2 on weather() -> cheap-a" in raw.headers["x-switchyard-reason"]
    call = raw.parse().choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "Oslo", "days": 2}

    up.reset()
    up.script([Fault.tool_call("weather", {"city": "Oslo"})], model="cheap-a")
    up.script([Fault.tool_call("weather", {"city": "Bergen"})], model="cheap-b")
    raw = ask(gw, tools=tools)
    assert raw.headers["x-switchyard-model"] == "premium"
    assert "(cheap-a weather(), cheap-b weather()) -> premium" in raw.headers["x-switchyard-reason"]


def test_an_answer_the_checks_refuse_does_not_count(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"verifier": "agreement"}))
    up.script([Fault.ok("not json")], model="cheap-a")
    up.script([Fault.ok("not json")], model="cheap-b")
    up.script([Fault.ok('{"a": 1}')], model="premium")
    raw = ask(gw, response_format={"type": "json_object"})
    assert raw.headers["x-switchyard-model"] == "premium"
    assert "cheap-a refused by the checks" in raw.headers["x-switchyard-reason"]


def test_majority_of_three_with_four_candidates(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    names = ("c1", "c2", "c3", "top")
    with MockUpstream(models=names) as upstream:
        prices = [Price(input=1 + i, output=1 + i) for i in range(4)]
        cfg = GatewayConfig(
            models=[
                openai_model(n, upstream.url, upstream_model=n, price=p) for n, p in zip(names, prices, strict=True)
            ],
            routes=[
                RouteConfig(
                    name="vote",
                    models=list(reversed(names)),
                    policy=RoutePolicy.model_validate(
                        {"strategy": "cascade", "agreement": {"quorum": 3, "min_agree": 2, "compare": "choice"}}
                    ),
                )
            ],
        )
        gw = gateway_factory(cfg)
        upstream.script([Fault.ok("A")], model="c1")
        upstream.script([Fault.ok("The answer is C")], model="c2")
        upstream.script([Fault.ok("I'd go with C")], model="c3")
        raw = ask(gw)
        assert raw.headers["x-switchyard-model"] == "c2"  # the cheapest of the two that agree
        assert "cascade: agreement 2/3 on 'C' -> c2" in raw.headers["x-switchyard-reason"]
        assert sorted(r.model or "" for r in upstream.requests) == ["c1", "c2", "c3"]


def test_streamed_request_is_answered_whole_then_replayed(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(agreement_config(up, {"agreement": {"compare": "choice"}}))
    up.script([Fault.ok("B")], model="cheap-a")
    up.script([Fault.ok("C")], model="cheap-b")
    up.script([Fault.ok("The answer is D")], model="premium")
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    with c.chat.completions.with_streaming_response.create(
        model="vote",
        messages=[{"role": "user", "content": "Which one?"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        assert raw.headers["x-switchyard-model"] == "premium"
        assert "disagreement" in raw.headers["x-switchyard-reason"]
        chunks = list(raw.parse())
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "The answer is D"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [r.body["stream"] for r in up.requests] == [False, False, False]


def test_a_budget_for_the_pair_but_not_the_escalation_is_never_overshot(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The reservation (the priciest candidate's worst case) covers the concurrent pair; the escalation
    would add what the pair cost on top of the premium's worst case: 429 before premium is called."""
    prices = {"cheap-a": Price(input=300, output=300), "cheap-b": Price(input=300, output=300)}
    prices["premium"] = Price(input=1000, output=1000)
    content, max_tokens = "Which one?", 20
    req = ChatRequest.model_validate({"model": "vote", "messages": [{"role": "user", "content": content}]})
    premium_worst = Estimate(cost=(chat_prompt_bound(req) + max_tokens) * 1000 / 1e6, tokens=0).cost
    limit = premium_worst + 1e-4  # less than any pair of answers costs (>= 2 x 2 tokens x $300/M)
    cfg = agreement_config(
        up, {"agreement": {"compare": "choice"}}, prices, [BudgetConfig(team="t", usd_per_day=limit)]
    )
    gw = gateway_factory(cfg)
    _, secret = create_key(gw.gateway.store, "t")
    up.script([Fault.ok("B")], model="cheap-a")
    up.script([Fault.ok("C")], model="cheap-b")
    with pytest.raises(openai.RateLimitError):
        ask(gw, content, key=secret, max_tokens=max_tokens)
    assert called(up) == ["cheap-a", "cheap-b"]  # premium never called
    gw.flush()
    (rec,) = [r for r in gw.ledger().recent(10) if r.team == "t"]
    assert rec.status == 429 and sorted(a.model for a in rec.attempts) == ["cheap-a", "cheap-b"]
    assert all(a.cost > 0 for a in rec.attempts)
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert rec.cost <= limit
    assert "disagreement" in " ".join(rec.reasons)


def test_concurrent_agreement_cascades_never_overshoot(up: MockUpstream, gateway_factory, counters_at) -> None:  # type: ignore[no-untyped-def]
    prices = {m: Price(input=300, output=300) for m in ("cheap-a", "cheap-b")}
    prices["premium"] = Price(input=1000, output=1000)
    cfg = agreement_config(up, {"agreement": {"compare": "choice"}}, prices, [BudgetConfig(team="t", usd_per_day=0.3)])
    gw = gateway_factory(cfg, **counters_at)
    _, secret = create_key(gw.gateway.store, "t")
    up.set_default(Fault.ok("B"), model="cheap-a")
    up.set_default(Fault.ok("C"), model="cheap-b")  # always a disagreement: three answers paid per request
    up.set_default(Fault.ok("D"), model="premium")
    body = {"model": "vote", "max_tokens": 20, "messages": [{"role": "user", "content": "Which one?"}]}
    statuses = concurrent_posts(gw.v1, secret, body, n=40)
    assert set(statuses) <= {200, 429} and statuses.count(200) > 0 and statuses.count(429) > 0
    gw.flush()
    rows = [r for r in gw.ledger().recent(500) if r.team == "t"]
    assert all(len(r.attempts) == 3 for r in rows if r.status == 200)
    spent = sum(r.cost for r in rows)
    assert spent <= 0.3 + 1e-12, spent  # zero overshoot (the tolerance is float rounding only)


def test_hanging_up_while_the_pair_answers_bills_both_prompts(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The caller leaves while both cheap candidates have the request: both tries are given up, each
    charged its counted prompt (estimated); the record is a 499 and the budget is charged the same."""
    cfg = agreement_config(up, {"verifier": "agreement"}, budgets=[BudgetConfig(team="t", usd_per_day=100.0)])
    gw = gateway_factory(cfg)
    _, secret = create_key(gw.gateway.store, "t")
    up.set_default(Fault.ok("slow", delay=3.0))
    payload = json.dumps({"model": "vote", "messages": [{"role": "user", "content": "Which one, please?"}]}).encode()
    host, port = gw.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {secret}\r\ncontent-length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        assert up.wait_until(lambda u: len(u.requests) >= 2, timeout=10)
    assert up.wait_until(lambda u: u.client_disconnects >= 2, timeout=5)
    deadline = time.monotonic() + 5  # the record is queued once both cancelled tries have wound up
    while not gw.ledger().recent(10) and time.monotonic() < deadline:
        gw.flush()
    (rec,) = gw.ledger().recent(10)
    assert rec.status == 499 and called(up) == ["cheap-a", "cheap-b"]
    assert sorted(a.model for a in rec.attempts) == ["cheap-a", "cheap-b"]
    assert all(a.input_tokens > 0 and a.cost > 0 for a in rec.attempts) and rec.tokens_estimated
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    used = next(u.used for u in gw.gateway.budgets.current_use() if u.limit_name == "usd_per_day")
    assert used == pytest.approx(rec.cost)
