"""The OpenAI Responses format (``POST /v1/responses``), client side only: requests are translated into the
internal chat request, answers rendered as Response objects. Upstreams are never spoken to in this format.
The request's pydantic models are in :mod:`switchyard.wire.responses_models`, the event stream in
:mod:`switchyard.wire.responses_stream`.

Requests -> internal (:func:`chat_request`):

- ``instructions`` becomes the first message (role ``system``); the stored conversation of
  ``previous_response_id`` (see ``switchyard.conversations``) comes next, without its own instructions (as
  OpenAI does), then this request's ``input``.
- ``input``: a string is one user message; ``message`` items keep their role (``user``, ``system``,
  ``developer``, ``assistant``), their ``input_text`` / ``output_text`` / ``refusal`` parts become text and
  ``input_image`` parts ``image_url`` parts; ``function_call`` items become the ``tool_calls`` of an
  assistant message (consecutive calls share one) and ``function_call_output`` items ``tool`` messages.
  What only a model can judge (a tool choice naming a tool that is not there, an output whose call is not in
  the conversation, an image in a system message) goes to it as in a chat request: its provider or upstream
  answers, as it does for ``/v1/chat/completions`` (the OpenAPI document and the validation agree).
- ``tools`` (function tools only) and ``tool_choice`` become chat tools and ``tool_choice``;
  ``text.format`` becomes ``response_format`` (``json_schema`` with its name, schema and strictness);
  ``max_output_tokens`` becomes ``max_completion_tokens``; ``temperature``, ``top_p`` and ``user`` pass as
  they are; ``parallel_tool_calls: false`` is an extra field (a model whose ``unknown_params`` is ``pass``
  receives it). ``metadata`` stays with the response (echoed, stored), never sent to a model.

Answers -> Response objects (:func:`render_response`): the text as one ``message`` item with one
``output_text`` part (also when empty and there is no tool call), then one ``function_call`` item per tool
call (``call_id`` is the model's tool call id); ``finish_reason`` ``length`` / ``content_filter`` give status
``incomplete`` with ``incomplete_details.reason`` ``max_output_tokens`` / ``content_filter``; usage as
``input_tokens`` / ``output_tokens`` / ``total_tokens`` (cached tokens in ``input_tokens_details``).
``store`` says whether the response was kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from ..errors import InvalidRequest, SwitchyardError
from ..types import JSON, MAX_MESSAGES, ChatRequest, ChatResponse, FunctionCall, Message, ToolCall, Usage
from .responses_models import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    InputImage,
    MessageItem,
    Refusal,
    ResponsesRequest,
    TextFormatJSONSchema,
)

# ------------------------------------------------------------------------------ requests: client -> internal


def _content(parts: list[ContentPart]) -> str | list[JSON]:
    """Parts -> a string when they are all text, else chat content parts."""
    out: list[JSON] = []
    for part in parts:
        if isinstance(part, InputImage):
            image: JSON = {"url": part.image_url}
            if part.detail is not None:
                image["detail"] = part.detail
            out.append({"type": "image_url", "image_url": image})
        else:
            out.append({"type": "text", "text": part.refusal if isinstance(part, Refusal) else part.text})
    if all(p["type"] == "text" for p in out):
        return "".join(p["text"] for p in out)
    return out


def input_messages(req: ResponsesRequest) -> list[Message]:
    """The request's ``input`` as internal messages."""
    out: list[Message] = []
    for item in req.input:
        if isinstance(item, MessageItem):
            out.append(Message(role=item.role, content=_content(item.content)))
        elif isinstance(item, FunctionCallItem):
            call = ToolCall(id=item.call_id, function=FunctionCall(name=item.name, arguments=item.arguments))
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":  # a text answer and its calls are one message
                last.tool_calls = [*(last.tool_calls or ()), call]
            else:
                out.append(Message(role="assistant", content=None, tool_calls=[call]))
        else:
            assert isinstance(item, FunctionCallOutputItem)
            text = "".join(p.text for p in item.output)
            out.append(Message(role="tool", tool_call_id=item.call_id, content=text))
    return out


