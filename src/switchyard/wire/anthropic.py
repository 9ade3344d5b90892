"""The Anthropic Messages format, both ways: what clients send and receive at ``POST /v1/messages``, and
what switchyard sends to and reads from Anthropic upstreams. Events (streams) are in
:mod:`switchyard.wire.anthropic_stream`.

Client requests are validated with pydantic models of the Anthropic format and translated into the
internal, OpenAI-shaped :class:`~switchyard.types.ChatRequest` (:func:`parse_messages_request`);
:func:`anthropic_body` translates an internal request into an upstream Messages body. Whole answers go
out with :func:`render_message` and come back with :func:`parse_message`.

Client requests -> internal:

- ``system`` (a string or text blocks) becomes the first message, with role ``system``.
- ``tool_use`` blocks become the assistant message's ``tool_calls``; each ``tool_result`` block becomes
  a ``tool`` message placed before the rest of its user message (``is_error`` becomes an ``Error:``
  prefix; images inside a tool result move to the user message that follows).
- ``top_k`` and unknown top-level fields are kept as extra fields (the model's ``unknown_params`` decides
  whether they reach the upstream); ``tool_choice.disable_parallel_tool_use`` becomes
  ``parallel_tool_calls: false``.
- ``thinking`` / ``redacted_thinking`` blocks in the history are dropped: other upstreams cannot use them.

Internal -> upstream requests:

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

Usage: internally ``prompt_tokens`` includes cached tokens (OpenAI meaning); Anthropic's
``input_tokens`` excludes them, so ``input_tokens = prompt_tokens - cached_tokens`` going out, and
``prompt_tokens = input_tokens + cache reads + cache writes`` coming back.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidRequest, SwitchyardError, UpstreamProtocolError
from ..types import JSON, ChatRequest, ChatResponse, FunctionCall, Message, ToolCall, Usage
from .anthropic_models import (
    AnthropicMessage,
    ImageBlock,
    MessagesRequest,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    invalid,
)

# ------------------------------------------------------------------------------ requests: client -> internal


def parse_messages_request(body: Any) -> ChatRequest:
    """Validate an Anthropic Messages request body and translate it into the internal request.

    Raises :class:`InvalidRequest` whose ``param`` names the offending field (``messages.0.content``).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        req = MessagesRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise invalid(exc) from None

    messages: list[Message] = []
    if req.system:
        messages.append(Message(role="system", content="\n".join(b.text for b in req.system)))
    for i, m in enumerate(req.messages):
        messages.extend(_translate_message(m, i))

    fields: JSON = {
        "model": req.model,
        "messages": messages,
        "max_tokens": req.max_tokens,
        "stream": req.stream,
        "temperature": req.temperature,
        "top_p": req.top_p,
    }
    if req.stop_sequences:
        fields["stop"] = req.stop_sequences
    if req.metadata and req.metadata.user_id:
        fields["user"] = req.metadata.user_id
    if req.stream:
        fields["stream_options"] = {"include_usage": True}
    if req.tools:
        fields["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in req.tools
        ]
    if req.tool_choice is not None:
        tc = req.tool_choice
        choice: Any = {"auto": "auto", "any": "required", "none": "none"}.get(tc.type)
        fields["tool_choice"] = choice or {"type": "function", "function": {"name": tc.name}}
        if tc.disable_parallel_tool_use:
            fields["parallel_tool_calls"] = False
    if req.top_k is not None:
        fields["top_k"] = req.top_k
    for k, v in (req.model_extra or {}).items():
        fields.setdefault(k, v)
    try:
        return ChatRequest.model_validate(fields)
    except ValidationError as exc:  # extra fields colliding with internal ones, e.g. "n"
        raise invalid(exc) from None


def _translate_message(m: AnthropicMessage, i: int) -> list[Message]:
    """One Anthropic message -> one or more internal messages (tool results become ``tool`` messages)."""
    out: list[Message] = []
    parts: list[JSON] = []
    tool_calls: list[ToolCall] = []
    for j, block in enumerate(m.content):
        where = f"messages.{i}.content.{j}"
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if m.role != "user":
                raise InvalidRequest(f"{where}: image blocks are only allowed in user messages", param=where)
            parts.append({"type": "image_url", "image_url": {"url": block.source.data_url()}})
        elif isinstance(block, ToolUseBlock):
            if m.role != "assistant":
                raise InvalidRequest(f"{where}: tool_use blocks belong in assistant messages", param=where)
            arguments = json.dumps(block.input, ensure_ascii=False)
            tool_calls.append(ToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=arguments)))
        elif isinstance(block, ToolResultBlock):
            if m.role != "user":
                raise InvalidRequest(f"{where}: tool_result blocks belong in user messages", param=where)
            text = "".join(p.text for p in block.content if isinstance(p, TextBlock))
            if block.is_error:
                text = f"Error: {text}"
            out.append(Message(role="tool", tool_call_id=block.tool_use_id, content=text))
            parts.extend(
                {"type": "image_url", "image_url": {"url": p.source.data_url()}}
                for p in block.content
                if isinstance(p, ImageBlock)
            )
        # thinking blocks are dropped (see module notes)

    content: str | list[JSON] | None
    if all(p["type"] == "text" for p in parts) and len(parts) <= 1:
        content = parts[0]["text"] if parts else None
    else:
        content = parts
    if m.role == "assistant":
        out.append(Message(role="assistant", content=content, tool_calls=tool_calls or None))
    elif content is not None or not out:
        out.append(Message(role="user", content=content if content is not None else ""))
    return out


