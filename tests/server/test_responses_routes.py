"""POST /v1/responses (and GET/DELETE /v1/responses/{id}) through a real gateway, with the official openai
SDK's ``responses`` API as the client and a real loopback upstream: text and message input, instructions,
function tools and their outputs fed back, text.format, streamed events, usage, stored conversations and
their limits (store off, zero retention, another team, expiry), and 400s naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from switchyard.config import AccessConfig, GatewayConfig, TeamConfig
from switchyard.keys import create_key
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY, RunningGateway

from .configs import config, openai_model

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _config(upstream: MockUpstream) -> GatewayConfig:
    cfg = config(openai_model("gpt-mock", upstream.url), routes={"auto": ["gpt-mock"]})
    cfg.access = AccessConfig(
        teams=[
            TeamConfig(name="team-a"),
            TeamConfig(name="team-b"),
            TeamConfig(name="private", retention="zero"),
            TeamConfig(name="no-models", models=[], routes=[]),
        ]
    )
    return cfg


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    """Response store on."""
    return gateway_factory(_config(upstream), responses_store=True)


def key(gw: RunningGateway, team: str) -> str:
    store = SQLiteStore(gw.db_path)
    try:
        return create_key(store, team)[1]
    finally:
        store.close()


def client(gw: RunningGateway, api_key: str = ADMIN_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=api_key, max_retries=0, timeout=30)


def post(gw: RunningGateway, body: dict[str, Any], api_key: str = ADMIN_KEY) -> httpx.Response:
    return httpx.post(gw.v1 + "/responses", json=body, headers={"authorization": f"Bearer {api_key}"}, timeout=30)


def test_text_input_is_answered_usage_counted_and_recorded(gw: RunningGateway, upstream: MockUpstream) -> None:
    raw = client(gw).responses.with_raw_response.create(model="auto", input="hello there", max_output_tokens=20)
    resp = raw.parse()
    assert resp.output_text == "echo: hello there"
    assert resp.object == "response" and resp.status == "completed" and resp.model == "gpt-mock"
    assert resp.id == "resp_" + raw.headers["x-request-id"] and raw.headers["x-switchyard-route"] == "auto"
    [item] = resp.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    assert resp.usage is not None and resp.usage.input_tokens > 0 and resp.usage.output_tokens == 3
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.max_output_tokens == 20 and resp.tools == [] and resp.tool_choice == "auto"
    sent = upstream.requests[-1].body
    assert sent["messages"] == [{"role": "user", "content": "hello there"}] and sent["max_completion_tokens"] == 20

    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert rec is not None and rec.endpoint == "responses" and rec.status == 200
    assert (rec.input_tokens, rec.output_tokens) == (resp.usage.input_tokens, resp.usage.output_tokens)


def test_message_input_and_instructions(gw: RunningGateway, upstream: MockUpstream) -> None:
    resp = client(gw).responses.create(
        model="gpt-mock",
        instructions="Answer in French.",
        input=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "earlier answer", "annotations": []}],
            },
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "what "}, {"type": "input_text", "text": "now"}],
            },
        ],
        temperature=0.2,
        top_p=0.9,
        user="u-1",
        metadata={"ticket": "T-1"},
    )
    assert resp.output_text == "echo: what now"
    assert resp.instructions == "Answer in French." and resp.metadata == {"ticket": "T-1"} and resp.temperature == 0.2
    sent = upstream.requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": "what now"},
    ]
    assert (sent["temperature"], sent["top_p"], sent["user"]) == (0.2, 0.9, "u-1")
    assert "metadata" not in sent  # the response's, never a model's


def test_a_function_call_and_its_output_fed_back(gw: RunningGateway, upstream: MockUpstream) -> None:
    c = client(gw)
    upstream.script([Fault.tool_call("get_weather", {"city": "Paris"})])
    first = c.responses.create(model="gpt-mock", input="Weather in Paris?", tools=[WEATHER], tool_choice="auto")
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.status == "completed"
    assert json.loads(call.arguments) == {"city": "Paris"} and call.call_id and call.id
    sent = upstream.requests[-1].body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"
    assert first.tools[0].name == "get_weather"

    # the second turn: the whole conversation, the call as the SDK returned it, and its output
    second = c.responses.create(
        model="gpt-mock",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
        ],
        tools=[WEATHER],
    )
    assert second.output_text == "echo: sunny, 21 C"
    assert upstream.requests[-1].body["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "content": "sunny, 21 C", "tool_call_id": call.call_id},
    ]


def test_tool_choice_required_and_by_name(gw: RunningGateway, upstream: MockUpstream) -> None:
    c = client(gw)
    resp = c.responses.create(model="gpt-mock", input="Lyon", tools=[WEATHER], tool_choice="required")
    assert resp.output[0].type == "function_call" and resp.tool_choice == "required"
    assert upstream.requests[-1].body["tool_choice"] == "required"
    resp = c.responses.create(
        model="gpt-mock",
        input="Lyon",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    assert resp.output[0].type == "function_call" and resp.parallel_tool_calls is False
    assert upstream.requests[-1].body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_text_format_json_schema_becomes_response_format(gw: RunningGateway, upstream: MockUpstream) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    upstream.script([Fault.ok('{"answer": "yes"}')])
    resp = client(gw).responses.create(
        model="gpt-mock",
        input="Is it?",
        text={"format": {"type": "json_schema", "name": "verdict", "schema": schema, "strict": True}},
    )
    assert json.loads(resp.output_text) == {"answer": "yes"}
    assert resp.text is not None and resp.text.format is not None and resp.text.format.type == "json_schema"
    assert upstream.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": schema, "strict": True},
    }
    upstream.script([Fault.ok('{"x": 1}')])  # the output guard refuses an answer that is not JSON
    client(gw).responses.create(model="gpt-mock", input="x", text={"format": {"type": "json_object"}})
    assert upstream.requests[-1].body["response_format"] == {"type": "json_object"}


def test_a_stream_sends_the_sdks_events_in_order(gw: RunningGateway) -> None:
    events = list(client(gw).responses.create(model="auto", input="stream me please", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "echo: stream me please"
    done = events[-1].response
    assert done.status == "completed" and done.output_text == "echo: stream me please"
    assert done.id == events[0].response.id and done.usage is not None and done.usage.output_tokens == 4
    assert events[0].response.status == "in_progress" and events[0].response.output == []


def test_a_streamed_function_call_and_the_sdk_helper(gw: RunningGateway, upstream: MockUpstream) -> None:
    upstream.script([Fault.tool_call("get_weather", {"city": "Oslo"})])
    events = list(client(gw).responses.create(model="gpt-mock", input="Oslo?", tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.output_text.delta" not in kinds
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done.arguments) == {"city": "Oslo"}
    [call] = events[-1].response.output
    assert call.type == "function_call" and call.name == "get_weather" and call.arguments == done.arguments

    # the SDK's accumulating helper reads the same events
    with client(gw).responses.stream(model="gpt-mock", input="helper text") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == "echo: helper text"


def test_a_failure_midway_ends_the_stream_with_error_and_response_failed(
    gw: RunningGateway, upstream: MockUpstream
) -> None:
    upstream.script([Fault.stream_error(after_chunks=2)])
    events = list(client(gw).responses.create(model="gpt-mock", input="one two three four five", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert failed.model_extra is not None and failed.model_extra["store"] is False


def test_an_answer_cut_short_is_incomplete(gw: RunningGateway) -> None:
    resp = client(gw).responses.create(model="gpt-mock", input="one two three four five", max_output_tokens=2)
    assert resp.status == "incomplete" and resp.incomplete_details is not None
    assert resp.incomplete_details.reason == "max_output_tokens"
    events = list(client(gw).responses.create(model="gpt-mock", input="a b c d", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"


def test_previous_response_id_continues_a_stored_conversation(gw: RunningGateway, upstream: MockUpstream) -> None:
    document = httpx.get(gw.url + "/openapi.json").json()
    field = document["components"]["schemas"]["ResponsesRequest"]["properties"]["previous_response_id"]
    assert {"type": "string", "minLength": 1} in field["anyOf"]
    a = client(gw, key(gw, "team-a"))
    first = a.responses.create(model="gpt-mock", instructions="Be kind.", input="my name is Ada")
    assert first.model_extra is not None and first.model_extra["store"] is True
    second = a.responses.create(model="gpt-mock", input="what is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert upstream.requests[-1].body["messages"] == [  # earlier instructions are not carried over
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "echo: my name is Ada"},
        {"role": "user", "content": "what is my name?"},
    ]
    # a streamed answer is stored too, before the event that completes it
    events = list(a.responses.create(model="gpt-mock", input="third", previous_response_id=second.id, stream=True))
    third = events[-1].response
    fourth = a.responses.create(model="gpt-mock", input="fourth", previous_response_id=third.id)
    assert [m["content"] for m in upstream.requests[-1].body["messages"]] == [
        "my name is Ada", "echo: my name is Ada", "what is my name?", "echo: what is my name?", "third",
        "echo: third", "fourth",
    ]  # fmt: skip
    assert fourth.output_text == "echo: fourth"

    # another key of the team may continue it and read it; another team may not, and is not told it exists
    a2 = client(gw, key(gw, "team-a"))
    assert a2.responses.retrieve(first.id).output_text == "echo: my name is Ada"
    b = client(gw, key(gw, "team-b"))
    with pytest.raises(openai.NotFoundError) as exc:
        b.responses.create(model="gpt-mock", input="hi", previous_response_id=first.id)
    assert exc.value.body["param"] == "previous_response_id" and exc.value.body["code"] == "response_not_found"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        b.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        b.responses.delete(first.id)

    # deleted: gone for everyone; the later responses keep their own copy of the conversation
    a.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        a.responses.create(model="gpt-mock", input="again", previous_response_id=first.id)
    assert a.responses.create(model="gpt-mock", input="again", previous_response_id=second.id).output_text


def test_function_call_output_continues_from_a_stored_call(gw: RunningGateway, upstream: MockUpstream) -> None:
    """The Agents SDK's server-managed conversations: only the new items, the call is in the stored one."""
    c = client(gw)
    upstream.script([Fault.tool_call("get_weather", {"city": "Rome"})])
    first = c.responses.create(model="gpt-mock", input="Rome?", tools=[WEATHER])
    call = first.output[0]
    assert call.type == "function_call"
    out = {"type": "function_call_output", "call_id": call.call_id, "output": [{"type": "input_text", "text": "hot"}]}
    second = c.responses.create(model="gpt-mock", input=[out], previous_response_id=first.id, tools=[WEATHER])
    assert second.output_text == "echo: hot"
    assert upstream.requests[-1].body["messages"][-2]["tool_calls"][0]["id"] == call.call_id


