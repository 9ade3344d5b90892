"""Anthropic Messages events, both ways: the client-side encoder (internal chunks -> SSE events) and the
upstream decoder (events -> internal chunks). Stop reasons, usage and ids come from
:mod:`switchyard.wire.anthropic`, so a stream and a whole message say the same things."""

from __future__ import annotations

import uuid

import orjson

from ..errors import SwitchyardError, UpstreamError, UpstreamProtocolError, UpstreamRateLimited
from ..types import JSON, Chunk, ToolCallDelta, Usage
from .anthropic import error_body, finish_reason, new_message_id, parse_usage, stop_reason, usage_json

# ------------------------------------------------------------------------------- client side: chunks -> events


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
        totals = usage_json(final if final is not None else Usage(prompt_tokens=self.input_tokens))
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


class WireStreamEncoder:
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


# ----------------------------------------------------------------------------- upstream side: events -> chunks


def _stream_error(data: JSON) -> UpstreamError:
    raw = data.get("error")
    err: JSON = raw if isinstance(raw, dict) else {}
    kind, message = err.get("type", "api_error"), err.get("message", "")
    if kind == "rate_limit_error":
        return UpstreamRateLimited(f"upstream stream error ({kind}): {message}")
    return UpstreamError(f"upstream stream error ({kind}): {message}")


class AnthropicStreamDecoder:
    """Turns an upstream's Anthropic stream events into internal chunks: call :meth:`decode` per event until
    :attr:`done` (set by ``message_stop``, whose chunk carries the finish reason and usage)."""

    def __init__(self) -> None:
        self.usage: JSON = {}
        self.stop_reason: str | None = None
        self.tools: dict[int, int] = {}  # content block index -> tool call index
        self.tool_args: dict[int, bool] = {}  # tool call index -> any arguments sent
        self.done = False

    def decode(self, event: JSON) -> Chunk | None:
        """The chunk one event makes, if any. Raises :class:`UpstreamError` for an ``error`` event and
        :class:`UpstreamProtocolError` for an event of an unexpected shape."""
        try:
            return self._decode(event)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UpstreamProtocolError(f"unexpected upstream event {event!r:.200}") from exc

    def _decode(self, event: JSON) -> Chunk | None:
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
            return Chunk(finish_reason=finish_reason(self.stop_reason), usage=parse_usage(self.usage))
        elif kind == "error":
            raise _stream_error(event)
        return None