# ---------------------------------------------------------------------------- requests: internal -> upstream

DEFAULT_MAX_TOKENS = 4096
# Extra fields with a native Anthropic meaning: always translated, never subject to unknown_params.
_NATIVE_EXTRAS = frozenset({"top_k", "parallel_tool_calls"})


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


# ------------------------------------------------------------------------------------- stop / finish reasons

# Internal -> client (``_STOP_REASONS``) and upstream -> internal (``_FINISH``). Every internal reason survives
# the trip out and back; tests/wire/test_anthropic_tables.py checks it and lists what the inverse loses.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: str | None) -> str:
    """Internal (OpenAI) finish reason -> Anthropic ``stop_reason``.

    A hit stop sequence cannot be told apart from a natural end (the internal response does not say
    which sequence matched), so ``stop`` always becomes ``end_turn``.
    """
    return _STOP_REASONS.get(finish_reason or "stop", "end_turn")


_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    """An upstream's Anthropic ``stop_reason`` -> internal (OpenAI) finish reason; unknown ones are ``stop``."""
    return _FINISH.get(stop_reason or "end_turn", "stop")


# ---------------------------------------------------------------------------------------------------- usage


def usage_json(usage: Usage | None) -> JSON:
    """Internal usage -> Anthropic ``usage`` (``input_tokens`` without the cached ones)."""
    u = usage or Usage()
    return {
        "input_tokens": max(u.prompt_tokens - u.cached_tokens, 0),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def parse_usage(raw: Any) -> Usage:
    """An upstream's Anthropic ``usage`` -> internal usage (cache reads and writes count as prompt)."""
    u = raw if isinstance(raw, dict) else {}
    cached = int(u.get("cache_read_input_tokens") or 0)
    created = int(u.get("cache_creation_input_tokens") or 0)
    return Usage(
        prompt_tokens=int(u.get("input_tokens") or 0) + cached + created,
        completion_tokens=int(u.get("output_tokens") or 0),
        cached_tokens=cached,
    )


# ------------------------------------------------------------------------------------------------ responses


def tool_input(arguments: str) -> JSON:
    """A tool call's JSON arguments as the object Anthropic wants (``{}`` when not an object)."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def new_message_id(internal_id: str | None = None) -> str:
    """An Anthropic-style message id (``msg_...``), derived from the internal id when there is one."""
    if internal_id and internal_id.startswith("msg_"):
        return internal_id
    return f"msg_{internal_id or uuid.uuid4().hex}"


def render_message(resp: ChatResponse, model: str) -> JSON:
    """Internal response -> Anthropic message JSON for a client."""
    content: list[JSON] = []
    if resp.content:
        content.append({"type": "text", "text": resp.content})
    for tc in resp.tool_calls or []:
        content.append(
            {
                "type": "tool_use",
                "id": tc.id,
                "name": tc.function.name,
                "input": tool_input(tc.function.arguments),
            }
        )
    if not content:
        content.append({"type": "text", "text": ""})
    return {
        "id": new_message_id(resp.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(resp.finish_reason),
        "stop_sequence": None,
        "usage": usage_json(resp.usage),
    }


def parse_message(data: Any) -> ChatResponse:
    """An upstream's Anthropic message JSON -> internal response. Raises :class:`UpstreamProtocolError`."""
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
            usage=parse_usage(data.get("usage")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamProtocolError(f"unexpected Anthropic response: {exc!r}") from exc


# --------------------------------------------------------------------------------------------------- errors


def _error_type(err: SwitchyardError) -> str:
    status = err.status
    if status == 400:
        return "invalid_request_error"
    by_status = {
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        503: "overloaded_error",
        504: "timeout_error",
    }
    return by_status.get(status, "invalid_request_error" if 400 <= status < 500 else "api_error")


def error_body(err: SwitchyardError) -> JSON:
    """The Anthropic-shaped error body for one of switchyard's errors (send it with ``err.status``)."""
    return {"type": "error", "error": {"type": _error_type(err), "message": err.message}}
