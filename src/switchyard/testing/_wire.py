"""The mock upstream's answers in the OpenAI and Anthropic wire formats: pure functions, no state.

Answers are deterministic: the text is ``echo: `` followed by the last user message, cut to a word
limit; a "token" is a whitespace-separated word; embeddings are unit vectors derived from a SHA-256 of
the text.

The mock is what switchyard's upstream-side wire code (:mod:`switchyard.wire`) is tested against, so it
writes out its own stop-reason table, usage, error types and event framing instead of calling the
gateway's renderers: rendered by the gateway's code, they would agree with the gateway's parsers by
construction, and a mistake made the same way in both directions would pass every test. Only the float32
packing of base64 embeddings is shared: the gateway never reads base64 from an upstream, and the mock's
tests decode it independently.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from switchyard.wire.openai import base64_floats

JSON = dict[str, Any]

OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# Internal finish -> Anthropic stop_reason, as Anthropic sends it (not switchyard.wire.anthropic's: see above).
ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
ARGUMENT_PIECE = 16  # characters of tool-call arguments per streamed delta

_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# --- errors -------------------------------------------------------------------------------------------


def error(
    anthropic: bool, request_id: str, status: int, message: str, param: str | None = None, *, code: str | None = None
) -> JSON:
    """An error body as OpenAI or Anthropic shapes it (``code``, OpenAI's only, replaces the status's usual one)."""
    if anthropic:
        kind = _ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    default = ("server_error" if status >= 500 else "invalid_request_error", None)
    kind, usual = _OPENAI_ERRORS.get(status, default)
    return {"error": {"message": message, "type": kind, "param": param, "code": code or usual}}


def retry_headers(retry_after: float | None) -> list[tuple[str, str]]:
    if retry_after is None:
        return []
    return [("retry-after", str(math.ceil(retry_after))), ("retry-after-ms", str(int(retry_after * 1000)))]


def validate(route: str, body: Any, headers: dict[str, str]) -> tuple[str, str | None] | None:
    """``(message, param)`` when a real upstream would answer 400, else ``None``."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object", None
    if route == "chat":
        return validate_openai_chat(body)
    if route == "messages":
        problem = validate_anthropic(body, headers)
        return None if problem is None else (problem, None)
    if not isinstance(body.get("model"), str) or embedding_inputs(body.get("input")) is None:
        return "'model' and a non-empty 'input' are required", "input"
    return None


def validate_openai_chat(body: JSON) -> tuple[str, str] | None:
    """``(message, param)`` when the request would be rejected by OpenAI, else ``None``."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array", "messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in OPENAI_ROLES:
            return f"Invalid value for 'messages[{i}].role'", f"messages[{i}].role"
    return None


def validate_anthropic(body: JSON, headers: dict[str, str]) -> str | None:
    """The message Anthropic would answer with a 400, else ``None``."""
    if "anthropic-version" not in headers:
        return "anthropic-version: header is required"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required (an integer >= 1)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
    return None


# --- replies ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON object, as text


@dataclass(slots=True)
class Reply:
    """One answer, independent of the wire format it is written in."""

    pieces: list[str]  # the text as streamed: "echo:", " hello", " world"
    tool_calls: list[ToolCall]
    finish: str  # "stop" | "length" | "tool_calls"
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def content_text(content: Any) -> str:
    """Text of a message content or a system prompt: a string or a list of typed blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                parts.append(content_text(block.get("content")))
    return " ".join(parts)


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str) -> list[str]:
    words = text.split()
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def text_pieces(text: str) -> list[str]:
    """Each word with the whitespace before it (trailing whitespace a piece of its own): the pieces join
    back to ``text`` exactly."""
    pieces: list[str] = []
    for run in re.findall(r"\s+|\S+", text):
        if pieces and pieces[-1].isspace():
            pieces[-1] += run
        else:
            pieces.append(run)
    return pieces


def recorded_reply(
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
    finish: str = "stop",
    tool_calls: list[ToolCall] | None = None,
) -> Reply:
    """An answer given in full (a recording, a scripted model): the text and tool calls as is, the usage as
    given; with tool calls a ``stop`` finish becomes ``tool_calls``."""
    calls = list(tool_calls or ())
    if calls and finish == "stop":
        finish = "tool_calls"
    return Reply(text_pieces(text), calls, finish, prompt_tokens, completion_tokens, 0)


