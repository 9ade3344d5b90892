"""The OpenAI format both ways: what switchyard renders for a client reads back, through the parsers it
uses on OpenAI-compatible upstreams, as what it rendered."""

from __future__ import annotations

import orjson
import pytest

from switchyard.errors import UpstreamError, UpstreamProtocolError
from switchyard.types import ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta, Usage
from switchyard.wire.openai import (
    parse_completion,
    parse_embeddings,
    parse_usage,
    render_embeddings,
    render_response,
    usage_json,
)
from switchyard.wire.openai_stream import ChunkEncoder, parse_chunk


@pytest.mark.parametrize("usage", [Usage(10, 3), Usage(10, 3, cached_tokens=4), Usage(0, 0)])
def test_usage_round_trip(usage: Usage) -> None:
    assert parse_usage(usage_json(usage)) == usage


def test_no_usage_is_none() -> None:
    assert parse_usage(None) is None


@pytest.mark.parametrize(
    "resp",
    [
        ChatResponse(id="chatcmpl-1", model="m", created=7, content="hi", finish_reason="stop", usage=Usage(5, 1)),
        ChatResponse(
            id="chatcmpl-2",
            model="m",
            created=7,
            content=None,
            finish_reason="tool_calls",
            tool_calls=[ToolCall(id="call_1", function=FunctionCall(name="f", arguments='{"a": 1}'))],
            usage=Usage(5, 2, cached_tokens=3),
        ),
        ChatResponse(id="chatcmpl-3", model="m", created=7, content="x", finish_reason="length", usage=None),
    ],
)
def test_response_round_trip(resp: ChatResponse) -> None:
    assert parse_completion(render_response(resp, "m", resp.id), "fallback") == resp


def test_completion_defaults_and_bad_shape() -> None:
    resp = parse_completion({"choices": [{"message": {"content": "hi"}}]}, "fallback")
    assert (resp.model, resp.finish_reason, resp.id, resp.usage) == ("fallback", "stop", "", None)
    with pytest.raises(UpstreamProtocolError):
        parse_completion({"choices": []}, "m")


def _events(data: bytes) -> list[str]:
    return [e.removeprefix("data: ") for e in data.decode().split("\n\n") if e]


def test_chunks_round_trip() -> None:
    enc = ChunkEncoder("chatcmpl-1", "m", 7, include_usage=True)
    chunks = [
        Chunk(content="he"),
        Chunk(content="llo"),
        Chunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="f")]),
        Chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a"')]),
        Chunk(finish_reason="tool_calls"),
    ]
    payloads = _events(b"".join(enc.encode(c) for c in chunks) + enc.finish(Usage(4, 2)))
    assert payloads[-1] == "[DONE]"
    back = [parse_chunk(p) for p in payloads[:-1]]
    tool_start = ToolCallDelta(index=0, id="call_1", name="f", arguments="")
    assert back == [*chunks[:2], Chunk(tool_calls=[tool_start]), *chunks[3:], Chunk(usage=Usage(4, 2))]


def test_chunk_error_event() -> None:
    with pytest.raises(UpstreamError, match="boom"):
        parse_chunk(orjson.dumps({"error": {"message": "boom"}}).decode())
    with pytest.raises(UpstreamProtocolError):
        parse_chunk("{not json")


@pytest.mark.parametrize("encoding", [None, "float"])
def test_embeddings_round_trip(encoding: str | None) -> None:
    vectors = [[0.5, -0.25], [1.0, 0.0]]
    body = render_embeddings(vectors, "e", Usage(3, 0), encoding)
    body["data"].reverse()  # upstreams may answer out of order: the index decides
    out = parse_embeddings(body, "e")
    assert (out.vectors, out.model, out.usage) == (vectors, "e", Usage(3, 0))
