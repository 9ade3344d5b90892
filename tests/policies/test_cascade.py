"""Cascade routes through the real gateway: cheapest first, escalate when the verifier refuses the
answer; every attempt (and what it cost) in the ledger."""

from __future__ import annotations

import json

import openai
import pytest

from switchyard.config import GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.testing import Fault, MockUpstream
from switchyard.types import ChatRequest, ChatResponse, FunctionCall, ToolCall
from switchyard.verifiers import structured_output, tool_arguments
from tests.conftest import ADMIN_KEY
from tests.server.configs import openai_model

JSON_FMT = {"type": "json_object"}


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[
            openai_model("premium", upstream.url, price=Price(input=10, output=30)),
            openai_model("cheap", upstream.url, upstream_model="mock-b", price=Price(input=0.5, output=1)),
        ],
        routes=[RouteConfig(name="smart", models=["premium", "cheap"], policy=RoutePolicy(strategy="cascade"))],
    )
    return gateway_factory(cfg)


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
    assert tool_arguments(request(tools=tools, tool_choice="required"), answer("text")) == "a tool call was required"
    assert tool_arguments(request(tools=tools), answer("text")) is None
