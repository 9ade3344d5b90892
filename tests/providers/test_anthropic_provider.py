"""AnthropicProvider against a real HTTP server on 127.0.0.1 that speaks the Messages wire format.

The first path segment of the deployment's base_url picks the server's behaviour (``/ok``, ``/500``,
``/cut``...), so one server serves every test.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from switchyard.config import Deployment, ModelConfig, Timeouts
from switchyard.errors import (
    InvalidRequest,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamStatusError,
    UpstreamTimeout,
)
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import ProviderContext
from switchyard.providers.transport import HttpTransport
from switchyard.types import ChatRequest, Chunk
from switchyard.wire.anthropic import anthropic_body

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-up",
    "content": [
        {"type": "thinking", "thinking": "...", "signature": "s"},
        {"type": "text", "text": "Let me check. "},
        {"type": "text", "text": "One moment."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
    },
}


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


START = sse(
    {
        "type": "message_start",
        "message": {
            **MESSAGE,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 100},
        },
    }
)
STREAM = [
    START,
    sse({"type": "ping"}),
    sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
    sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
    sse({"type": "content_block_stop", "index": 0}),
    sse(
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
        }
    ),
    sse({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
    sse({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}}),
    sse(
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'},
        }
    ),
    sse({"type": "content_block_stop", "index": 1}),
    sse(
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        }
    ),
    sse({"type": "content_block_stop", "index": 2}),
    sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 15},
        }
    ),
    sse({"type": "message_stop"}),
]


@dataclass
class Upstream:
    port: int = 0
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)

    def base(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}"


def make_handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: bodies without content-length end when the connection closes.
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            upstream.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)))
            scenario = self.path.split("/")[1]
            getattr(self, f"answer_{scenario}")()

        def reply(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def stream(self, frames: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for frame in frames:
                self.wfile.write(frame)
                self.wfile.flush()

        def answer_ok(self) -> None:
            self.reply(200, json.dumps(MESSAGE).encode())

        def answer_sse(self) -> None:
            self.stream(STREAM)

        def answer_500(self) -> None:
            self.reply(500, b'{"type":"error","error":{"type":"api_error","message":"Internal server error"}}')

        def answer_429(self) -> None:
            self.reply(429, b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}')

        def answer_400(self) -> None:
            self.reply(400, b"max_tokens: too big", "text/plain")

        def answer_garbage(self) -> None:
            self.reply(200, b'{"id": "msg_', "application/json")

        def answer_wrongshape(self) -> None:
            self.reply(200, b'{"id": "msg_1", "content": "not a list"}')

        def answer_cut(self) -> None:
            self.stream(STREAM[:5])  # connection closes before message_stop

        def answer_badjson(self) -> None:
            self.stream([*STREAM[:3], b"event: content_block_delta\ndata: {nope\n\n"])

        def answer_truncated(self) -> None:
            # Promises more bytes than it sends: the client sees the connection drop mid-body.
            body = b"".join(STREAM)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

        def answer_error(self) -> None:
            overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            self.stream([*STREAM[:4], sse(overloaded)])

        def answer_slow(self) -> None:
            try:
                self.stream(STREAM[:3])
                for _ in range(200):
                    time.sleep(0.02)
                    self.stream_frame(
                        sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "."}})
                    )
            except OSError:  # BrokenPipeError / ConnectionResetError: the client went away
                upstream.disconnected.set()

        def stream_frame(self, frame: bytes) -> None:
            self.wfile.write(frame)
            self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(up))
    server.daemon_threads = True
    up.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield up
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh(upstream: Upstream) -> Upstream:
    upstream.requests.clear()
    upstream.disconnected.clear()
    return upstream


def provider(http: HttpTransport, base_url: str, **model: Any) -> AnthropicProvider:
    config = ModelConfig(name="claude", provider="anthropic", upstream_model="claude-up", locality="us", **model)
    ctx = ProviderContext(http=http, environ={"ANTHROPIC_KEY": "sk-test"})
    return AnthropicProvider(config, Deployment(base_url=base_url, api_key_env="ANTHROPIC_KEY"), ctx)


@asynccontextmanager
async def transport(**kw: Any) -> AsyncIterator[HttpTransport]:
    http = HttpTransport(**kw)
    try:
        yield http
    finally:
        await http.aclose()


def chat(**kw: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "claude", "messages": [{"role": "user", "content": "hi"}], **kw})


async def collect(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [c async for c in stream]


# --------------------------------------------------------------------------------- request translation


async def test_request_translation(fresh: Upstream) -> None:
    request = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg"}},
                ],
            },
            {"role": "user", "content": "Also the time."},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"c":1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "oops"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "user", "content": "Thanks"},
        ],
        max_completion_tokens=300,
        temperature=1.5,
        top_p=0.5,
        stop="END",
        user="u-7",
        seed=3,
        tools=[
            {
                "type": "function",
                "function": {"name": "weather", "description": "forecast", "parameters": {"type": "object"}},
            },
            {"type": "function", "function": {"name": "now"}},
        ],
        tool_choice={"type": "function", "function": {"name": "weather"}},
        parallel_tool_calls=False,
        top_k=5,
        logit_bias={"1": 2},
    )
    async with transport() as http:
        await provider(http, fresh.base("ok"), params={"service_tier": "auto"}).chat(request)
    path, headers, body = fresh.requests[0]
    assert path == "/ok/v1/messages"
    assert headers["x-api-key"] == "sk-test"
    assert headers["anthropic-version"] == "2023-06-01"
    assert body == {
        "model": "claude-up",
        "system": "Be brief.\n\nUse metric units.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}},
                    {"type": "text", "text": "Also the time."},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"c": 1}},
                    {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "max_tokens": 300,
        "temperature": 1.0,
        "top_p": 0.5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-7"},
        "top_k": 5,
        "tools": [
            {"name": "weather", "description": "forecast", "input_schema": {"type": "object"}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        "service_tier": "auto",
    }


@pytest.mark.parametrize(
    ("choice", "expected"), [("none", {"type": "none"}), ("auto", {"type": "auto"}), ("required", {"type": "any"})]
)
async def test_tool_choice_and_defaults(fresh: Upstream, choice: str, expected: dict[str, str]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    async with transport() as http:
        # base_url already ending in /v1 is accepted too; unknown fields are passed when configured.
        p = provider(http, fresh.base("ok") + "/v1/", unknown_params="pass")
        await p.chat(chat(tools=tools, tool_choice=choice, logit_bias={"1": 2}, seed=1))
    path, _, body = fresh.requests[0]
    assert path == "/ok/v1/messages"
    assert body["tool_choice"] == expected
    assert body["max_tokens"] == 4096
    assert body["logit_bias"] == {"1": 2}
    assert "seed" not in body
    assert body["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fmt", "needle"),
    [
        ({"type": "json_object"}, "single valid JSON object"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "required": ["a"]}}},
            '{"type": "object", "required": ["a"]}',
        ),
    ],
)
async def test_response_format_becomes_system_instruction(fresh: Upstream, fmt: dict[str, Any], needle: str) -> None:
    async with transport() as http:
        await provider(http, fresh.base("ok")).chat(chat(response_format=fmt))
    body = fresh.requests[0][2]
    assert needle in body["system"]
    assert "response_format" not in body


def test_empty_tool_result_and_merged_turns() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": ""}}]},
            {"role": "assistant", "content": ""},
            {"role": "tool", "tool_call_id": "c1", "content": ""},
        ]
    )
    body = anthropic_body(request, model="x", pass_unknown=False, params={})
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}]},
    ]


async def test_unsupported_content_part_is_invalid_request(fresh: Upstream) -> None:
    request = chat(messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])
    async with transport() as http:
        with pytest.raises(InvalidRequest) as info:
            await provider(http, fresh.base("ok")).chat(request)
    assert info.value.param == "messages.0.content.0"
    assert fresh.requests == []


# ------------------------------------------------------------------------------------------ responses


async def test_chat_response(fresh: Upstream) -> None:
    async with transport() as http:
        resp = await provider(http, fresh.base("ok")).chat(chat())
    assert resp.id == "msg_01"
    assert resp.content == "Let me check. One moment."
    assert resp.finish_reason == "tool_calls"
    assert resp.tool_calls is not None
    assert resp.tool_calls[0].id == "toolu_1"
    assert resp.tool_calls[0].function.name == "weather"
    assert json.loads(resp.tool_calls[0].function.arguments) == {"city": "Oslo"}
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.cached_tokens, resp.usage.completion_tokens) == (115, 100, 20)


async def test_stream(fresh: Upstream) -> None:
    async with transport() as http:
        chunks = await collect(provider(http, fresh.base("sse")).stream(chat()))
    assert fresh.requests[0][2]["stream"] is True
    assert "".join(c.content or "" for c in chunks) == "Hello"
    deltas = [d for c in chunks for d in c.tool_calls or []]
    assert [(d.index, d.id, d.name) for d in deltas if d.id] == [(0, "toolu_1", "weather"), (1, "toolu_2", "now")]
    assert "".join(d.arguments for d in deltas if d.index == 0) == '{"city": "Oslo"}'
    assert "".join(d.arguments for d in deltas if d.index == 1) == "{}"
    last = chunks[-1]
    assert last.finish_reason == "tool_calls"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.completion_tokens) == (110, 100, 15)
    assert all(c.finish_reason is None for c in chunks[:-1])


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("scenario", "error", "status", "message"),
    [
        # The client sees the meaning of a failure, not the upstream's words (they go to the log)...
        ("500", UpstreamStatusError, 500, "upstream answered 500: the upstream failed"),
        ("429", UpstreamRateLimited, None, "the upstream is rate limiting"),
        # ... except when the upstream refused the request itself: then the client needs the reason.
        ("400", UpstreamStatusError, 400, "max_tokens: too big"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_error_status(
    fresh: Upstream, scenario: str, error: type[UpstreamError], status: int | None, message: str, streaming: bool
) -> None:
    async with transport() as http:
        p = provider(http, fresh.base(scenario))
        with pytest.raises(error) as info:
            await (collect(p.stream(chat())) if streaming else p.chat(chat()))
    assert message in info.value.message
    assert type(info.value) is error
    if status is not None:
        assert isinstance(info.value, UpstreamStatusError)
        assert info.value.upstream_status == status


@pytest.mark.parametrize("scenario", ["garbage", "wrongshape"])
async def test_malformed_json_is_protocol_error(fresh: Upstream, scenario: str) -> None:
    async with transport() as http:
        with pytest.raises(UpstreamProtocolError):
            await provider(http, fresh.base(scenario)).chat(chat())


@pytest.mark.parametrize(
    ("scenario", "error"),
    [("cut", UpstreamProtocolError), ("badjson", UpstreamProtocolError), ("truncated", UpstreamConnectError)],
)
async def test_broken_streams(fresh: Upstream, scenario: str, error: type[Exception]) -> None:
    got: list[Chunk] = []
    async with transport() as http:
        with pytest.raises(error):
            async for chunk in provider(http, fresh.base(scenario)).stream(chat()):
                got.append(chunk)
    assert all(c.finish_reason is None for c in got)


async def test_error_event_mid_stream(fresh: Upstream) -> None:
    got: list[Chunk] = []
    async with transport() as http:
        with pytest.raises(UpstreamError, match="overloaded_error"):
            async for chunk in provider(http, fresh.base("error")).stream(chat()):
                got.append(chunk)
    assert [c.content for c in got] == ["Hel"]


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    async with transport() as http:
        p = provider(http, f"http://127.0.0.1:{port}")
        with pytest.raises(UpstreamConnectError):
            await p.chat(chat())
        with pytest.raises(UpstreamConnectError):
            await collect(p.stream(chat()))


async def test_pool_timeout_is_upstream_timeout(fresh: Upstream) -> None:
    # One pooled connection held by a slow stream: the next request waits for the pool, longer than
    # the model's connect timeout (which bounds the pool wait too).
    async with transport(max_connections=1) as http:
        p = provider(http, fresh.base("slow"), timeouts=Timeouts(connect=0.1))
        hold = p.stream(chat())
        await anext(hold)
        with pytest.raises(UpstreamTimeout):
            await p.chat(chat())
        await hold.aclose()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------- cancellation


async def wait_for_disconnect(up: Upstream) -> bool:
    return await asyncio.to_thread(up.disconnected.wait, 3.0)


async def test_closing_the_stream_closes_the_upstream(fresh: Upstream) -> None:
    async with transport() as http:
        stream = provider(http, fresh.base("slow")).stream(chat())
        first = await anext(stream)
        assert first.content == "."
        await stream.aclose()  # type: ignore[attr-defined]
        assert await wait_for_disconnect(fresh)


async def test_cancelling_the_consumer_closes_the_upstream(fresh: Upstream) -> None:
    started = asyncio.Event()

    async def consume(http: HttpTransport) -> None:
        async for _ in provider(http, fresh.base("slow")).stream(chat()):
            started.set()

    async with transport() as http:
        task = asyncio.create_task(consume(http))
        await asyncio.wait_for(started.wait(), 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_for_disconnect(fresh)