def _sample(schema: Any, text: str) -> Any:
    """A deterministic value that fits a JSON schema well enough for a test."""
    if not isinstance(schema, dict):
        return text
    kind = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {k: _sample(props.get(k), text) for k in required}
    samples: dict[Any, Any] = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "null": None}
    return samples.get(kind, text)


def make_reply(
    *,
    prompt: str,
    last_user: str,
    max_words: int,
    limit: int | None,
    tools: list[tuple[str, Any]],
    force_tool: str | None,
    text: str | None,
    tool_name: str | None,
    tool_arguments: str | None,
    cached_tokens: int,
    call_id: str,
) -> Reply:
    """Build the answer: a scripted tool call, scripted text (even when the request forces a call: a model
    that ignores ``tool_choice``), a forced tool call, else the echo."""
    prompt_tokens = max(1, _words(prompt))
    cached = min(cached_tokens, prompt_tokens)
    name = tool_name or (force_tool if text is None else None)
    if name is not None or tool_arguments is not None:
        schemas = dict(tools)
        name = name or (tools[0][0] if tools else "mock_tool")
        args = tool_arguments
        if args is None:
            sample = _sample(schemas.get(name) or {"type": "object"}, " ".join(last_user.split()[:8]))
            args = dumps(sample if isinstance(sample, dict) else {}).decode()
        call = ToolCall(call_id, name, args)
        return Reply([], [call], "tool_calls", prompt_tokens, 1 + _words(args), cached)
    pieces = _pieces(text) if text is not None else _pieces("echo: " + last_user)[:max_words]
    finish = "stop"
    if limit is not None and len(pieces) > limit:
        pieces, finish = pieces[:limit], "length"
    return Reply(pieces, [], finish, prompt_tokens, len(pieces), cached)


def openai_inputs(body: JSON) -> tuple[str, str, list[tuple[str, Any]], str | None, int | None]:
    """``(prompt, last user text, tools, forced tool, output limit)`` of an OpenAI chat request."""
    messages = body["messages"]
    prompt = " ".join(content_text(m.get("content")) for m in messages)
    last = next((m for m in reversed(messages) if m.get("role") in ("user", "tool")), messages[-1])
    tools: list[tuple[str, Any]] = []
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            tools.append((fn["name"], fn.get("parameters")))
    choice = body.get("tool_choice")
    force: str | None = None
    if tools and choice == "required":
        force = tools[0][0]
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        force = choice["function"].get("name")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return prompt, content_text(last.get("content")), tools, force, limit if isinstance(limit, int) else None


def anthropic_inputs(body: JSON) -> tuple[str, str, list[tuple[str, Any]], str | None, int | None]:
    """``(prompt, last user text, tools, forced tool, output limit)`` of an Anthropic request."""
    messages = body["messages"]
    prompt = " ".join([content_text(body.get("system")), *(content_text(m.get("content")) for m in messages)])
    last = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
    tools = [
        (t["name"], t.get("input_schema"))
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    ]
    choice = body.get("tool_choice")
    force: str | None = None
    if tools and isinstance(choice, dict):
        if choice.get("type") == "any":
            force = tools[0][0]
        elif choice.get("type") == "tool":
            force = choice.get("name")
    return prompt, content_text(last.get("content")), tools, force, body["max_tokens"]


# --- OpenAI -------------------------------------------------------------------------------------------


def openai_usage(r: Reply) -> JSON:
    return {
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": r.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _openai_tool_calls(r: Reply) -> list[JSON]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in r.tool_calls
    ]


def openai_logprobs(r: Reply, logprob: float) -> JSON:
    """``choices[].logprobs`` with every text piece at the same log-probability."""
    tokens = [{"token": p, "logprob": logprob, "bytes": list(p.encode()), "top_logprobs": []} for p in r.pieces]
    return {"content": tokens, "refusal": None}


def openai_completion(r: Reply, rid: str, model: str, created: int, logprob: float | None = None) -> JSON:
    message: JSON = {"role": "assistant", "content": None if r.tool_calls else r.text, "refusal": None}
    if r.tool_calls:
        message["tool_calls"] = _openai_tool_calls(r)
    logprobs = None if logprob is None or r.tool_calls else openai_logprobs(r, logprob)
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": r.finish}],
        "usage": openai_usage(r),
    }


