"""The Anthropic Messages edge: request parsing, rendering, errors, and the SSE encoder read back by the
official ``anthropic`` SDK over a real loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import pytest

from switchyard.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NoDeploymentAvailable,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SwitchyardError,
    UpstreamConnectError,
    UpstreamRateLimited,
    UpstreamStatusError,
    UpstreamTimeout,
)
from switchyard.types import ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta, Usage
from switchyard.wire.anthropic import error_body, parse_messages_request, render_message
from switchyard.wire.anthropic_stream import AnthropicStreamEncoder

PNG = "iVBORw0KGgo="


def body(**kw: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **kw}


# ------------------------------------------------------------------------------------------- parsing


def test_minimal_request_with_system_string() -> None:
    req = parse_messages_request(body(system="be brief"))
    assert req.model == "m"
    assert req.max_tokens == 100
    assert [(m.role, m.content) for m in req.messages] == [("system", "be brief"), ("user", "hi")]
    assert req.stream is False


def test_system_as_text_blocks() -> None:
    system = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}]
    req = parse_messages_request(body(system=system))
    assert req.messages[0].role == "system"
    assert req.messages[0].content == "a\nb"


def test_every_block_type() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "let me look"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "png"}},
                {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a picture"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "clock "},
                        {"type": "text", "text": "broken"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0"}},
                    ],
                },
                {"type": "text", "text": "go on"},
            ],
        },
    ]
    req = parse_messages_request(body(messages=messages))
    user, assistant, tool1, tool2, user2 = req.messages
    assert user.role == "user"
    assert user.content == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    assert assistant.role == "assistant"
    assert assistant.content == "let me look"
    assert assistant.tool_calls is not None
    assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in assistant.tool_calls] == [
        ("toolu_1", "lookup", {"q": "png"}),
        ("toolu_2", "now", {}),
    ]
    assert (tool1.role, tool1.tool_call_id, tool1.content) == ("tool", "toolu_1", "a picture")
    assert (tool2.role, tool2.tool_call_id, tool2.content) == ("tool", "toolu_2", "Error: clock broken")
    assert user2.role == "user"
    assert user2.content == [
        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0"}},
        {"type": "text", "text": "go on"},
    ]


def test_tool_results_only_make_no_empty_user_message() -> None:
    messages = [
        {"role": "user", "content": "time?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "now", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    ]
    req = parse_messages_request(body(messages=messages))
    assert [m.role for m in req.messages] == ["user", "assistant", "tool"]
    assert req.messages[1].content is None
    assert req.messages[2].content == ""


def test_parameters() -> None:
    req = parse_messages_request(
        body(
            stop_sequences=["END"],
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            metadata={"user_id": "u-1"},
            stream=True,
            thinking={"type": "disabled"},
        )
    )
    assert req.stop == ["END"]
    assert (req.temperature, req.top_p, req.user) == (0.5, 0.9, "u-1")
    assert req.stream is True
    assert req.stream_options is not None and req.stream_options.include_usage
    assert req.extra_fields() == {"top_k": 40, "thinking": {"type": "disabled"}}


def test_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    req = parse_messages_request(body(tools=[{"name": "weather", "description": "forecast", "input_schema": schema}]))
    assert req.tools is not None
    fn = req.tools[0].function
    assert (fn.name, fn.description, fn.parameters) == ("weather", "forecast", schema)
    assert req.tool_choice is None


@pytest.mark.parametrize(
    ("choice", "expected", "extra"),
    [
        ({"type": "auto"}, "auto", {}),
        ({"type": "any"}, "required", {}),
        ({"type": "none"}, "none", {}),
        ({"type": "tool", "name": "weather"}, {"type": "function", "function": {"name": "weather"}}, {}),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", {"parallel_tool_calls": False}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any, extra: dict[str, Any]) -> None:
    tools = [{"name": "weather", "input_schema": {"type": "object"}}]
    req = parse_messages_request(body(tools=tools, tool_choice=choice))
    assert req.tool_choice == expected
    assert req.extra_fields() == extra


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (body(max_tokens=0), "max_tokens"),
        (body(model=""), "model"),
        (body(messages=[]), "messages"),
        (body(messages=[{"role": "system", "content": "x"}]), "messages.0.role"),
        (body(messages=[{"role": "user", "content": 3}]), "messages.0.content"),
        (body(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages.0.content.0.text"),
        (body(messages=[{"role": "user", "content": [{"type": "video"}]}]), "messages.0.content.0"),
        (
            body(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]),
            "messages.0.content.0.source",
        ),
        (
            body(
                messages=[
                    {"role": "user", "content": "x"},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{}]}]},
                ]
            ),
            "messages.1.content.0.content.0",
        ),
        (
            body(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}]),
            "messages.0.content.0",
        ),
        (
            body(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]),
            "messages.0.content.0",
        ),
        (body(temperature=1.5), "temperature"),
        (body(stop_sequences="END"), "stop_sequences"),
        (body(tools=[{"name": "x"}]), "tools.0.input_schema"),
        (body(tools=[{"name": "x", "input_schema": {}}], tool_choice={"type": "tool"}), "tool_choice"),
        (body(tool_choice={"type": "sometimes"}), "tool_choice.type"),
    ],
)
def test_invalid_requests_name_the_field(request_body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_messages_request(request_body)
    assert info.value.param == param
    assert info.value.message.startswith(f"{param}: ")
    assert info.value.status == 400


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest):
        parse_messages_request([1, 2])


# ----------------------------------------------------------------------------------------- rendering


def test_render_text_message() -> None:
    resp = ChatResponse(
        id="chatcmpl-1",
        model="up",
        created=0,
        content="hello",
        finish_reason="stop",
        usage=Usage(prompt_tokens=12, completion_tokens=3, cached_tokens=10),
    )
    msg = render_message(resp, "claude-alias")
    assert msg["id"] == "msg_chatcmpl-1"
    assert (msg["type"], msg["role"], msg["model"]) == ("message", "assistant", "claude-alias")
    assert msg["content"] == [{"type": "text", "text": "hello"}]
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("end_turn", None)
    assert msg["usage"] == {
        "input_tokens": 2,
        "output_tokens": 3,
        "cache_read_input_tokens": 10,
        "cache_creation_input_tokens": 0,
    }
    # The SDK's own model accepts it.
    parsed = anthropic.types.Message.model_validate(msg)
    assert parsed.content[0].type == "text"


def test_render_tool_use() -> None:
    calls = [
        ToolCall(id="call_1", function=FunctionCall(name="weather", arguments='{"city": "Oslo"}')),
        ToolCall(id="call_2", function=FunctionCall(name="broken", arguments="{not json")),
    ]
    resp = ChatResponse(id="msg_x", model="up", created=0, content=None, finish_reason="tool_calls", tool_calls=calls)
    msg = render_message(resp, "m")
    assert msg["id"] == "msg_x"
    assert msg["stop_reason"] == "tool_use"
    assert msg["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "broken", "input": {}},
    ]
    assert msg["usage"]["input_tokens"] == 0
    anthropic.types.Message.model_validate(msg)


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_render_stop_reasons(finish: str, stop: str) -> None:
    resp = ChatResponse(id="1", model="m", created=0, content="", finish_reason=finish)
    msg = render_message(resp, "m")
    assert msg["stop_reason"] == stop
    assert msg["content"] == [{"type": "text", "text": ""}]


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (InvalidRequest("bad", param="x"), "invalid_request_error"),
        (AuthenticationFailed("who"), "authentication_error"),
        (NotFound("none"), "not_found_error"),
        (PayloadTooLarge("big"), "request_too_large"),
        (RateLimited("slow down"), "rate_limit_error"),
        (UpstreamRateLimited("slow down"), "rate_limit_error"),
        (UpstreamTimeout("late"), "timeout_error"),
        (UpstreamConnectError("down"), "api_error"),
        (UpstreamStatusError("boom", upstream_status=500), "api_error"),
        (UpstreamStatusError("no such model", upstream_status=404), "not_found_error"),
        (NoDeploymentAvailable("busy"), "overloaded_error"),
    ],
)
def test_error_body(err: SwitchyardError, kind: str) -> None:
    assert error_body(err) == {"type": "error", "error": {"type": kind, "message": err.message}}


# ------------------------------------------------------------------------------------------- streams


def events(raw: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in b"".join(raw).decode().split("\n\n"):
        if frame:
            name, data = frame.split("\n")
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def tool_chunks() -> list[Chunk]:
    return [
        Chunk(content="Checking"),
        Chunk(content=" now."),
        Chunk(tool_calls=[ToolCallDelta(index=0, id="call_a", name="weather", arguments="")]),
        Chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"city": ')]),
        Chunk(tool_calls=[ToolCallDelta(index=0, arguments='"Oslo"}')]),
        Chunk(tool_calls=[ToolCallDelta(index=1, id="call_b", name="now", arguments="{}")]),
        Chunk(finish_reason="tool_calls"),
        Chunk(usage=Usage(prompt_tokens=30, completion_tokens=9, cached_tokens=4)),
    ]


def encode_all(chunks: list[Chunk], *, error: SwitchyardError | None = None, input_tokens: int = 0) -> list[bytes]:
    enc = AnthropicStreamEncoder("claude-alias", "msg_1", input_tokens=input_tokens)
    out = enc.start()
    for c in chunks:
        out += enc.encode(c)
    return out + enc.finish(error=error)


def test_encoder_event_sequence() -> None:
    evs = events(encode_all(tool_chunks()))
    assert [name for name, _ in evs] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in evs)
    assert evs[0][1]["message"]["id"] == "msg_1"
    assert evs[6][1] == {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_a", "name": "weather", "input": {}},
    }
    assert evs[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 26,
            "output_tokens": 9,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 0,
        },
    }


def test_encoder_empty_stream_still_has_a_text_block() -> None:
    evs = events(encode_all([], input_tokens=7))
    assert [n for n, _ in evs] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert evs[0][1]["message"]["usage"]["input_tokens"] == 7
    assert evs[-2][1]["usage"]["input_tokens"] == 7


def test_encoder_error_event() -> None:
    enc = AnthropicStreamEncoder("m", "msg_2")
    out = enc.encode(Chunk(content="part"))
    out += enc.finish(error=UpstreamTimeout("upstream timed out"))
    assert events(out)[-1] == (
        "error",
        {"type": "error", "error": {"type": "timeout_error", "message": "upstream timed out"}},
    )
    assert enc.finish() == []


# A real HTTP server the SDK talks to: answers POST /v1/messages with the bytes the test provides and
# records the request bodies.


class Upstream:
    def __init__(self) -> None:
        self.answer: Callable[[], tuple[int, str, bytes]] = lambda: (500, "text/plain", b"unset")
        self.bodies: list[dict[str, Any]] = []
        self.url = ""


@pytest.fixture
def sdk_server() -> Iterator[Upstream]:
    upstream = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            upstream.bodies.append(json.loads(self.rfile.read(length)))
            status, ctype, payload = upstream.answer()
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    upstream.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()


def client(server: Upstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=5)


def test_sdk_reads_text_and_tool_use_stream(sdk_server: Upstream) -> None:
    sdk_server.answer = lambda: (200, "text/event-stream", b"".join(encode_all(tool_chunks())))
    tools: Any = [{"name": "weather", "input_schema": {"type": "object"}}, {"name": "now", "input_schema": {}}]
    with client(sdk_server).messages.stream(
        model="claude-alias",
        max_tokens=50,
        system="be brief",
        messages=[{"role": "user", "content": "weather in Oslo?"}],
        tools=tools,
        tool_choice={"type": "any"},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Checking now."
    assert final.id == "msg_1"
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[1].type == "tool_use"
    assert (final.content[1].name, final.content[1].input) == ("weather", {"city": "Oslo"})
    assert final.content[2].type == "tool_use"
    assert final.content[2].input == {}
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (26, 9, 4)

    # The request the SDK sent is one the edge accepts.
    req = parse_messages_request(sdk_server.bodies[0])
    assert req.stream is True
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.tool_choice == "required"


def test_sdk_raw_stream_events(sdk_server: Upstream) -> None:
    chunks = [Chunk(content="Hel"), Chunk(content="lo"), Chunk(finish_reason="length", usage=Usage(5, 2))]
    sdk_server.answer = lambda: (200, "text/event-stream", b"".join(encode_all(chunks)))
    stream = client(sdk_server).messages.create(
        model="m", max_tokens=2, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    types = []
    text = ""
    for event in stream:
        types.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text += event.delta.text
        if event.type == "message_delta":
            assert event.delta.stop_reason == "max_tokens"
            assert (event.usage.input_tokens, event.usage.output_tokens) == (5, 2)
    assert text == "Hello"
    assert types[0] == "message_start" and types[-1] == "message_stop"


def test_sdk_sees_mid_stream_error(sdk_server: Upstream) -> None:
    raw = encode_all([Chunk(content="partial")], error=UpstreamConnectError("upstream connection failed"))
    sdk_server.answer = lambda: (200, "text/event-stream", b"".join(raw))
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client(sdk_server).messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s,
    ):
        for _ in s.text_stream:
            pass
    assert "upstream connection failed" in str(info.value)


def test_sdk_reads_rendered_message_and_error(sdk_server: Upstream) -> None:
    resp = ChatResponse(
        id="c1",
        model="up",
        created=0,
        content="hi there",
        finish_reason="stop",
        usage=Usage(prompt_tokens=4, completion_tokens=2),
    )
    sdk_server.answer = lambda: (200, "application/json", json.dumps(render_message(resp, "m")).encode())
    msg = client(sdk_server).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert msg.content[0].type == "text" and msg.content[0].text == "hi there"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (4, 2)

    err = RateLimited("too many requests")
    sdk_server.answer = lambda: (err.status, "application/json", json.dumps(error_body(err)).encode())
    with pytest.raises(anthropic.RateLimitError) as info:
        client(sdk_server).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.body == error_body(err)
