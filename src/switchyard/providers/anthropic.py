"""Upstreams that speak the native Anthropic Messages API (``{base_url}/v1/messages``).

The internal request is OpenAI-shaped; :func:`anthropic_body` translates it:

- ``system`` / ``developer`` messages -> ``system``; ``tool`` messages -> ``tool_result`` blocks in a
  user message; consecutive messages of one role are merged (the API wants alternating roles), with
  ``tool_result`` blocks first as the API requires.
- ``tool_choice`` none/auto/required/function -> none/auto/any/tool; ``parallel_tool_calls: false``
  -> ``disable_parallel_tool_use``; ``stop`` -> ``stop_sequences``; ``user`` -> ``metadata.user_id``.
- ``temperature`` is clamped to Anthropic's 0..1; ``seed`` and the penalties have no equivalent and
  are dropped; ``top_k`` (an extra field) is passed as Anthropic's own parameter.
- ``response_format`` has no Anthropic equivalent: a system instruction asks for JSON (quoting the
  schema for ``json_schema``). The answer is not validated against the schema.
- Other extra fields go upstream only when the model's ``unknown_params`` is ``pass``; the model's
  ``params`` are added to every request (client values win).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar

from ..errors import (
    InvalidRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
)
from ..types import (
    JSON,
    ChatRequest,
    ChatResponse,
    Chunk,
    FunctionCall,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ..wire.anthropic import tool_input
from .base import Provider
from .http_errors import status_error

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Extra fields with a native Anthropic meaning: always translated, never subject to unknown_params.
_NATIVE_EXTRAS = frozenset({"top_k", "parallel_tool_calls"})


def finish_reason(stop_reason: str | None) -> str:
    return _FINISH.get(stop_reason or "end_turn", "stop")


# --------------------------------------------------------------------------------- request translation


def _image_block(url: str) -> JSON:
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(msg: Message, i: int) -> list[JSON]:
    if msg.content is None:
        return []
    if isinstance(msg.content, str):
        return [{"type": "text", "text": msg.content}] if msg.content else []
    blocks: list[JSON] = []
    for j, part in enumerate(msg.content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise InvalidRequest("image_url part without a url", param=f"messages.{i}.content.{j}")
            blocks.append(_image_block(url))
        else:
            where = f"messages.{i}.content.{j}"
            raise InvalidRequest(f"content part type {kind!r} is not supported by Anthropic models", param=where)
    return blocks


def _messages(request: ChatRequest) -> tuple[list[str], list[JSON]]:
    """System texts and the alternating user/assistant messages."""
    system: list[str] = []
    turns: list[tuple[str, list[JSON]]] = []
    for i, msg in enumerate(request.messages):
        if msg.role in ("system", "developer"):
            if msg.text():
                system.append(msg.text())
            continue
        if msg.role == "tool":
            role = "user"
            result: JSON = {"type": "tool_result", "tool_use_id": msg.tool_call_id or ""}
            if msg.text():  # the API refuses empty text, but a result may have no content at all
                result["content"] = msg.text()
            blocks = [result]
        else:
            role = msg.role
            blocks = _content_blocks(msg, i)
            for tc in msg.tool_calls or []:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": tc.id,
                        "name": tc.function.name,
                        "input": tool_input(tc.function.arguments),
                    }
                )
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))

    messages: list[JSON] = []
    for role, blocks in turns:
        # tool_result blocks must come first in their user message (stable sort keeps their order).
        blocks.sort(key=lambda b: b["type"] != "tool_result")
        single_text = len(blocks) == 1 and blocks[0]["type"] == "text"
        messages.append({"role": role, "content": blocks[0]["text"] if single_text else blocks})
    return system, messages


def _json_instruction(request: ChatRequest) -> str | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    text = "Respond with a single valid JSON object only: no prose, no code fences."
    if fmt.type == "json_schema" and fmt.json_schema:
        schema = fmt.json_schema.get("schema", fmt.json_schema)
        text += " The object must match this JSON schema:\n" + json.dumps(schema, ensure_ascii=False)
    return text


def _tool_choice(choice: Any) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mapped = {"none": "none", "auto": "auto", "required": "any"}.get(choice)
        return {"type": mapped} if mapped else None
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise InvalidRequest("tool_choice must name a function", param="tool_choice")
    return {"type": "tool", "name": name}


def anthropic_body(request: ChatRequest, *, model: str, pass_unknown: bool, params: JSON) -> JSON:
    """The Anthropic Messages request body for an internal request (without ``stream``)."""
    system, messages = _messages(request)
    instruction = _json_instruction(request)
    if instruction:
        system.append(instruction)
    body: JSON = {
        "model": model,
        "messages": messages,
        "max_tokens": request.output_limit() or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop_list():
        body["stop_sequences"] = request.stop_list()
    if request.user:
        body["metadata"] = {"user_id": request.user}
    extras = request.extra_fields()
    if extras.get("top_k") is not None:
        body["top_k"] = extras["top_k"]
    if request.tools:
        body["tools"] = [
            {
                "name": t.function.name,
                **({"description": t.function.description} if t.function.description else {}),
                "input_schema": t.function.parameters or {"type": "object", "properties": {}},
            }
            for t in request.tools
        ]
        choice = _tool_choice(request.tool_choice)
        if extras.get("parallel_tool_calls") is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            body["tool_choice"] = choice
    if pass_unknown:
        for k, v in extras.items():
            if k not in _NATIVE_EXTRAS:
                body.setdefault(k, v)
    for k, v in params.items():
        body.setdefault(k, v)
    return body


# -------------------------------------------------------------------------------- response translation


def _usage(raw: Any) -> Usage:
    u = raw if isinstance(raw, dict) else {}
    cached = int(u.get("cache_read_input_tokens") or 0)
    created = int(u.get("cache_creation_input_tokens") or 0)
    return Usage(
        prompt_tokens=int(u.get("input_tokens") or 0) + cached + created,
        completion_tokens=int(u.get("output_tokens") or 0),
        cached_tokens=cached,
    )


def chat_response(data: Any) -> ChatResponse:
    """An Anthropic message JSON -> internal response. Raises :class:`UpstreamProtocolError`."""
    try:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in data["content"]:
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "tool_use":
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
                calls.append(ToolCall(id=block["id"], function=FunctionCall(name=block["name"], arguments=arguments)))
        return ChatResponse(
            id=str(data["id"]),
            model=str(data.get("model") or ""),
            created=int(time.time()),
            content="".join(texts) if texts else None,
            finish_reason=finish_reason(data.get("stop_reason")),
            tool_calls=calls or None,
            usage=_usage(data.get("usage")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamProtocolError(f"unexpected Anthropic response: {exc!r}") from exc


def _stream_error(data: JSON) -> UpstreamError:
    raw = data.get("error")
    err: JSON = raw if isinstance(raw, dict) else {}
    kind, message = err.get("type", "api_error"), err.get("message", "")
    if kind == "rate_limit_error":
        return UpstreamRateLimited(f"upstream stream error ({kind}): {message}")
    return UpstreamError(f"upstream stream error ({kind}): {message}")


async def _sse(lines: AsyncIterator[str]) -> AsyncGenerator[JSON, None]:
    """The JSON payloads of a server-sent event stream."""
    data: list[str] = []
    async for line in lines:
        if line:
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            continue
        if data:
            payload = "\n".join(data)
            data = []
            try:
                event = json.loads(payload)
            except ValueError as exc:
                raise UpstreamProtocolError(f"invalid JSON in upstream event: {payload[:200]!r}") from exc
            if not isinstance(event, dict):
                raise UpstreamProtocolError(f"unexpected upstream event: {payload[:200]!r}")
            yield event


class _StreamState:
    """Turns Anthropic stream events into internal chunks."""

    def __init__(self) -> None:
        self.usage: JSON = {}
        self.stop_reason: str | None = None
        self.tools: dict[int, int] = {}  # content block index -> tool call index
        self.tool_args: dict[int, bool] = {}  # tool call index -> any arguments sent
        self.done = False

    def handle(self, event: JSON) -> Chunk | None:
        kind = event.get("type")
        if kind == "message_start":
            self.usage.update((event.get("message") or {}).get("usage") or {})
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "text" and block.get("text"):
                return Chunk(content=block["text"])
            if block.get("type") == "tool_use":
                t = self.tools[event["index"]] = len(self.tools)
                self.tool_args[t] = False
                return Chunk(tool_calls=[ToolCallDelta(index=t, id=block["id"], name=block["name"])])
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return Chunk(content=delta["text"])
            if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                t = self.tools[event["index"]]
                self.tool_args[t] = True
                return Chunk(tool_calls=[ToolCallDelta(index=t, arguments=delta["partial_json"])])
        elif kind == "content_block_stop":
            t_or_none = self.tools.get(event.get("index", -1))
            if t_or_none is not None and not self.tool_args[t_or_none]:
                self.tool_args[t_or_none] = True  # a tool without input: still valid JSON arguments
                return Chunk(tool_calls=[ToolCallDelta(index=t_or_none, arguments="{}")])
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            self.done = True
            return Chunk(finish_reason=finish_reason(self.stop_reason), usage=_usage(self.usage))
        elif kind == "error":
            raise _stream_error(event)
        return None


class AnthropicProvider(Provider):
    """A deployment reached over the Anthropic Messages API."""

    kind: ClassVar[str] = "anthropic"

    @property
    def url(self) -> str:
        base = (self.deployment.base_url or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        key = self.api_key()
        if key:
            headers["x-api-key"] = key
        return headers

    def request_body(self, request: ChatRequest) -> JSON:
        return anthropic_body(
            request,
            model=self.model.upstream_name,
            pass_unknown=self.model.unknown_params == "pass",
            params=self.model.params,
        )

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = json.dumps(self.request_body(request)).encode()
        status, content = await self.ctx.http.post(
            self.url, body, self.headers(), connect_timeout=self.model.timeouts.connect
        )
        if status >= 400:
            raise status_error(status, content)
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise UpstreamProtocolError(f"upstream answered invalid JSON: {content[:200]!r}") from exc
        return chat_response(data)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """Chunks as they arrive; the last carries ``finish_reason`` and ``usage``. Closing the
        generator early (client gone, cancellation) closes the upstream connection."""
        body = json.dumps({**self.request_body(request), "stream": True}).encode()
        async with self.ctx.http.stream(
            self.url, body, self.headers(), connect_timeout=self.model.timeouts.connect
        ) as resp:
            if resp.status >= 400:
                raise status_error(resp.status, await resp.read())
            events = _sse(resp.lines())
            try:
                state = _StreamState()
                while not state.done:
                    event = await anext(events, None)
                    if event is None:
                        raise UpstreamProtocolError("upstream stream ended before message_stop")
                    try:
                        chunk = state.handle(event)
                    except (KeyError, TypeError, AttributeError) as exc:
                        raise UpstreamProtocolError(f"unexpected upstream event {event!r:.200}") from exc
                    if chunk is not None:
                        yield chunk
            finally:
                await events.aclose()
            await resp.finish()  # the body's end, so the connection can be reused