def test_store_false_keeps_nothing(gw: RunningGateway) -> None:
    c = client(gw)
    resp = c.responses.create(model="gpt-mock", input="forget me", store=False)
    assert resp.model_extra is not None and resp.model_extra["store"] is False
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(resp.id)


def test_zero_retention_team_never_gets_anything_stored(gw: RunningGateway) -> None:
    api_key = key(gw, "private")
    c = client(gw, api_key)
    resp = c.responses.create(model="gpt-mock", input="secret", store=True)
    assert resp.model_extra is not None and resp.model_extra["store"] is False
    events = list(c.responses.create(model="gpt-mock", input="secret", stream=True))
    assert events[-1].response.model_extra["store"] is False
    r = post(gw, {"model": "gpt-mock", "input": "more", "previous_response_id": resp.id}, api_key)
    assert r.status_code == 403
    error = r.json()["error"]
    assert (error["param"], error["code"]) == ("previous_response_id", "zero_retention")
    assert "zero retention" in error["message"]
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(resp.id)
    ledger = gw.ledger()
    try:
        assert ledger._query("SELECT COUNT(*) FROM responses WHERE team = 'private'") == [(0,)]
    finally:
        ledger.close()


def test_without_the_store_previous_response_id_is_refused(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(_config(upstream))  # responses_store off (the default)
    resp = client(gw).responses.create(model="gpt-mock", input="hi")
    assert resp.model_extra is not None and resp.model_extra["store"] is False
    r = post(gw, {"model": "gpt-mock", "input": "again", "previous_response_id": resp.id})
    assert r.status_code == 400 and r.json()["error"]["code"] == "response_store_disabled"
    assert r.json()["error"]["param"] == "previous_response_id"
    assert (
        httpx.get(f"{gw.v1}/responses/{resp.id}", headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code == 404
    )
    # the gateway's document says so: nothing to continue here
    document = httpx.get(gw.url + "/openapi.json").json()
    field = document["components"]["schemas"]["ResponsesRequest"]["properties"]["previous_response_id"]
    assert field["type"] == "null"


def test_stored_responses_expire(upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway]) -> None:
    now = [1_800_000_000.0]
    gw = gateway_factory(_config(upstream), clock=lambda: now[0], responses_store=True, responses_ttl_days=1)
    c = client(gw)
    old = c.responses.create(model="gpt-mock", input="old")
    now[0] += 3600
    assert c.responses.create(model="gpt-mock", input="still there", previous_response_id=old.id).output_text
    now[0] += 86400
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(old.id)
    c.responses.create(model="gpt-mock", input="new")  # storing a new one deletes the expired ones
    ledger = gw.ledger()
    try:
        assert ledger._query("SELECT COUNT(*) FROM responses WHERE id = ?", (old.id,)) == [(0,)]
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"input": "hi", "reasoning": {"effort": "low"}}, "reasoning", "not supported"),
        ({"input": "hi", "conversation": "conv_1"}, "conversation", "not supported"),
        ({"input": "hi", "background": True}, "background", "not supported"),
        ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools.0.type", "'web_search'"),
        ({"input": "hi", "tools": [{"type": "file_search", "vector_store_ids": ["v"]}]}, "tools.0.type", "file_search"),
        ({"input": "hi", "tools": [{**WEATHER, "defer_loading": True}]}, "tools.0.defer_loading", "not supported"),
        ({"input": "hi", "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type", "web_search_preview"),
        ({"input": "hi", "tool_choice": "required"}, "tool_choice", "needs tools"),
        ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema", "missing"),
        ({"input": "hi", "text": {"verbosity": "low"}}, "text.verbosity", "not supported"),
        ({"input": "hi", "include": ["message.output_text.logprobs"]}, "include", "cannot be included"),
        ({"input": "hi", "truncation": "auto"}, "truncation", "disabled"),
        ({"input": "hi", "max_output_tokens": "5"}, "max_output_tokens", "integer"),
        ({"input": "hi", "temperature": 3}, "temperature", "less than or equal to 2"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0.type", "item_reference"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input.0.type", "reasoning"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input.0.content.0.type",
            "input_file",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input.0.content.0",
            "image_url",
        ),
        ({"input": []}, "input", "at least 1"),
        ({}, "input", "missing"),
        ({"input": "hi", "metadata": {"k": 1}}, "metadata.k", "string"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x", "detail": "original"}]}]},
            "input.0.content.0.detail",
            "'low', 'high' or 'auto'",
        ),
    ],
)
def test_what_is_not_supported_is_a_400_naming_the_field(
    gw: RunningGateway, body: dict[str, Any], param: str, words: str
) -> None:
    r = post(gw, {"model": "gpt-mock", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert words in error["message"], error


def test_the_call_goes_through_keys_and_access_like_a_chat(gw: RunningGateway) -> None:
    r = post(gw, {"model": "nope", "input": "hi"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = post(gw, {"model": "gpt-mock", "input": "hi"}, key(gw, "no-models"))
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = httpx.post(gw.v1 + "/responses", json={"model": "gpt-mock", "input": "hi"})
    assert r.status_code == 401
    r = httpx.get(gw.v1 + "/responses/resp_x?include=a", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "include"
