"""The Anthropic format both ways: what switchyard renders for a client (a message, a usage block, an event
stream) reads back, through the parsers it uses on Anthropic upstreams, as what it rendered."""

from __future__ import annotations

import dataclasses
import json

import pytest

from switchyard.errors import UpstreamProtocolError, UpstreamRateLimited
from switchyard.types import ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta, Usage
from switchyard.wire.anthropic import parse_message, parse_usage, render_message, usage_json
from switchyard.wire.anthropic_stream import AnthropicStreamDecoder, AnthropicStreamEncoder


@pytest.mark.parametrize("usage", [Usage(10, 3), Usage(10, 3, cached_tokens=4), Usage(0, 0)])
def test_usage_round_trip(usage: Usage) -> None:
    assert parse_usage(usage_json(usage)) == usage


def test_message_round_trip() -> None:
    call = ToolCall(id="toolu_1", function=FunctionCall(name="f", arguments='{"a": 1}'))
    resp = ChatResponse(
        id="msg_1",
        model="m",
        created=0,
        content="hi",
        finish_reason="tool_calls",
        tool_calls=[call],
        usage=Usage(7, 2, cached_tokens=3),
    )
    back = parse_message(render_message(resp, "m"))
    assert dataclasses.replace(back, created=0) == resp  # ``created`` is not in the Messages format


def _events(data: list[bytes]) -> list[dict[str, object]]:
    out = []
    for raw in b"".join(data).decode().split("\n\n"):
        if raw:
            kind, payload = raw.split("\n")
            event = json.loads(payload.removeprefix("data: "))
            assert kind == f"event: {event['type']}"
            out.append(event)
    return out


def test_stream_round_trip() -> None:
    enc = AnthropicStreamEncoder("m", "msg_1", input_tokens=5)
    chunks = [
        Chunk(content="he"),
        Chunk(content="llo"),
        Chunk(tool_calls=[ToolCallDelta(index=0, id="toolu_1", name="f")]),
        Chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a": 1}')]),
        Chunk(finish_reason="tool_calls"),
    ]
    events = _events([b for c in chunks for b in enc.encode(c)] + enc.finish(Usage(5, 2)))
    decoder = AnthropicStreamDecoder()
    back = [c for e in events if (c := decoder.decode(e)) is not None]
    assert decoder.done
    assert back == [*chunks[:4], Chunk(finish_reason="tool_calls", usage=Usage(5, 2))]


def test_decoder_errors() -> None:
    with pytest.raises(UpstreamRateLimited, match="slow down"):
        AnthropicStreamDecoder().decode(
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
        )
    with pytest.raises(UpstreamProtocolError):  # a delta for a tool block that never started
        AnthropicStreamDecoder().decode(
            {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{"}}
        )
