"""Pseudonymisation: detected spans leave the perimeter as placeholders (``<PERSON_1>``) and come back
as the original values in the response, streamed or not.

    session = Pseudonymizer(detector).session()   # one per request: placeholders are request-scoped
    masked = session.mask_request(request)         # send this upstream
    response = session.restore_response(answer)   # or: async for c in session.restore_stream(chunks)

Within a session the same value always gets the same placeholder. A streamed placeholder may arrive
split across chunks ("<PERS", "ON_1> said"): the restorer holds back only a tail that could still become
a known placeholder and emits everything else at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from ..errors import InvalidRequest
from ..types import ChatRequest, ChatResponse, Chunk, FunctionCall, ToolCallDelta
from .base import Span
from .detector import SensitivityDetector

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")


class Pseudonymizer:
    """Makes a ``PseudonymSession`` per request, all sharing one detector."""

    def __init__(self, detector: SensitivityDetector | None = None) -> None:
        self.detector = detector or SensitivityDetector()

    def session(self) -> PseudonymSession:
        return PseudonymSession(self.detector)


class PseudonymSession:
    """The placeholders of one request, both ways."""

    def __init__(self, detector: SensitivityDetector) -> None:
        self.detector = detector
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    @property
    def mapping(self) -> Mapping[str, str]:
        """placeholder -> original value."""
        return dict(self._by_placeholder)

    def placeholder(self, label: str, value: str) -> str:
        existing = self._by_value.get(value)
        if existing is not None:
            return existing
        n = self._counts.get(label, 0) + 1
        self._counts[label] = n
        placeholder = f"<{label}_{n}>"
        self._by_value[value] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    # --- masking ----------------------------------------------------------------------------------

    def mask(self, text: str, *, prefix: str = "") -> str:
        """``text`` with every detected span replaced. ``prefix`` (e.g. a JSON key) is scanned as
        context but not returned."""
        if not text:
            return text
        full = prefix + text
        spans = [s for s in self.detector.detect(full) if s.start >= len(prefix)]
        return self._replace(full, spans)[len(prefix) :]

    def _replace(self, text: str, spans: list[Span]) -> str:
        out: list[str] = []
        pos = 0
        for span in spans:
            value = text[span.start : span.end]
            if PLACEHOLDER.fullmatch(value) or value in self._by_placeholder:
                continue
            out.append(text[pos : span.start])
            out.append(self.placeholder(span.label, value))
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def mask_arguments(self, arguments: str) -> str:
        """Tool-call arguments: the JSON's string and number leaves are masked, keys kept as cues."""
        try:
            value = json.loads(arguments)
            return json.dumps(self._mask_json(value, ""), ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON (or too deep for it): masked as text
            full = self.detector.detect(arguments)
            return self._replace(arguments, [s for s in full if not set(arguments[s.start : s.end]) & {'"', "\\"}])

    def _mask_json(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self._mask_json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask_json(v, key) for v in value]
        if isinstance(value, str):
            return self.mask(value, prefix=f"{key}: " if key else "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            masked = self.mask(str(value), prefix=f"{key}: " if key else "")
            return value if masked == str(value) else masked
        return value

    def mask_request(self, request: ChatRequest) -> ChatRequest:
        """A copy of ``request`` with every text the detector reads masked (``request_texts``): message
        texts and names, tool arguments and results, tool definitions, the ``response_format`` schema,
        ``user``, stop sequences and unknown fields passed through."""
        masked = request.model_copy(deep=True)
        try:
            for message in masked.messages:
                if isinstance(message.content, str):
                    message.content = self.mask(message.content)
                elif isinstance(message.content, list):
                    for part in message.content:
                        if part.get("type") == "text" and isinstance(part.get("text"), str):
                            part["text"] = self.mask(part["text"])
                if message.name:
                    message.name = self.mask(message.name, prefix="name: ")
                for call in message.tool_calls or ():
                    call.function = FunctionCall(
                        name=call.function.name, arguments=self.mask_arguments(call.function.arguments)
                    )
                for k, v in (message.model_extra or {}).items():
                    setattr(message, k, self._mask_json(v, k))
            for tool in masked.tools or ():
                if tool.function.description:
                    tool.function.description = self.mask(tool.function.description)
                if tool.function.parameters is not None:
                    tool.function.parameters = self._mask_json(tool.function.parameters, "")
            if masked.response_format is not None and masked.response_format.json_schema:
                masked.response_format.json_schema = self._mask_json(masked.response_format.json_schema, "")
            if masked.user:
                masked.user = self.mask(masked.user, prefix="user: ")
            if isinstance(masked.stop, str):
                masked.stop = self.mask(masked.stop)
            elif masked.stop:
                masked.stop = [self.mask(s) for s in masked.stop]
            for k, v in (masked.model_extra or {}).items():
                if k != "switchyard":
                    setattr(masked, k, self._mask_json(v, k))
        except RecursionError:
            raise InvalidRequest("the request's JSON is nested too deeply to be masked") from None
        return masked

    # --- restoring --------------------------------------------------------------------------------

    def restore(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(), m.group()), text)

    def restore_arguments(self, arguments: str) -> str:
        """Tool-call arguments from upstream: values are restored inside JSON strings, escaped."""
        return PLACEHOLDER.sub(lambda m: _json_escaped(self._by_placeholder.get(m.group()), m.group()), arguments)

    def restore_response(self, response: ChatResponse) -> ChatResponse:
        calls = None
        if response.tool_calls is not None:
            calls = [
                c.model_copy(
                    update={
                        "function": FunctionCall(
                            name=c.function.name, arguments=self.restore_arguments(c.function.arguments)
                        )
                    }
                )
                for c in response.tool_calls
            ]
        content = self.restore(response.content) if response.content is not None else None
        return dataclasses.replace(response, content=content, tool_calls=calls)

    def stream_restorer(self, *, json_escape: bool = False) -> StreamRestorer:
        return StreamRestorer(self._by_placeholder, json_escape=json_escape)

    async def restore_stream(self, chunks: AsyncIterable[Chunk]) -> AsyncIterator[Chunk]:
        """Restore a stream of chunks: content and tool-call argument deltas, each with its own buffer."""
        content = self.stream_restorer()
        arguments: dict[int, StreamRestorer] = {}
        async for chunk in chunks:
            text = content.feed(chunk.content) if chunk.content else ""
            deltas = [
                dataclasses.replace(
                    d, arguments=arguments.setdefault(d.index, self.stream_restorer(json_escape=True)).feed(d.arguments)
                )
                for d in chunk.tool_calls or ()
            ]
            last = chunk.finish_reason is not None or chunk.usage is not None
            if last:
                text += content.flush()
                deltas = _flush_arguments(deltas, arguments)
            if not (text or deltas or last):
                continue
            yield Chunk(
                content=text or None, tool_calls=deltas or None, finish_reason=chunk.finish_reason, usage=chunk.usage
            )
        tail = content.flush()
        rest = _flush_arguments([], arguments)
        if tail or rest:
            yield Chunk(content=tail or None, tool_calls=rest or None)


def _flush_arguments(deltas: list[ToolCallDelta], restorers: dict[int, StreamRestorer]) -> list[ToolCallDelta]:
    by_index = {d.index: d for d in deltas}
    for index, restorer in restorers.items():
        tail = restorer.flush()
        if not tail:
            continue
        if index in by_index:
            by_index[index].arguments += tail
        else:
            deltas.append(ToolCallDelta(index=index, arguments=tail))
    return deltas


def _json_escaped(value: str | None, placeholder: str) -> str:
    return placeholder if value is None else json.dumps(value, ensure_ascii=False)[1:-1]


class StreamRestorer:
    """Restores placeholders in a text that arrives in pieces.

    ``feed`` returns what can be emitted now: everything except a tail that is a proper prefix of a
    known placeholder (``"<PERS"``), which waits for the next piece. ``flush`` returns what is left.
    """

    def __init__(self, placeholders: Mapping[str, str], *, json_escape: bool = False) -> None:
        self._placeholders = placeholders  # live view: placeholders made later are known too
        self._json_escape = json_escape
        self._pending = ""

    def feed(self, piece: str) -> str:
        buffer = self._pending + piece
        cut = buffer.rfind("<")
        if cut != -1 and ">" not in buffer[cut:] and self._could_become_placeholder(buffer[cut:]):
            self._pending = buffer[cut:]
            buffer = buffer[:cut]
        else:
            self._pending = ""
        return self._restore(buffer)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._restore(rest)

    def _could_become_placeholder(self, tail: str) -> bool:
        return any(p.startswith(tail) for p in self._placeholders)

    def _restore(self, text: str) -> str:
        if "<" not in text:
            return text
        if self._json_escape:
            return PLACEHOLDER.sub(lambda m: _json_escaped(self._placeholders.get(m.group()), m.group()), text)
        return PLACEHOLDER.sub(lambda m: self._placeholders.get(m.group(), m.group()), text)
