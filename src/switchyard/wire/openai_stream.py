"""OpenAI chat completion chunks, both ways: the client-side encoder (internal chunks ->
``chat.completion.chunk`` SSE events) and the upstream decoder (one event's JSON -> an internal chunk)."""

from __future__ import annotations

import orjson

from ..errors import SwitchyardError, UpstreamError, UpstreamProtocolError
from ..types import JSON, Chunk, ToolCallDelta, Usage
from .openai import error_body, parse_usage, usage_json

# ------------------------------------------------------------------------------- client side: chunks -> events


class ChunkEncoder:
    """Encodes internal chunks as OpenAI ``chat.completion.chunk`` SSE events."""

    def __init__(self, request_id: str, model: str, created: int, include_usage: bool) -> None:
        self._head = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self.include_usage = include_usage
        self._sent_role = False

    def _event(self, payload: JSON) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def encode(self, chunk: Chunk) -> bytes:
        if chunk.content is None and not chunk.tool_calls and chunk.finish_reason is None:
            return b""
        delta: JSON = {}
        if not self._sent_role:
            delta["role"] = "assistant"
            self._sent_role = True
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.tool_calls:
            calls = []
            for tc in chunk.tool_calls:
                call: JSON = {"index": tc.index, "function": {"arguments": tc.arguments}}
                if tc.id is not None:
                    call["id"] = tc.id
                    call["type"] = "function"
                if tc.name is not None:
                    call["function"]["name"] = tc.name
                calls.append(call)
            delta["tool_calls"] = calls
        choice = {"index": 0, "delta": delta, "finish_reason": chunk.finish_reason, "logprobs": None}
        return self._event({**self._head, "choices": [choice]})

    def finish(self, usage: Usage | None) -> bytes:
        out = b""
        if self.include_usage and usage is not None:
            out += self._event({**self._head, "choices": [], "usage": usage_json(usage)})
        return out + b"data: [DONE]\n\n"

    def error(self, err: SwitchyardError) -> bytes:
        return self._event(error_body(err)) + b"data: [DONE]\n\n"

    def extension(self, data: JSON) -> bytes:
        """A chunk without choices (like the usage chunk) carrying a top-level ``switchyard`` block."""
        return self._event({**self._head, "choices": [], "switchyard": data})


# ----------------------------------------------------------------------------- upstream side: events -> chunks


def parse_chunk(payload: str) -> Chunk | None:
    """One upstream event's ``data`` (a chunk's JSON) -> an internal chunk, or ``None`` when it carries
    nothing. Raises :class:`UpstreamError` for an error event."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError("upstream stream carried malformed JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError("upstream stream chunk is not an object")
    if "error" in data:
        err = data["error"]
        message = err.get("message") if isinstance(err, dict) else str(err)
        raise UpstreamError(f"upstream stream error: {message}")
    usage = parse_usage(data.get("usage"))
    choices = data.get("choices") or []
    if not choices:
        return Chunk(usage=usage) if usage else None
    choice = choices[0]
    delta = choice.get("delta") or {}
    calls = None
    if delta.get("tool_calls"):
        calls = []
        for c in delta["tool_calls"]:
            fn = c.get("function") or {}
            calls.append(
                ToolCallDelta(
                    index=int(c.get("index", 0)),
                    id=c.get("id"),
                    name=fn.get("name"),
                    arguments=fn.get("arguments") or "",
                )
            )
    return Chunk(
        content=delta.get("content"),
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=usage,
    )
