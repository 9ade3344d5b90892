"""The output guard through the real server with the openai SDK, in front of a loopback upstream scripted
per model: each way a model fails a tool call or a JSON answer, streamed and not, is repaired (the same
model asked again with the problem and the schema), then escalated (the route's next candidate), then
refused with a clear 502; every answer paid for is an attempt on the one ledger record, with its verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.config import GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.store.base import RollupFilter
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY
from tests.server.configs import openai_model

MODELS = ("cheap", "premium")
PRICES = {"cheap": Price(input=1, output=2), "premium": Price(input=10, output=20)}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
GOOD = {"city": "Paris", "unit": "c"}


def call(name: str, arguments: str) -> Fault:
    """A tool call with exactly these (possibly malformed) arguments."""
    return replace(Fault(), tool_name=name, tool_arguments=arguments)


# The ways models fail a tool call, each with the kind the guard names it by.
FAILURES = {
    "wrong type": (call("get_weather", '{"city": 5}'), "arguments_schema"),
    "missing required": (call("get_weather", '{"unit": "c"}'), "arguments_schema"),
    "extra argument": (call("get_weather", '{"city": "Paris", "when": "now"}'), "arguments_schema"),
    "enum": (call("get_weather", '{"city": "Paris", "unit": "kelvin"}'), "arguments_schema"),
    "malformed json": (call("get_weather", '{"city": "Paris"'), "arguments_not_json"),
    "not an object": (call("get_weather", '["Paris"]'), "arguments_not_object"),
    "unknown function": (call("get_wether", '{"city": "Paris"}'), "unknown_tool"),
    "prose instead of a call": (Fault.ok("I would call the weather tool for Paris."), "missing_call"),
}


@pytest.fixture
def up() -> Iterator[MockUpstream]:
    with MockUpstream(models=MODELS) as upstream:
        yield upstream


def guard_config(upstream: MockUpstream, guard: dict[str, Any] | None = None, **model_kw: Any) -> GatewayConfig:
    policy = RoutePolicy.model_validate({"guard": guard} if guard is not None else {})
    return GatewayConfig(
        models=[
            openai_model(m, upstream.url, upstream_model=m, price=PRICES[m], **(model_kw if m == "cheap" else {}))
            for m in MODELS
        ],
        routes=[RouteConfig(name="agents", models=list(MODELS), policy=policy)],
    )


def client(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)


def ask_tool(gw: Any, *, tool_choice: Any = "required", **kw: Any) -> Any:
    return client(gw).chat.completions.with_raw_response.create(
        model="agents",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice=tool_choice,
        **kw,
    )


def streamed_tool(gw: Any, **kw: Any) -> tuple[Any, list[Any], dict[int, dict[str, str]]]:
    """A streamed tool call: the raw response, every chunk, and the calls the deltas assemble into."""
    raw = client(gw).chat.completions.with_raw_response.create(
        model="agents",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="required",
        stream=True,
        **kw,
    )
    chunks = list(raw.parse())
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            got = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            got["name"] += delta.function.name or ""
            got["arguments"] += delta.function.arguments or ""
    return raw, chunks, calls


def record(gw: Any, raw: Any) -> Any:
    gw.flush()
    return gw.ledger().get(raw.headers["x-request-id"])


def upstream_bodies(upstream: MockUpstream, model: str) -> list[Any]:
    return [r.body for r in upstream.requests if r.model == model]


@pytest.mark.parametrize("failure", list(FAILURES))
def test_each_failure_is_repaired_by_the_same_model(up: MockUpstream, gateway_factory, failure: str) -> None:  # type: ignore[no-untyped-def]
    fault, kind = FAILURES[failure]
    gw = gateway_factory(guard_config(up))
    up.script([fault, Fault.tool_call("get_weather", GOOD)], model="cheap")
    raw = ask_tool(gw)
    message = raw.parse().choices[0].message
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [("get_weather", GOOD)]
    assert raw.headers["x-switchyard-guard"] == "repaired"
    assert raw.headers["x-switchyard-model"] == "cheap"
    assert upstream_bodies(up, "premium") == []  # no escalation was needed
    # The repair asked the same model with the problem and the schema, after its own invalid answer.
    first, repair = upstream_bodies(up, "cheap")
    assert repair["messages"][: len(first["messages"])] == first["messages"]
    assistant, instruction = repair["messages"][-2:]
    assert assistant["role"] == "assistant" and instruction["role"] == "user"
    assert instruction["content"].startswith("Your previous answer was invalid:")
    assert json.dumps(WEATHER["function"]["parameters"]) in instruction["content"]
    assert "tool_choice" not in repair or repair["tool_choice"] == "required"  # not constrained: as asked
    rec = record(gw, raw)
    assert rec.guard == "repaired" and rec.status == 200
    assert [(a.model, a.check) for a in rec.attempts] == [("cheap", f"invalid: {kind}"), ("cheap", "valid")]
    assert rec.attempts[0].status == "error" and rec.attempts[0].error_class == "InvalidModelOutput"
    assert all(a.cost > 0 for a in rec.attempts)  # the refused answer was paid for too
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert f"guard: cheap {kind} -> repair" in rec.reasons


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_stream_never_shows_an_invalid_call(up: MockUpstream, gateway_factory, failure: str) -> None:  # type: ignore[no-untyped-def]
    fault, kind = FAILURES[failure]
    gw = gateway_factory(guard_config(up))
    up.script([fault, Fault.tool_call("get_weather", GOOD)], model="cheap")
    raw, chunks, calls = streamed_tool(gw)
    # Only the valid call reached the client; the invalid answer's text (if any) streamed as it came.
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [("get_weather", GOOD)]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    rec = record(gw, raw)
    assert rec.guard == "repaired" and rec.stream and rec.status == 200
    assert [(a.model, a.check) for a in rec.attempts] == [("cheap", f"invalid: {kind}"), ("cheap", "valid")]
    assert all(a.cost > 0 for a in rec.attempts)
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))


def test_a_valid_streamed_call_is_released_whole(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    up.script([Fault.tool_call("get_weather", GOOD)], model="cheap")
    raw, _chunks, calls = streamed_tool(gw)
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [("get_weather", GOOD)]
    rec = record(gw, raw)
    assert rec.guard == "valid" and [a.check for a in rec.attempts] == ["valid"]
    assert len(up.requests) == 1


def test_escalation_follows_the_route_after_a_failed_repair(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    bad = FAILURES["missing required"][0]
    up.script([bad, FAILURES["malformed json"][0]], model="cheap")
    up.script([Fault.tool_call("get_weather", GOOD)], model="premium")
    raw = ask_tool(gw)
    assert raw.headers["x-switchyard-guard"] == "escalated"
    assert raw.headers["x-switchyard-model"] == "premium"
    assert raw.headers["x-switchyard-fallbacks"] == "cheap,premium"
    # The escalated request is the client's, not the repair conversation.
    assert upstream_bodies(up, "premium")[0]["messages"] == upstream_bodies(up, "cheap")[0]["messages"]
    rec = record(gw, raw)
    assert [(a.model, a.check) for a in rec.attempts] == [
        ("cheap", "invalid: arguments_schema"),
        ("cheap", "invalid: arguments_not_json"),
        ("premium", "valid"),
    ]
    assert rec.served_model == "premium" and rec.guard == "escalated"
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert rec.reasons[-2:] == ["guard: cheap arguments_schema -> repair", "guard: cheap arguments_not_json -> premium"]


def test_without_repair_the_next_candidate_is_asked_at_once(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"repair": False}))
    up.script([FAILURES["unknown function"][0]], model="cheap")
    up.script([Fault.tool_call("get_weather", GOOD)], model="premium")
    raw = ask_tool(gw)
    assert raw.headers["x-switchyard-guard"] == "escalated"
    assert [r.model for r in up.requests] == ["cheap", "premium"]


def test_no_valid_answer_is_a_clear_502_and_every_try_is_paid(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    bad = FAILURES["wrong type"][0]
    up.script([bad, bad], model="cheap")
    up.script([bad, bad], model="premium")
    with pytest.raises(openai.APIStatusError) as info:
        ask_tool(gw)
    err = info.value
    assert err.status_code == 502
    body = err.response.json()["error"]
    assert body["code"] == "invalid_model_output" and body["type"] == "upstream_error"
    assert "get_weather" in body["message"] and "expected type string" in body["message"]
    assert "5" not in body["message"].replace("502", "")  # the offending value is not echoed
    gw.flush()
    rec = gw.ledger().get(err.response.headers["x-request-id"])
    assert rec.status == 502 and rec.guard == "failed" and rec.error_class == "InvalidModelOutput"
    assert [a.model for a in rec.attempts] == ["cheap", "cheap", "premium"]  # repair once, then escalate
    assert all(a.check == "invalid: arguments_schema" and a.cost > 0 for a in rec.attempts)
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))


def test_a_stream_with_no_valid_answer_ends_with_an_error_event(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"escalate": False}))
    bad = FAILURES["extra argument"][0]
    up.script([bad, bad], model="cheap")
    with pytest.raises(openai.APIError) as info:
        streamed_tool(gw)
    assert "invalid_model_output" in str(info.value.body) or "no valid answer" in str(info.value)
    gw.flush()
    rec = gw.ledger().recent(1)[0]
    assert rec.status == 502 and rec.guard == "failed" and rec.stream
    assert [a.check for a in rec.attempts] == ["invalid: arguments_schema"] * 2
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts)) and rec.cost > 0


def test_a_disabled_guard_passes_answers_through(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"enabled": False}))
    up.script([FAILURES["wrong type"][0]], model="cheap")
    raw = ask_tool(gw)
    assert raw.parse().choices[0].message.tool_calls[0].function.arguments == '{"city": 5}'
    assert "x-switchyard-guard" not in raw.headers
    rec = record(gw, raw)
    assert rec.guard is None and [a.check for a in rec.attempts] == [None]


def test_a_request_without_tools_or_json_is_not_checked(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    raw = client(gw).chat.completions.with_raw_response.create(
        model="agents", messages=[{"role": "user", "content": "hi"}]
    )
    assert "x-switchyard-guard" not in raw.headers
    assert record(gw, raw).guard is None


def test_tool_choice_none_and_named_are_honoured(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    up.script([Fault.tool_call("get_weather", GOOD), Fault.ok("It is sunny.")], model="cheap")
    raw = ask_tool(gw, tool_choice="none")
    assert raw.parse().choices[0].message.content == "It is sunny."
    assert [a.check for a in record(gw, raw).attempts] == ["invalid: unwanted_call", "valid"]
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    up.script([Fault.tool_call("get_time", {}), Fault.tool_call("get_weather", GOOD)], model="cheap")
    raw = client(gw).chat.completions.with_raw_response.create(
        model="agents",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER, other],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert raw.parse().choices[0].message.tool_calls[0].function.name == "get_weather"
    assert [a.check for a in record(gw, raw).attempts] == ["invalid: wrong_tool", "valid"]


def test_a_constrained_model_is_repaired_with_a_forced_call(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, constrained_decoding=True))
    up.script([FAILURES["missing required"][0], Fault.tool_call("get_weather", GOOD)], model="cheap")
    raw = ask_tool(gw, tool_choice="auto")
    assert raw.headers["x-switchyard-guard"] == "repaired"
    repair = upstream_bodies(up, "cheap")[-1]
    assert repair["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


JSON_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["city", "population"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("answer", "kind"),
    [("not json at all", "not_json"), ('{"city": "Paris"}', "json_schema"), ("[1, 2]", "json_schema")],
)
def test_json_answers_are_checked_against_their_schema(
    up: MockUpstream, gateway_factory, stream: bool, answer: str, kind: str
) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    valid = '{"city": "Paris", "population": 2100000}'
    up.script([Fault.ok(answer), Fault.ok(valid)], model="cheap")
    raw = client(gw).chat.completions.with_raw_response.create(
        model="agents",
        messages=[{"role": "user", "content": "Biggest city of France as JSON"}],
        response_format=JSON_FORMAT,
        stream=stream,
    )
    parsed = raw.parse()
    text = (
        "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
        if stream
        else parsed.choices[0].message.content
    )
    assert text == valid  # a stream of structured output is judged whole: the invalid text never shows
    rec = record(gw, raw)
    assert rec.guard == "repaired" and [a.check for a in rec.attempts] == [f"invalid: {kind}", "valid"]
    instruction = upstream_bodies(up, "cheap")[-1]["messages"][-1]["content"]
    assert json.dumps(JSON_FORMAT["json_schema"]["schema"]) in instruction


def test_metrics_and_report_count_raw_and_delivered_failures_and_the_guards_cost(
    up: MockUpstream, gateway_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from tests.server.test_metrics_route import parse, scrape

    gw = gateway_factory(guard_config(up))
    bad = FAILURES["wrong type"][0]
    good = Fault.tool_call("get_weather", GOOD)
    up.script([good, bad, good, bad, bad], model="cheap")  # valid; repaired; escalated
    up.script([good], model="premium")
    outcomes = [ask_tool(gw).headers["x-switchyard-guard"] for _ in range(3)]
    assert outcomes == ["valid", "repaired", "escalated"]
    gw.flush()
    records = gw.ledger().recent(3)
    refused_cost = sum(a.cost for r in records for a in r.attempts if a.check != "valid")
    samples = parse(scrape(gw.url, ADMIN_KEY).text)
    checks = {
        (s["model"], s["result"]): v for s, v in samples["switchyard_guard_checks_total"] if s["route"] == "agents"
    }
    assert checks == {("cheap", "valid"): 2, ("cheap", "invalid"): 3, ("premium", "valid"): 1}
    delivered = {s["outcome"]: v for s, v in samples["switchyard_guard_delivered_total"]}
    assert delivered == {"valid": 1, "repaired": 1, "escalated": 1}
    cost = {s["model"]: v for s, v in samples["switchyard_guard_cost_usd_total"]}
    assert cost == {"cheap": pytest.approx(refused_cost)} and refused_cost > 0
    reasons = {s["reason"] for s, _ in samples["switchyard_route_decisions_total"]}
    assert {"guard_repair", "guard_escalate"} <= reasons
    # `switchyard report` reads the same figures from the ledger, per route and model.
    stats = gw.ledger().guard_stats(RollupFilter())
    assert [(c.route, c.model, c.checked, c.invalid) for c in stats.checks] == [
        ("agents", "cheap", 5, 3),
        ("agents", "premium", 1, 0),
    ]
    assert stats.checks[0].refused_cost == pytest.approx(refused_cost)
    assert stats.checks[0].raw_failure_rate == pytest.approx(0.6)
    assert [(d.route, d.outcomes, d.delivered_failure_rate) for d in stats.delivered] == [
        ("agents", {"escalated": 1, "repaired": 1, "valid": 1}, 0.0)
    ]
    config = tmp_path / "sy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"db_path": str(gw.db_path)},
                "models": [{"name": "cheap", "provider": "openai", "base_url": up.url, "locality": "us"}],
            }
        )
    )
    monkeypatch.delenv("SWITCHYARD_DB_PATH", raising=False)
    table = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["report", "-c", str(config)])
    assert table.exit_code == 0, table.output
    assert "output guard: answers checked" in table.stdout and "60.0%" in table.stdout
    data = json.loads(CliRunner().invoke(app, ["report", "-c", str(config), "--format", "json"]).stdout)
    assert data["guard"]["delivered"] == [
        {"route": "agents", "requests": 3, "escalated": 1, "repaired": 1, "valid": 1, "delivered_failure_rate": 0.0}
    ]


def test_a_second_opinion_confirms_a_chosen_call(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"confirm_calls": True}))
    up.script([Fault.tool_call("get_weather", GOOD)], model="cheap")
    up.script([Fault.tool_call("get_weather", {"city": "Paris"})], model="premium")
    raw = ask_tool(gw, tool_choice="auto")
    call = raw.parse().choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == GOOD  # the cheaper call is served
    assert raw.headers["x-switchyard-guard"] == "confirmed" and raw.headers["x-switchyard-model"] == "cheap"
    rec = record(gw, raw)
    assert rec.served_model == "cheap" and rec.guard == "confirmed"
    assert [(a.model, a.check) for a in rec.attempts] == [("cheap", "valid"), ("premium", "valid")]
    assert all(a.cost > 0 for a in rec.attempts)  # the confirmation was paid for
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
    assert rec.input_tokens == rec.attempts[0].input_tokens  # the served answer's usage


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_the_next_candidate_would_not_make_is_replaced(up: MockUpstream, gateway_factory, stream: bool) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"confirm_calls": True}))
    up.script([Fault.tool_call("get_weather", GOOD)], model="cheap")
    up.script([Fault.ok("No tool can tell you that.")], model="premium")
    raw = client(gw).chat.completions.with_raw_response.create(
        model="agents", messages=[{"role": "user", "content": "Who won in 1998?"}], tools=[WEATHER], stream=stream
    )
    parsed = raw.parse()
    if stream:
        chunks = list(parsed)
        assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)  # the call never showed
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "No tool can tell you that."
    else:
        assert parsed.choices[0].message.tool_calls is None
        assert parsed.choices[0].message.content == "No tool can tell you that."
        assert raw.headers["x-switchyard-guard"] == "escalated"
    rec = record(gw, raw)
    assert rec.guard == "escalated" and rec.served_model == "premium"
    assert [(a.model, a.check) for a in rec.attempts] == [("cheap", "invalid: not_confirmed"), ("premium", "valid")]
    assert rec.cost == pytest.approx(sum(a.cost for a in rec.attempts)) and rec.attempts[0].cost > 0


def test_no_second_opinion_when_the_call_was_required_or_the_option_is_off(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up, {"confirm_calls": True}))
    up.script([Fault.tool_call("get_weather", GOOD)], model="cheap")
    assert ask_tool(gw, tool_choice="required").headers["x-switchyard-guard"] == "valid"
    plain = gateway_factory(guard_config(up))
    up.script([Fault.tool_call("get_weather", GOOD)], model="cheap")
    assert ask_tool(plain, tool_choice="auto").headers["x-switchyard-guard"] == "valid"
    assert [r.model for r in up.requests] == ["cheap", "cheap"]


def test_the_guard_holds_on_the_responses_api_too(up: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(guard_config(up))
    up.script([FAILURES["malformed json"][0], Fault.tool_call("get_weather", GOOD)], model="cheap")
    fn = WEATHER["function"]
    resp = client(gw).responses.with_raw_response.create(
        model="agents",
        input="Weather in Paris?",
        tools=[{"type": "function", "name": fn["name"], "parameters": fn["parameters"], "strict": False}],
        tool_choice="required",
    )
    calls = [item for item in resp.parse().output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", GOOD)]
    assert resp.headers["x-switchyard-guard"] == "repaired"
    rec = record(gw, resp)
    assert rec.endpoint == "responses" and [a.check for a in rec.attempts] == ["invalid: arguments_not_json", "valid"]
