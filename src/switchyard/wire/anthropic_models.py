"""The Anthropic Messages request as clients send it: pydantic models of its blocks, tools and options,
and the translation of their validation errors into ``InvalidRequest`` naming the field. The conversion
to the internal request is ``wire.anthropic.parse_messages_request``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..errors import InvalidRequest
from ..types import JSON, MAX_OUTPUT_TOKENS, WHOLE


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
    max_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS), WHOLE]
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: Annotated[list[TextBlock], BeforeValidator(_text_to_blocks)] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: Annotated[int, Field(ge=0, lt=2**63), WHOLE] | None = None
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


def invalid(exc: ValidationError) -> InvalidRequest:
    err = exc.errors()[0]
    param = _param(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"{param}: {msg}" if param else msg, param=param or None)