def openai_stream(r: Reply, rid: str, model: str, created: int, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed completion, ``data: [DONE]`` included."""
    head = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
    head["system_fingerprint"] = "fp_mock"
    if include_usage:
        head["usage"] = None

    def event(delta: JSON, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + dumps({**head, "choices": [choice]}) + b"\n\n"

    events = [event({"role": "assistant", "content": None if r.tool_calls else "", "refusal": None})]
    events.extend(event({"content": p}) for p in r.pieces)
    for i, c in enumerate(r.tool_calls):
        fn = {"name": c.name, "arguments": ""}
        events.append(event({"tool_calls": [{"index": i, "id": c.id, "type": "function", "function": fn}]}))
        for j in range(0, len(c.arguments), ARGUMENT_PIECE):
            part = {"arguments": c.arguments[j : j + ARGUMENT_PIECE]}
            events.append(event({"tool_calls": [{"index": i, "function": part}]}))
    events.append(event({}, r.finish))
    if include_usage:
        events.append(b"data: " + dumps({**head, "choices": [], "usage": openai_usage(r)}) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def openai_stream_error(status: int, message: str) -> bytes:
    return b"data: " + dumps(error(False, "", status, message)) + b"\n\n"


# --- Anthropic ----------------------------------------------------------------------------------------


def anthropic_usage(r: Reply, output_tokens: int | None = None) -> JSON:
    return {
        "input_tokens": r.prompt_tokens - r.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": r.cached_tokens,
        "output_tokens": r.completion_tokens if output_tokens is None else output_tokens,
    }


def _tool_input(arguments: str) -> Any:
    """A tool call's ``input``: the arguments parsed, or their text when they do not parse (a broken answer)."""
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


def _anthropic_content(r: Reply) -> list[JSON]:
    if r.tool_calls:
        return [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)} for c in r.tool_calls
        ]
    return [{"type": "text", "text": r.text}]


def anthropic_message(r: Reply, rid: str, model: str) -> JSON:
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_content(r),
        "stop_reason": ANTHROPIC_STOP[r.finish],
        "stop_sequence": None,
        "usage": anthropic_usage(r),
    }


def _sse(kind: str, data: JSON) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def anthropic_stream(r: Reply, rid: str, model: str) -> list[bytes]:
    """The SSE events of a streamed message, from ``message_start`` to ``message_stop``."""
    start = {**anthropic_message(r, rid, model), "content": [], "stop_reason": None}
    start["usage"] = anthropic_usage(r, output_tokens=1)
    events = [_sse("message_start", {"type": "message_start", "message": start})]
    blocks: list[tuple[JSON, list[JSON]]] = []
    if r.tool_calls:
        for c in r.tool_calls:
            block = {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}
            parts = [c.arguments[j : j + ARGUMENT_PIECE] for j in range(0, len(c.arguments), ARGUMENT_PIECE)]
            blocks.append((block, [{"type": "input_json_delta", "partial_json": p} for p in parts]))
    else:
        blocks.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in r.pieces]))
    for index, (block, deltas) in enumerate(blocks):
        events.append(
            _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        )
        if index == 0:
            events.append(_sse("ping", {"type": "ping"}))
        for d in deltas:
            events.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}))
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": ANTHROPIC_STOP[r.finish], "stop_sequence": None}
    usage = {"output_tokens": r.completion_tokens}
    events.append(_sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


def anthropic_stream_error(status: int, message: str, request_id: str) -> bytes:
    return _sse("error", error(True, request_id, status, message))


# --- embeddings and models ----------------------------------------------------------------------------


def embedding(text: str, dim: int) -> list[float]:
    """A unit vector of ``dim`` floats derived from SHA-256 of the text (same text, same vector)."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dim:
        digest += hashlib.sha256(digest).digest()
    values = [(b - 127.5) / 127.5 for b in digest[:dim]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embedding_inputs(raw: Any) -> list[str] | None:
    """The texts of an ``input`` (token-id arrays become their numbers as text), or ``None`` if invalid."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(x, int) for x in raw):
        return [" ".join(map(str, raw))]
    if all(isinstance(x, str) for x in raw):
        return list(raw)
    if all(isinstance(x, list) and all(isinstance(y, int) for y in x) for x in raw):
        return [" ".join(map(str, x)) for x in raw]
    return None


def embeddings(raw_input: Any, model: str, dim: int, encoding: str | None) -> JSON:
    texts = embedding_inputs(raw_input) or []
    data: list[JSON] = []
    for i, text in enumerate(texts):
        vector = embedding(text, dim)
        value: Any = vector
        if encoding == "base64":
            value = base64_floats(vector)
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(max(1, _words(t)) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def models(ids: list[str], anthropic: bool) -> JSON:
    if anthropic:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
        first, last = (ids[0], ids[-1]) if ids else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in ids],
    }
