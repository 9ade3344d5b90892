"""The OpenAI Responses request as clients send it (``POST /v1/responses``): pydantic models of its input
items, content parts, tools and options, and the translation of their validation errors into
``InvalidRequest`` naming the field. The translation to the internal request is in
:mod:`switchyard.wire.responses`.

Every model forbids fields it does not name, so what switchyard does not support is refused with a 400
naming it, never dropped: hosted tools (web search, file search, computer use, MCP, ...), reasoning,
conversations, prompts, background mode, ``include`` entries, item references. Fields of earlier answers
that clients echo back in their input (an item's ``id`` and ``status``, an output text's ``annotations``
and ``logprobs``) are accepted and not sent to the model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from ..errors import InvalidRequest
from ..types import JSON, MAX_MESSAGES, MAX_OUTPUT_TOKENS, WHOLE

ItemStatus = Literal["in_progress", "completed", "incomplete"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------- content parts


class InputText(_Strict):
    type: Literal["input_text"]
    text: str


class InputImage(_Strict):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] | None = None  # chat's image details ("original" has none there)

    @model_validator(mode="after")
    def _by_url(self) -> InputImage:
        if self.file_id is not None:
            raise ValueError("images by file_id are not supported (there is no files API): send image_url")
        if not self.image_url:
            raise ValueError("an input_image needs image_url (a URL or a data: URL)")
        return self


class OutputText(_Strict):
    """Text of an earlier answer, sent back as history."""

    type: Literal["output_text"]
    text: str
    annotations: list[JSON] = Field(default_factory=list)
    logprobs: list[JSON] | None = None


class Refusal(_Strict):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[InputText | InputImage | OutputText | Refusal, Field(discriminator="type")]
TextPart = Annotated[InputText | OutputText, Field(discriminator="type")]


def _text_to_parts(kind: str) -> Any:
    """A plain string is shorthand for one text part of ``kind``."""

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return [{"type": kind, "text": value}]
        if not isinstance(value, list):
            raise ValueError("must be a string or a list of content parts")
        return value

    return BeforeValidator(convert)


# --------------------------------------------------------------------------------------------- input items


class MessageItem(_Strict):
    """A message of the conversation: the client's (user, system, developer) or an earlier answer."""

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: Annotated[list[ContentPart], _text_to_parts("input_text")]
    id: str | None = None
    status: ItemStatus | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCallItem(_Strict):
    """A function call of an earlier answer, sent back before its output."""

    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallOutputItem(_Strict):
    """What the client's function returned for a call (``call_id``), as text."""

    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: Annotated[list[TextPart], _text_to_parts("input_text")]
    id: str | None = None
    status: ItemStatus | None = None


ITEM_TYPES = ("message", "function_call", "function_call_output")


def _item_type(value: Any) -> str:
    """An item's ``type``; a message may leave it out. A non-object is validated as a message (and refused)."""
    if isinstance(value, dict):
        kind = value.get("type", "message")
        return kind if isinstance(kind, str) else "message"
    return str(getattr(value, "type", "message"))


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")],
    Discriminator(_item_type),
]


def _string_to_items(value: Any) -> Any:
    """A plain string input is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return value


# ------------------------------------------------------------------------------------------ tools, formats


class FunctionTool(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: JSON | None = None
    strict: bool | None = None


class FunctionChoice(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1)


def _choice_kind(value: Any) -> str:
    if isinstance(value, str):
        return "mode"
    if isinstance(value, dict):
        return str(value.get("type"))
    return "function" if isinstance(value, FunctionChoice) else "mode"


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("mode")] | Annotated[FunctionChoice, Tag("function")],
    Discriminator(_choice_kind),
]


class TextFormatText(_Strict):
    type: Literal["text"]


class TextFormatJSONObject(_Strict):
    type: Literal["json_object"]


class TextFormatJSONSchema(_Strict):
    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64)
    json_schema: JSON = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[TextFormatText | TextFormatJSONObject | TextFormatJSONSchema, Field(discriminator="type")]


class TextConfig(_Strict):
    format: TextFormat | None = None


def _nothing_included(values: list[str]) -> list[str]:
    if values:
        raise ValueError(f"{values[0]!r} cannot be included: this gateway adds nothing to a response")
    return values


def _metadata_limits(values: dict[str, str]) -> dict[str, str]:
    """OpenAI's limits: 16 pairs, keys up to 64 characters, values up to 512."""
    if len(values) > 16:
        raise ValueError("at most 16 key-value pairs")
    for k, v in values.items():
        if len(k) > 64 or len(v) > 512:
            raise ValueError(f"key {k[:64]!r}: keys are at most 64 characters, values at most 512")
    return values


class ResponsesRequest(_Strict):
    """A Responses API request (``POST /v1/responses``). Unknown fields are refused."""

    model: str = Field(min_length=1)
    input: Annotated[list[InputItem], BeforeValidator(_string_to_items)] = Field(min_length=1, max_length=MAX_MESSAGES)
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, min_length=1)
    store: bool | None = None
    stream: bool | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS), WHOLE] | None = None
    metadata: Annotated[dict[str, str], AfterValidator(_metadata_limits)] | None = None
    user: str | None = None
    include: Annotated[list[str], AfterValidator(_nothing_included)] | None = None
    truncation: Literal["disabled"] | None = Field(default=None, description="only disabled (the default)")


# ---------------------------------------------------------------------------------------------- errors

# The tags pydantic puts into an error's location after a discriminated union's position.
_TAGS = frozenset({*ITEM_TYPES, "input_text", "input_image", "output_text", "refusal", "mode", "function"})
_TAGS |= {"text", "json_object", "json_schema"}
_UNION_FIELDS = frozenset({"tool_choice", "format"})


def _param(loc: tuple[int | str, ...]) -> str:
    """The dotted field path of an error, without the union tags pydantic inserts (``input.0.content.0.text``)."""
    parts: list[str] = []
    for i, p in enumerate(loc):
        if i > 0 and (isinstance(loc[i - 1], int) or loc[i - 1] in _UNION_FIELDS) and p in _TAGS:
            continue
        parts.append(str(p))
    return ".".join(parts)


def invalid(exc: ValidationError) -> InvalidRequest:
    """The most telling validation error as an ``InvalidRequest`` naming the field: an unsupported ``type``
    explains the rest of its object, so it is reported first."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] in ("union_tag_invalid",) or e["loc"][-1:] == ("type",)), errors[0])
    param = _param(err["loc"])
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        message = f"missing required field '{param}'"
    elif kind == "extra_forbidden":
        message = f"'{param}' is not supported by this gateway's Responses endpoint"
    elif kind == "union_tag_invalid" and param == "tool_choice":
        param = "tool_choice.type"
        message = (
            f"unsupported type {ctx.get('tag')!r} for 'tool_choice.type': use 'none', 'auto', 'required' "
            'or {"type": "function", "name": ...}'
        )
    elif kind == "union_tag_invalid":
        param = f"{param}.type" if param else "type"
        message = f"unsupported type {ctx.get('tag')!r} for '{param}' (supported: {ctx.get('expected_tags')})"
    elif kind == "literal_error" and param.endswith("type"):
        message = f"unsupported type {err.get('input')!r} for '{param}' (supported: {ctx.get('expected')})"
    else:
        message = f"invalid value for '{param}': {err['msg'].removeprefix('Value error, ')}"
    return InvalidRequest(message, param=param or None)


def parse_responses_body(body: Any) -> ResponsesRequest:
    """Validate a request body strictly (like the chat endpoint). Raises ``InvalidRequest`` naming the field."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return ResponsesRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise invalid(exc) from None
