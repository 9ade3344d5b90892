"""Wire and internal models.

The internal request *is* the validated OpenAI chat request: most upstreams speak that format, and the
Anthropic edge translates into it.  Responses and stream chunks are light dataclasses because they are
built on the hot path, once per token for streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

JSON = dict[str, Any]

# The most messages one request may carry (a bound on the work per request; long agent histories fit).
MAX_MESSAGES = 10_000
# The most output tokens a request may ask for (no model's window is near it; a bound on one call's work).
MAX_OUTPUT_TOKENS = 1_000_000

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


def _whole_number(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``5.0``: a float with no fractional part is that integer. Clients'
    bodies are validated strictly (``wire.openai.parse``), so booleans and strings stay refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        # past 2**53 a float is not an exact integer: a JSON integer too large for 64 bits arrives as one
        return int(value)
    return value


# On an integer field of a client's request, after its Field constraints (placed before it, the constraints
# stay JSON Schema's minimum/maximum in the OpenAPI document): what "integer" admits, nothing more.
WHOLE = BeforeValidator(_whole_number)


class FunctionCall(BaseModel):
    name: str
    arguments: str = ""


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    """One chat message in OpenAI form. Content is a string or a list of typed parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[JSON] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @field_validator("content")
    @classmethod
    def _parts_are_well_formed(cls, content: str | list[JSON] | None) -> str | list[JSON] | None:
        """Every part names its type, and a text part's ``text`` is a string: a part that the detector
        would read one way and an upstream another is refused here, at the edge."""
        if isinstance(content, list):
            for i, part in enumerate(content):
                kind = part.get("type")
                if not isinstance(kind, str):
                    raise ValueError(f"part {i} needs a string 'type'")
                if kind == "text" and not isinstance(part.get("text"), str):
                    raise ValueError(f"part {i} is a text part whose 'text' is not a string")
        return content

    def text(self) -> str:
        """The message's text, with the text parts of a multi-part content joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p["text"] for p in self.content if p.get("type") == "text")


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str | None = None
    parameters: JSON | None = None
    strict: bool | None = None


class Tool(BaseModel):
    type: Literal["function"] = "function"
    function: ToolFunction


class StreamOptions(BaseModel):
    include_usage: bool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSON | None = None


class ChatRequest(BaseModel):
    """A validated chat completion request (OpenAI wire format).

    Fields switchyard does not know are kept in ``model_extra``; each model's config decides whether they
    are passed upstream or dropped.
    """

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS), WHOLE] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS), WHOLE] | None = None
    stop: str | list[str] | None = None
    seed: Annotated[int, Field(ge=-(2**63), lt=2**63), WHOLE] | None = None
    user: str | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | JSON | None = None
    response_format: ResponseFormat | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    n: Annotated[int, Field(ge=1, le=1), WHOLE] | None = Field(default=None, description="only n=1 is supported")
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20), WHOLE] | None = None

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def extra_fields(self) -> JSON:
        return dict(self.model_extra or {})

    def prompt_text(self) -> str:
        """Everything the request sends as text (messages, tool calls), for counting tokens."""
        parts = [f"{m.role}: {m.text()}" for m in self.messages]
        for m in self.messages:
            for call in m.tool_calls or ():
                parts.append(call.function.name + call.function.arguments)
        return "\n".join(parts)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Field(ge=1), WHOLE] | None = None
    user: str | None = None

    def texts(self) -> list[str]:
        """Inputs as strings. Token-id inputs are rejected by the caller before this is used."""
        if isinstance(self.input, str):
            return [self.input]
        return [x for x in self.input if isinstance(x, str)]


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    # True when the numbers were counted by switchyard with a tokenizer instead of reported upstream.
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatResponse:
    """A complete (non-streamed) answer. Only n=1 is supported, so there is one message."""

    id: str
    model: str
    created: int
    content: str | None
    finish_reason: str
    tool_calls: list[ToolCall] | None = None
    usage: Usage | None = None
    logprobs: JSON | None = None  # OpenAI's ``choices[0].logprobs`` when the upstream sent them


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; ``id`` and ``name`` come with the first fragment."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Chunk:
    """One streamed delta. A provider's last chunk carries ``finish_reason``; ``usage`` may come with
    it or in a chunk of its own after it."""

    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class EmbeddingResponse:
    vectors: list[list[float]]
    model: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from the API key."""

    key_id: str
    team: str
    roles: tuple[str, ...] = ()
    is_admin: bool = False
