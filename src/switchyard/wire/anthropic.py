"""The Anthropic Messages edge (``POST /v1/messages``).

Requests are validated with pydantic models of the Anthropic format and translated into the internal,
OpenAI-shaped :class:`~switchyard.types.ChatRequest`; answers and stream chunks are translated back.

Mapping notes:

- ``system`` (a string or text blocks) becomes the first message, with role ``system``.
- ``tool_use`` blocks become the assistant message's ``tool_calls``; each ``tool_result`` block becomes
  a ``tool`` message placed before the rest of its user message (``is_error`` becomes an ``Error:``
  prefix; images inside a tool result move to the user message that follows).
- ``top_k`` and unknown top-level fields are kept as extra fields (the model's ``unknown_params`` decides
  whether they reach the upstream); ``tool_choice.disable_parallel_tool_use`` becomes
  ``parallel_tool_calls: false``.
- ``thinking`` / ``redacted_thinking`` blocks in the history are dropped: other upstreams cannot use them.
- Usage: internally ``prompt_tokens`` includes cached tokens (OpenAI meaning); Anthropic's
  ``input_tokens`` excludes them, so ``input_tokens = prompt_tokens - cached_tokens``.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..errors import InvalidRequest, SwitchyardError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, FunctionCall, Message, ToolCall, Usage

# --------------------------------------------------------------------------------------------- request


class _Block(BaseModel):
    # Blocks tolerate fields switchyard does not use (cache_control, citations, ...).
    model_config = ConfigDict(extra="ignore")


class TextBlock(_Block):
    type: Literal["text"]
    text: str


class ImageSource(BaseModel):
    type: Literal["base64", "url"]
    media_type: str | None = None
    data: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ImageSource:
        if self.type == "base64" and not (self.media_type and self.data):
            raise ValueError("a base64 image source needs media_type and data")
        if self.type == "url" and not self.url:
            raise ValueError("a url image source needs url")
        return self

    def data_url(self) -> str:
        if self.type == "url":
            return str(self.url)
        return f"data:{self.media_type};base64,{self.data}"


class ImageBlock(_Block):
    type: Literal["image"]
    source: ImageSource


class ToolUseBlock(_Block):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: JSON


class ThinkingBlock(_Block):
    type: Literal["thinking", "redacted_thinking"]


def _text_to_blocks(value: Any) -> Any:
    """A plain string is shorthand for one text block."""
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if not isinstance(value, list):
        raise ValueError("must be a string or a list of content blocks")
    return value


ResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Block):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: Annotated[list[ResultPart], BeforeValidator(_text_to_blocks)] = Field(default_factory=list)
    is_error: bool = False


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock, Field(discriminator="type")
]


class AnthropicMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Annotated[list[ContentBlock], BeforeValidator(_text_to_blocks)]


class AnthropicTool(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["custom"] | None = None
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: JSON


class AnthropicToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None

    @model_validator(mode="after")
    def _name_for_tool(self) -> AnthropicToolChoice:
        if self.type == "tool" and not self.name:
            raise ValueError('tool_choice of type "tool" needs a name')
        return self


class AnthropicMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str | None = None


class MessagesRequest(BaseModel):
    """An Anthropic Messages request. Unknown top-level fields are kept (see module notes)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: Annotated[list[TextBlock], BeforeValidator(_text_to_blocks)] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    metadata: AnthropicMetadata | None = None
    stream: bool = False
    tools: list[AnthropicTool] | None = None
    tool_choice: AnthropicToolChoice | None = None


_BLOCK_TAGS = frozenset({"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"})


def _param(loc: tuple[int | str, ...]) -> str:
    """Dotted field path; drops the discriminator tags pydantic inserts after a block's list index."""
    parts: list[str] = []
    for i, p in enumerate(loc):
        after_index = 0 < i < len(loc) - 1 and isinstance(loc[i - 1], int)
        if after_index and p in _BLOCK_TAGS:
            continue
        parts.append(str(p))
    return ".".join(parts)


def _invalid(exc: ValidationError) -> InvalidRequest:
    err = exc.errors()[0]
    param = _param(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"{param}: {msg}" if param else msg, param=param or None)