def chat_request(req: ResponsesRequest, history: list[Message], turn: list[Message]) -> ChatRequest:
    """The internal request: instructions, the stored ``history``, this ``turn``'s input messages."""
    messages = [Message(role="system", content=req.instructions)] if req.instructions else []
    messages += history + turn
    if len(messages) > MAX_MESSAGES:
        where = "previous_response_id" if history else "input"
        raise InvalidRequest(f"the conversation has {len(messages)} messages, over {MAX_MESSAGES}", param=where)
    fields: JSON = {
        "model": req.model,
        "messages": messages,
        "stream": bool(req.stream),
        "temperature": req.temperature,
        "top_p": req.top_p,
        "max_completion_tokens": req.max_output_tokens,
        "user": req.user,
    }
    if req.stream:
        fields["stream_options"] = {"include_usage": True}
    if req.tools:
        fields["tools"] = [
            {"type": "function", "function": t.model_dump(exclude={"type"}, exclude_none=True)} for t in req.tools
        ]
    choice = req.tool_choice
    if isinstance(choice, FunctionChoice):
        fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        if choice == "required" and not req.tools:  # the document says so too (openapi._refine_responses)
            raise InvalidRequest("tool_choice 'required' needs tools", param="tool_choice")
        fields["tool_choice"] = choice
    fmt = req.text.format if req.text else None
    if isinstance(fmt, TextFormatJSONSchema):
        schema: JSON = {"name": fmt.name, "schema": fmt.json_schema}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        if fmt.description is not None:
            schema["description"] = fmt.description
        fields["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt is not None:
        fields["response_format"] = {"type": fmt.type}
    if req.parallel_tool_calls is False:
        fields["parallel_tool_calls"] = False
    try:
        return ChatRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:  # nothing a validated Responses request can carry; kept as a 400, not a 500
        raise InvalidRequest(f"the request cannot be translated: {exc.errors()[0]['msg']}") from None


# The chat request's fields as a Responses client names them, for errors raised past the translation.
CHAT_PARAMS = {
    "messages": "input",
    "response_format": "text.format",
    "max_tokens": "max_output_tokens",
    "max_completion_tokens": "max_output_tokens",
    "tools": "tools",
    "tool_choice": "tool_choice",
}


def rename_param(err: SwitchyardError) -> SwitchyardError:
    """An error about the internal request, naming the Responses request's field instead."""
    if err.param:
        head, _, rest = err.param.partition(".")
        if head in CHAT_PARAMS and head != CHAT_PARAMS[head]:
            err.param = CHAT_PARAMS[head] + ("." + rest if rest and head != "messages" else "")
    return err


# ------------------------------------------------------------------------------------------------ responses


@dataclass(frozen=True)
class ResponseIds:
    """The ids of one response and of its output items, derived from the call's request id."""

    request_id: str

    @property
    def response(self) -> str:
        return "resp_" + self.request_id

    @property
    def message(self) -> str:
        return "msg_" + self.request_id

    def call(self, index: int) -> str:
        return f"fc_{self.request_id}_{index}"


def usage_json(usage: Usage | None) -> JSON | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def status_of(finish_reason: str | None) -> tuple[str, JSON | None]:
    """A finish reason -> the response's status and ``incomplete_details``."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def message_item(item_id: str, text: str, status: str) -> JSON:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> JSON:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_items(resp: ChatResponse, ids: ResponseIds) -> list[JSON]:
    status = "incomplete" if status_of(resp.finish_reason)[0] == "incomplete" else "completed"
    items: list[JSON] = []
    if resp.content or not resp.tool_calls:
        items.append(message_item(ids.message, resp.content or "", status))
    for i, call in enumerate(resp.tool_calls or ()):
        items.append(function_call_item(ids.call(i), call.id, call.function.name, call.function.arguments, status))
    return items


def response_object(
    req: ResponsesRequest,
    ids: ResponseIds,
    model: str,
    created: int,
    *,
    status: str,
    output: list[JSON],
    usage: Usage | None = None,
    incomplete: JSON | None = None,
    error: JSON | None = None,
    completed_at: int | None = None,
    stored: bool = False,
) -> JSON:
    """A Response object: the answer's fields and the request's settings echoed."""
    fmt = req.text.format.model_dump(by_alias=True, exclude_none=True) if req.text and req.text.format else None
    choice = req.tool_choice.model_dump() if isinstance(req.tool_choice, FunctionChoice) else req.tool_choice
    body: JSON = {
        "id": ids.response,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "model": model,
        "completed_at": completed_at,
        "output": output,
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": req.previous_response_id,
        "store": stored,
        "temperature": req.temperature,
        "text": {"format": fmt or {"type": "text"}},
        "tool_choice": choice or "auto",
        "tools": [t.model_dump(exclude_none=True) for t in req.tools or ()],
        "top_p": req.top_p,
        "truncation": "disabled",
        "usage": usage_json(usage),
        "user": req.user,
        "metadata": req.metadata or {},
    }
    return body


def render_response(
    req: ResponsesRequest, resp: ChatResponse, ids: ResponseIds, model: str, created: int, done: int, *, stored: bool
) -> JSON:
    """A whole answer as a Response object, asked at ``created`` and answered at ``done``."""
    status, incomplete = status_of(resp.finish_reason)
    return response_object(
        req,
        ids,
        model,
        created,
        status=status,
        output=output_items(resp, ids),
        usage=resp.usage,
        incomplete=incomplete,
        completed_at=done if status == "completed" else None,
        stored=stored,
    )


def answer_message(output: list[JSON]) -> Message:
    """A response's output items as the conversation's next message (what a continuation sends the model)."""
    text = "".join(p["text"] for item in output if item["type"] == "message" for p in item["content"])
    calls = [
        ToolCall(id=item["call_id"], function=FunctionCall(name=item["name"], arguments=item["arguments"]))
        for item in output
        if item["type"] == "function_call"
    ]
    return Message(role="assistant", content=text if text or not calls else None, tool_calls=calls or None)


def error_object(err: SwitchyardError) -> JSON:
    """A failed response's ``error``: OpenAI's codes for it are few (a rate limit, else a server error)."""
    code = "rate_limit_exceeded" if err.status == 429 else "server_error"
    return {"code": code, "message": err.message}
