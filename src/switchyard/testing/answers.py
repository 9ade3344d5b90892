"""How the mock upstream answers one request: a :class:`Fault` (scripted: a normal answer, an error, a
dropped connection, a slow or broken stream) and, for chat requests, an optional :data:`AnswerHook` that
gives the answer's text, tool calls and usage in full (an :class:`Answer`) or refuses the request
(:class:`NoAnswer`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson


class FaultKind(StrEnum):
    OK = "ok"  # a normal answer (possibly delayed, slow, or with scripted content)
    STATUS = "status"  # an HTTP error with a wire-shaped error body
    RESET = "reset"  # drop the connection with a TCP reset, no response
    MALFORMED = "malformed"  # 200 with a body (or one stream event) that is not valid JSON
    CUT = "cut"  # send part of the response, then close the connection
    STREAM_ERROR = "stream_error"  # a stream that sends an error event midway and ends


@dataclass(frozen=True, slots=True)
class Fault:
    """How to answer one request. Build with the constructors; combine with ``dataclasses.replace``.

    ``delay`` waits before the response headers, ``first_chunk_delay`` between the headers and the first
    body bytes, ``chunk_delay`` between stream events; ``after_chunks`` is how many stream events are
    sent before a ``CUT``/``STREAM_ERROR``/``MALFORMED`` event (non-streamed bodies are cut in half).
    """

    kind: FaultKind = FaultKind.OK
    code: int = 200  # the HTTP status of STATUS, the error status of STREAM_ERROR
    message: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    first_chunk_delay: float = 0.0
    chunk_delay: float = 0.0
    after_chunks: int = 0
    text: str | None = None
    tool_name: str | None = None
    tool_arguments: str | None = None
    cached_tokens: int = 0
    logprob: float = -0.05  # every token's log-probability, reported when the request asks for logprobs

    @classmethod
    def ok(
        cls, text: str | None = None, *, delay: float = 0.0, cached_tokens: int = 0, logprob: float = -0.05
    ) -> Fault:
        """A normal answer: the echo, or ``text`` when given; ``cached_tokens`` of the prompt reported
        as cache reads; ``logprob`` per token when the request asks for ``logprobs``."""
        return cls(text=text, delay=delay, cached_tokens=cached_tokens, logprob=logprob)

    @classmethod
    def tool_call(
        cls, name: str | None = None, arguments: Mapping[str, Any] | None = None, *, delay: float = 0.0
    ) -> Fault:
        """Answer with a tool call (``name`` defaults to the request's first tool, ``arguments`` to
        values fitting its schema)."""
        args = None if arguments is None else orjson.dumps(dict(arguments)).decode()
        return cls(tool_name=name, tool_arguments=args, delay=delay)

    @classmethod
    def status(
        cls, code: int, message: str | None = None, *, retry_after: float | None = None, delay: float = 0.0
    ) -> Fault:
        """An HTTP error (400, 401, 429, 500, 503, ...) with an OpenAI- or Anthropic-shaped body;
        ``retry_after`` (seconds) sets ``retry-after`` and ``retry-after-ms``."""
        return cls(FaultKind.STATUS, code, message, retry_after, delay)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Fault:
        return cls.status(429, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """A normal answer whose headers come after ``seconds`` (a slow first byte; a timeout)."""
        return cls(delay=seconds)

    @classmethod
    def slow_first_chunk(cls, seconds: float) -> Fault:
        """Headers at once, then nothing for ``seconds`` before the first body bytes."""
        return cls(first_chunk_delay=seconds)

    @classmethod
    def slow_stream(cls, chunk_delay: float) -> Fault:
        """A normal answer with ``chunk_delay`` seconds between stream events."""
        return cls(chunk_delay=chunk_delay)

    @classmethod
    def reset(cls, *, delay: float = 0.0) -> Fault:
        """Drop the connection (TCP reset) without any response."""
        return cls(FaultKind.RESET, delay=delay)

    @classmethod
    def malformed(cls, *, after_chunks: int = 0) -> Fault:
        """200 with invalid JSON: a truncated body, or a broken event in a stream."""
        return cls(FaultKind.MALFORMED, after_chunks=after_chunks)

    @classmethod
    def cut(cls, after_chunks: int = 2) -> Fault:
        """Send ``after_chunks`` stream events (or half of a plain body), then drop the connection."""
        return cls(FaultKind.CUT, after_chunks=after_chunks)

    @classmethod
    def stream_error(cls, after_chunks: int = 2, code: int = 500, message: str | None = None) -> Fault:
        """Send ``after_chunks`` events, then an error event in the wire format, then end the stream."""
        return cls(FaultKind.STREAM_ERROR, code, message, after_chunks=after_chunks)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build from JSON, e.g. ``{"kind": "status", "code": 503}`` (used by ``POST /_mock/script``)."""
        fields = dict(data)
        fields["kind"] = FaultKind(fields.get("kind", "ok"))
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class AnswerCall:
    """A tool call in an :class:`Answer`: ``arguments`` is sent as given, even when it is not valid JSON
    (OpenAI's wire carries it as text; Anthropic's ``input`` is the parsed object, or that text when it
    does not parse, as a broken upstream would send it)."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A chat answer given in full by an ``answer`` hook: the text, sent as is (streamed in word pieces
    that join back to it), the tool calls (streamed in argument pieces), and the usage reported with it.
    An answer with tool calls finishes with ``tool_calls`` unless ``finish`` says ``length``."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish: str = "stop"  # "stop" | "length"
    tool_calls: tuple[AnswerCall, ...] = ()


class NoAnswer(LookupError):
    """Raised by an ``answer`` hook to refuse a request: answered with ``status`` (404 by default) and an
    error body in the request's wire format (``code`` is OpenAI's ``error.code``)."""

    def __init__(self, message: str, *, status: int = 404, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param


# Decides the answer to a chat request: ``(route, body)`` with route "chat" (OpenAI) or "messages"
# (Anthropic) and the parsed, validated JSON body. Called on the server's event loop: keep it quick.
AnswerHook = Callable[[str, dict[str, Any]], Answer]
