"""Cascade routes through the real gateway: cheapest first, escalate when the verifier refuses the
answer; every attempt (and what it cost) in the ledger."""

from __future__ import annotations

import json

import openai
import pytest

from switchyard.config import GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.testing import Fault, MockUpstream
from switchyard.types import ChatRequest, ChatResponse, FunctionCall, ToolCall
from switchyard.verifiers import confidence, mean_token_probability, structured_output, tool_arguments
from tests.conftest import ADMIN_KEY
from tests.server.configs import openai_model

JSON_FMT = {"type": "json_object"}


def cascade_config(upstream: MockUpstream, **policy: object) -> GatewayConfig:
    """Route "smart": a premium and a cheap model on one loopback upstream, as a cascade."""
    return GatewayConfig(
        models=[
            openai_model("premium", upstream.url, price=Price(input=10, output=30)),
            openai_model("cheap", upstream.url, upstream_model="mock-b", price=Price(input=0.5, output=1)),
        ],
        routes=[
            RouteConfig(
                name="smart",
                models=["premium", "cheap"],
                policy=RoutePolicy.model_validate({"strategy": "cascade", **policy}),
            )
        ],
    )


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    return gateway_factory(cascade_config(upstream))


def ask(gw, **kw):  # type: ignore[no-untyped-def]
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    return c.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "give me json"}], **kw
    )


def test_accepted_cheap_answer_never_touches_premium(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok('{"answer": 42}')], model="mock-b")
    raw = ask(gw, response_format=JSON_FMT)
    assert raw.headers["x-switchyard-model"] == "cheap"
    assert "cascade: cheap -> premium" in raw.headers["x-switchyard-reason"]
    assert {r.model for r in upstream.requests} == {"mock-b"}


def test_refused_answer_escalates_and_both_calls_are_paid(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok("not json at all")], model="mock-b")
    upstream.script([Fault.ok('{"answer": 42}')], model="mock-model")
    raw = ask(gw, response_format=JSON_FMT)
    assert raw.headers["x-switchyard-model"] == "premium"
    assert json.loads(raw.parse().choices[0].message.content) == {"answer": 42}
    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert [(a.model, a.status, a.error_class) for a in rec.attempts] == [
        ("cheap", "error", "VerifierRejected"),
        ("premium", "ok", None),
    ]
    cheap, premium = rec.attempts
    assert cheap.input_tokens > 0 and cheap.cost > 0 and premium.cost > 0
    assert rec.cost == pytest.approx(cheap.cost + premium.cost)


def test_streamed_request_is_verified_before_it_streams(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok("not json at all")], model="mock-b")
    upstream.script([Fault.ok('{"answer": 42}')], model="mock-model")
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    with c.chat.completions.with_streaming_response.create(
        model="smart",
        messages=[{"role": "user", "content": "give me json"}],
        response_format=JSON_FMT,
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        assert raw.headers["x-switchyard-model"] == "premium"
        chunks = list(raw.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert json.loads(text) == {"answer": 42}
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(r.body["stream"] is False for r in upstream.requests)  # judged whole, then streamed


def test_streamed_tool_call_on_a_cascade(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    tools = [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}]
    upstream.script([Fault.tool_call("get", {"city": "Oslo"})], model="mock-b")
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    stream = c.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "weather?"}], tools=tools, stream=True
    )
    calls = [tc for ch in stream if ch.choices for tc in ch.choices[0].delta.tool_calls or ()]
    assert [(tc.function.name, json.loads(tc.function.arguments)) for tc in calls] == [("get", {"city": "Oslo"})]


def test_unverifiable_stream_on_a_cascade_streams_directly(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    stream = c.chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi there"}], stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert [r.body["stream"] for r in upstream.requests] == [True]


@pytest.fixture
def confident_gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    return gateway_factory(cascade_config(upstream, min_confidence=0.6))


def test_unsure_cheap_answer_escalates_on_logprobs(confident_gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok("perhaps", logprob=-1.5)], model="mock-b")  # p = 0.22 per token
    raw = ask(confident_gw)
    assert raw.headers["x-switchyard-model"] == "premium"
    cheap_call, premium_call = upstream.requests
    assert premium_call.model == "mock-model"
    assert cheap_call.body["logprobs"] is True  # asked for the verifier's sake...
    assert raw.parse().choices[0].logprobs is None  # ...and not passed to a client that did not ask
    confident_gw.flush()
    rec = confident_gw.ledger().get(raw.headers["x-request-id"])
    assert [(a.model, a.error_class) for a in rec.attempts] == [("cheap", "VerifierRejected"), ("premium", None)]


def test_sure_cheap_answer_is_kept_and_logprobs_reach_a_client_that_asked(confident_gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok("forty two", logprob=-0.1)], model="mock-b")  # p = 0.90 per token
    raw = ask(confident_gw, logprobs=True)
    assert raw.headers["x-switchyard-model"] == "cheap"
    tokens = raw.parse().choices[0].logprobs.content
    assert [t.logprob for t in tokens] == [-0.1, -0.1] and {r.model for r in upstream.requests} == {"mock-b"}


def test_confidence_verifier() -> None:
    def with_logprobs(*values: float) -> ChatResponse:
        resp = answer("x")
        resp.logprobs = {"content": [{"token": "t", "logprob": v} for v in values]}
        return resp

    assert mean_token_probability(with_logprobs(0.0, 0.0)) == pytest.approx(1.0)
    assert mean_token_probability(answer("no logprobs")) is None
    check = confidence(0.5)
    assert check(request(), with_logprobs(-0.1, -0.2)) is None
    assert "0.14 < 0.5" in (check(request(), with_logprobs(-2.0, -2.0)) or "")
    assert check(request(), answer("upstream without logprobs")) is None  # abstains


def request(**kw: object) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}], **kw})


def answer(content: str | None = None, calls: list[tuple[str, str]] | None = None) -> ChatResponse:
    tool_calls = [
        ToolCall(id=f"c{i}", function=FunctionCall(name=n, arguments=a)) for i, (n, a) in enumerate(calls or [])
    ]
    return ChatResponse("id", "m", 0, content, "stop", tool_calls or None)


def test_structured_output_verifier() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert structured_output(request(response_format=fmt), answer('{"n": 1}')) is None
    assert "schema" in (structured_output(request(response_format=fmt), answer('{"n": "one"}')) or "")
    assert structured_output(request(response_format=JSON_FMT), answer("[1]")) == "the answer is not a JSON object"
    assert structured_output(request(), answer("free text")) is None  # nothing to judge


def test_tool_arguments_verifier() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    assert tool_arguments(request(tools=tools), answer(calls=[("get", '{"city": "Paris"}')])) is None
    assert "schema" in (tool_arguments(request(tools=tools), answer(calls=[("get", "{}")])) or "")
    assert "unknown tool" in (tool_arguments(request(tools=tools), answer(calls=[("put", "{}")])) or "")
    assert "not valid JSON" in (tool_arguments(request(tools=tools), answer(calls=[("get", "{oops")])) or "")
    assert (
        tool_arguments(request(tools=tools, tool_choice="required"), answer("text"))
        == "a tool call was required and the answer made none"
    )
    assert tool_arguments(request(tools=tools), answer("text")) is None
