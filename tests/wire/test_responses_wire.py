"""The Responses format: requests into internal chat messages, answers and event streams out, each event and
Response object validated against the openai SDK's own models of them."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from switchyard.errors import InvalidRequest, UpstreamError
from switchyard.types import ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta, Usage
from switchyard.wire.responses import (
    ResponseIds,
    answer_message,
    chat_request,
    input_messages,
    rename_param,
    render_response,
    response_object,
)
from switchyard.wire.responses_models import ResponsesRequest, parse_responses_body
from switchyard.wire.responses_stream import ResponsesStreamEncoder

EVENT = TypeAdapter(ResponseStreamEvent)
IDS = ResponseIds("abc")
TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}}


def request(**fields: Any) -> ResponsesRequest:
    return parse_responses_body({"model": "m", "input": "hi", **fields})


def events(data: bytes) -> list[dict[str, Any]]:
    """Server-sent events -> their JSON, checking each ``event:`` line names its ``type``."""
    out = []
    for block in data.decode().strip().split("\n\n"):
        head, body = block.split("\n")
        event = orjson.loads(body.removeprefix("data: "))
        assert head == f"event: {event['type']}"
        EVENT.validate_python(event)  # the SDK's own model of the event
        out.append(event)
    return out


def encoder(req: ResponsesRequest | None = None) -> ResponsesStreamEncoder:
    snapshot = partial(response_object, req or request(), IDS, "m", 100, stored=False)
    return ResponsesStreamEncoder(snapshot, IDS, lambda: 105.0)


def test_items_become_chat_messages() -> None:
    req = request(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a "}, {"type": "refusal", "refusal": "no"}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": '{"x": 1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
        ]
    )
    got = [m.model_dump(exclude_none=True) for m in input_messages(req)]
    assert got == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": "a no",  # the text and both calls are one assistant message
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            ],
        },
        {"role": "tool", "content": "one", "tool_call_id": "c1"},
        {"role": "tool", "content": "two", "tool_call_id": "c2"},
    ]


def test_the_chat_request() -> None:
    schema = {"type": "object"}
    req = request(
        instructions="sys",
        tools=[TOOL],
        tool_choice={"type": "function", "name": "f"},
        text={"format": {"type": "json_schema", "name": "n", "schema": schema, "description": "d"}},
        max_output_tokens=7,
        parallel_tool_calls=False,
        stream=True,
    )
    chat = chat_request(req, [], input_messages(req))
    assert [m.role for m in chat.messages] == ["system", "user"]
    assert chat.max_completion_tokens == 7 and chat.stream and chat.stream_options is not None
    assert chat.tool_choice == {"type": "function", "function": {"name": "f"}}
    assert chat.tools is not None and chat.tools[0].function.parameters == schema
    assert chat.response_format is not None and chat.response_format.json_schema == {
        "name": "n",
        "schema": schema,
        "description": "d",
    }
    assert chat.extra_fields() == {"parallel_tool_calls": False}


def test_errors_past_the_translation_name_the_responses_fields() -> None:
    for chat, responses in [
        ("response_format", "text.format"),
        ("messages.3.content", "input"),
        ("max_tokens", "max_output_tokens"),
        ("tool_choice", "tool_choice"),
        ("other", "other"),
    ]:
        assert rename_param(InvalidRequest("x", param=chat)).param == responses


@pytest.mark.parametrize(
    ("resp", "status", "kinds"),
    [
        (ChatResponse("1", "m", 1, "hello", "stop", usage=Usage(5, 1, cached_tokens=2)), "completed", ["message"]),
        (ChatResponse("1", "m", 1, None, "stop"), "completed", ["message"]),
        (ChatResponse("1", "m", 1, "cut", "length"), "incomplete", ["message"]),
        (
            ChatResponse(
                "1",
                "m",
                1,
                "let me check",
                "tool_calls",
                tool_calls=[ToolCall(id="call_1", function=FunctionCall(name="f", arguments="{}"))],
            ),
            "completed",
            ["message", "function_call"],
        ),
    ],
)
def test_whole_answers_are_response_objects_the_sdk_reads(resp: ChatResponse, status: str, kinds: list[str]) -> None:
    body = render_response(request(tools=[TOOL], metadata={"a": "b"}), resp, IDS, "m", 100, 101, stored=True)
    parsed = Response.model_validate(body)
    assert parsed.id == "resp_abc" and parsed.status == status and [o.type for o in parsed.output] == kinds
    assert parsed.output_text == (resp.content or "")
    assert body["store"] is True and parsed.metadata == {"a": "b"}
    if resp.usage is not None:
        assert parsed.usage is not None and parsed.usage.input_tokens_details.cached_tokens == 2
    # what a continuation sends the model: the answer as one assistant message
    message = answer_message(body["output"])
    assert message.role == "assistant" and message.text() == (resp.content or "")
    assert [c.id for c in message.tool_calls or ()] == [c.id for c in resp.tool_calls or ()]


def test_a_text_stream() -> None:
    enc = encoder()
    data = enc.start() + enc.encode(Chunk(content="Hel")) + enc.encode(Chunk(content="lo", finish_reason="stop"))
    data += enc.finish(Usage(3, 2))
    got = events(data)
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert [e["delta"] for e in got if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    final = Response.model_validate(got[-1]["response"])
    assert got[-1]["type"] == "response.completed" and final.output_text == "Hello"
    assert final.usage is not None and final.usage.total_tokens == 5 and final.completed_at == 105
    assert enc.response == got[-1]["response"]


def test_interleaved_parallel_calls_keep_their_items() -> None:
    """An upstream may alternate between the fragments of two calls; text after a call is a new message."""
    enc = encoder(request(tools=[TOOL]))
    chunks = [
        Chunk(content="ok"),
        Chunk(tool_calls=[ToolCallDelta(0, id="call_a", name="f", arguments='{"a"')]),
        Chunk(tool_calls=[ToolCallDelta(1, id="call_b", name="f", arguments='{"b"')]),
        Chunk(tool_calls=[ToolCallDelta(0, arguments=": 1}")]),
        Chunk(tool_calls=[ToolCallDelta(1, arguments=": 2}")]),
        Chunk(content="more", finish_reason="tool_calls"),
    ]
    got = events(b"".join(enc.encode(c) for c in chunks) + enc.finish(None))
    added = {e["item"]["id"]: e["output_index"] for e in got if e["type"] == "response.output_item.added"}
    assert list(added) == ["msg_abc", "fc_abc_0", "fc_abc_1", "msg_abc_1"]
    for e in got:
        if "item_id" in e:
            assert e["output_index"] == added[e["item_id"]]
    output = got[-1]["response"]["output"]
    assert [(o["type"], o.get("arguments")) for o in output] == [
        ("message", None),
        ("function_call", '{"a": 1}'),
        ("function_call", '{"b": 2}'),
        ("message", None),
    ]
    assert [o["call_id"] for o in output if o["type"] == "function_call"] == ["call_a", "call_b"]


def test_an_empty_answer_still_has_a_message_and_a_failure_ends_the_stream() -> None:
    enc = encoder()
    got = events(enc.finish(None))
    assert got[-1]["response"]["output"][0]["content"][0]["text"] == ""
    enc = encoder()
    got = events(enc.encode(Chunk(content="par")) + enc.error(UpstreamError("upstream went away")))
    assert [e["type"] for e in got[-5:]] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
    ]
    failed = got[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["message"] == "upstream went away"
    assert failed["output"][0]["status"] == "incomplete"
    assert enc.finish(None) == b"" and enc.error(UpstreamError("again")) == b""