def parse_messages_request(body: Any) -> ChatRequest:
    """Validate an Anthropic Messages request body and translate it into the internal request.

    Raises :class:`InvalidRequest` whose ``param`` names the offending field (``messages.0.content``).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        req = MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None

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
        raise _invalid(exc) from None


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


# -------------------------------------------------------------------------------------------- response

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


def _usage(usage: Usage | None) -> JSON:
    u = usage or Usage()
    return {
        "input_tokens": max(u.prompt_tokens - u.cached_tokens, 0),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


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
    """Internal response -> Anthropic message JSON."""
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
        "usage": _usage(resp.usage),
    }


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


# ---------------------------------------------------------------------------------------------- stream


def sse_event(event: JSON) -> bytes:
    """One server-sent event in Anthropic's framing: ``event: <type>`` then ``data: <json>``."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class AnthropicStreamEncoder:
    """Turns internal stream chunks into Anthropic Messages SSE events.

    Call :meth:`encode` for each chunk and :meth:`finish` once at the end; both return the encoded
    events to write (possibly none). ``message_start`` goes out with the first output, carrying
    ``input_tokens`` if the caller knows it up front; final usage goes in ``message_delta``.

    Blocks are opened and closed one at a time, like the real API. A fragment for a tool call whose
    block was already closed (an upstream interleaving parallel calls) is still sent with that block's
    index, which the official SDKs accumulate correctly.
    """

    def __init__(self, model: str, message_id: str | None = None, input_tokens: int = 0) -> None:
        self.model = model
        self.message_id = message_id or new_message_id()
        self.input_tokens = input_tokens
        self._started = False
        self._finished = False
        self._open: int | None = None  # index of the open content block
        self._open_is_text = False
        self._next_index = 0
        self._tool_blocks: dict[int, int] = {}  # internal tool-call index -> block index
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self.extra: JSON = {}  # extra top-level fields of the final message_delta (switchyard's own block)

    def start(self) -> list[bytes]:
        """The ``message_start`` and a ``ping`` (once; later calls return nothing)."""
        if self._started:
            return []
        self._started = True
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        return [sse_event({"type": "message_start", "message": message}), sse_event({"type": "ping"})]

    def encode(self, chunk: Chunk) -> list[bytes]:
        out = self.start()
        if chunk.content:
            if self._open is None or not self._open_is_text:
                out += self._open_block({"type": "text", "text": ""}, is_text=True)
            out.append(self._delta(self._open, {"type": "text_delta", "text": chunk.content}))
        for tc in chunk.tool_calls or []:
            block = self._tool_blocks.get(tc.index)
            if block is None:
                out += self._open_block(
                    {
                        "type": "tool_use",
                        "id": tc.id or f"toolu_{uuid.uuid4().hex[:24]}",
                        "name": tc.name or "",
                        "input": {},
                    },
                    is_text=False,
                )
                block = self._tool_blocks[tc.index] = self._next_index - 1
            if tc.arguments:
                out.append(self._delta(block, {"type": "input_json_delta", "partial_json": tc.arguments}))
        if chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        return out

    def finish(self, usage: Usage | None = None, error: SwitchyardError | None = None) -> list[bytes]:
        """Close the message: ``message_delta`` (stop reason, final usage) and ``message_stop``; or,
        when ``error`` is given, an ``error`` event (the API sends nothing after it)."""
        if self._finished:
            return []
        self._finished = True
        if error is not None:
            return [sse_event(error_body(error))]
        out = self.start()
        if self._next_index == 0:  # clients commonly read content[0]: never leave it empty
            out += self._open_block({"type": "text", "text": ""}, is_text=True)
        out += self._close_block()
        final = usage or self._usage
        totals = _usage(final if final is not None else Usage(prompt_tokens=self.input_tokens))
        delta = {"stop_reason": stop_reason(self._finish_reason), "stop_sequence": None}
        out.append(sse_event({"type": "message_delta", "delta": delta, "usage": totals, **self.extra}))
        out.append(sse_event({"type": "message_stop"}))
        return out

    def _open_block(self, block: JSON, *, is_text: bool) -> list[bytes]:
        out = self._close_block()
        self._open = self._next_index
        self._open_is_text = is_text
        self._next_index += 1
        out.append(sse_event({"type": "content_block_start", "index": self._open, "content_block": block}))
        return out

    def _close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [sse_event({"type": "content_block_stop", "index": index})]

    @staticmethod
    def _delta(index: int | None, delta: JSON) -> bytes:
        return sse_event({"type": "content_block_delta", "index": index, "delta": delta})


class _StreamEncoder:
    """The Anthropic event encoder behind the byte-oriented ``StreamEncoder`` protocol."""

    def __init__(self, model: str, request_id: str) -> None:
        self._enc = AnthropicStreamEncoder(model, new_message_id(request_id))

    def encode(self, chunk: Chunk) -> bytes:
        return b"".join(self._enc.encode(chunk))

    def finish(self, usage: Usage | None) -> bytes:
        return b"".join(self._enc.finish(usage))

    def error(self, err: SwitchyardError) -> bytes:
        return b"".join(self._enc.finish(error=err))

    def extension(self, data: JSON) -> bytes:
        # A new event type would break clients; an extra field on the final message_delta does not.
        self._enc.extra["switchyard"] = data
        return b""


class AnthropicChatWire:
    """Messages API answers and event streams."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return render_message(resp, model)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> _StreamEncoder:
        return _StreamEncoder(model, request_id)
