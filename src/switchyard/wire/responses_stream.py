"""Responses API events (``POST /v1/responses`` with ``stream: true``), client side: internal chunks ->
the server-sent events the openai SDK reads, each with its ``sequence_number``.

    response.created, response.in_progress
    per text answer:    response.output_item.added (message), response.content_part.added (output_text),
                        response.output_text.delta ..., response.output_text.done,
                        response.content_part.done, response.output_item.done
    per tool call:      response.output_item.added (function_call), response.function_call_arguments.delta ...,
                        response.function_call_arguments.done, response.output_item.done
    response.completed (or response.incomplete), with the whole response and its usage

A failure after the stream opened closes the open items (``incomplete``) and ends the stream with an
``error`` event and ``response.failed``. The route stores
the response between :meth:`ResponsesStreamEncoder.close` and :meth:`~ResponsesStreamEncoder.complete`, so a
client that continues it as soon as it completes finds it. Items are opened
one at a time, except tool calls: an upstream may interleave the fragments of parallel calls, so every call
stays open until the end, and a text that follows a call opens a new message item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..errors import SwitchyardError
from ..types import JSON, Chunk, Usage
from .responses import ResponseIds, error_object, function_call_item, message_item, status_of

# response_object(...) of this response with everything but the answer's state bound (see responses_routes)
Snapshot = Callable[..., JSON]


def sse_event(event: JSON) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class _Call:
    def __init__(self, output_index: int, item_id: str, call_id: str, name: str) -> None:
        self.output_index = output_index
        self.item_id = item_id
        self.call_id = call_id
        self.name = name
        self.arguments: list[str] = []


class ResponsesStreamEncoder:
    """Turns internal chunks into Responses events. :meth:`start` first (the lifecycle events), then
    :meth:`encode` per chunk, then :meth:`finish` (or :meth:`error`); after :meth:`finish`, ``response`` is
    the final Response object (what ``response.completed`` carries)."""

    def __init__(self, snapshot: Snapshot, ids: ResponseIds, clock: Callable[[], float]) -> None:
        self.snapshot = snapshot
        self.ids = ids
        self.clock = clock
        self.response: JSON | None = None
        self._seq = 0
        self._started = False
        self._finished = False
        self._output: list[JSON | None] = []  # items by output index; None while one is open
        self._text: list[str] | None = None  # the open message's text
        self._message: tuple[int, str] | None = None  # its output index and id
        self._messages = 0
        self._calls: dict[int, _Call] = {}  # by the chunk's tool-call index
        self._finish_reason: str | None = None
        self._usage: Usage | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse_event(event)

    def start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        head = self.snapshot(status="in_progress", output=[])
        return self._event("response.created", response=head) + self._event("response.in_progress", response=head)

    def encode(self, chunk: Chunk) -> bytes:
        out = self.start()
        if chunk.content:
            if self._text is None:
                out += self._open_message()
            assert self._text is not None and self._message is not None
            self._text.append(chunk.content)
            index, item_id = self._message
            out += self._event(
                "response.output_text.delta",
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=chunk.content,
                logprobs=[],
            )
        for tc in chunk.tool_calls or ():
            call = self._calls.get(tc.index)
            if call is None:
                out += self._close_message("completed")
                index = len(self._output)
                call = _Call(index, self.ids.call(len(self._calls)), tc.id or self.ids.call(len(self._calls)), "")
                call.name = tc.name or ""
                self._calls[tc.index] = call
                self._output.append(None)
                item = function_call_item(call.item_id, call.call_id, call.name, "", "in_progress")
                out += self._event("response.output_item.added", output_index=index, item=item)
            if tc.arguments:
                call.arguments.append(tc.arguments)
                out += self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.item_id,
                    output_index=call.output_index,
                    delta=tc.arguments,
                )
        if chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        return out

    def _open_message(self) -> bytes:
        index = len(self._output)
        item_id = self.ids.message if self._messages == 0 else f"{self.ids.message}_{self._messages}"
        self._messages += 1
        self._output.append(None)
        self._message, self._text = (index, item_id), []
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return self._event("response.output_item.added", output_index=index, item=item) + self._event(
            "response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part
        )

    def _close_message(self, status: str) -> bytes:
        if self._text is None or self._message is None:
            return b""
        index, item_id = self._message
        text = "".join(self._text)
        self._text = self._message = None
        item = message_item(item_id, text, status)
        self._output[index] = item
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        return (
            self._event("response.output_text.done", **where, text=text, logprobs=[])
            + self._event("response.content_part.done", **where, part=item["content"][0])
            + self._event("response.output_item.done", output_index=index, item=item)
        )

    def _close_calls(self, status: str) -> bytes:
        out = b""
        for call in self._calls.values():
            arguments = "".join(call.arguments)
            item = function_call_item(call.item_id, call.call_id, call.name, arguments, status)
            self._output[call.output_index] = item
            out += self._event(
                "response.function_call_arguments.done",
                item_id=call.item_id,
                output_index=call.output_index,
                arguments=arguments,
            )
            out += self._event("response.output_item.done", output_index=call.output_index, item=item)
        self._calls = {}
        return out

    def close(self, usage: Usage | None) -> bytes:
        """Close every item; ``response`` is then the final Response object (``usage`` is the call's final
        usage). :meth:`complete` sends it."""
        if self._finished:
            return b""
        self._finished = True
        status, incomplete = status_of(self._finish_reason)
        item_status = "incomplete" if status == "incomplete" else "completed"
        out = self.start()
        if not self._output:  # clients read output_text: never leave the output empty
            out += self._open_message()
        out += self._close_message(item_status) + self._close_calls(item_status)
        self.response = self.snapshot(
            status=status,
            output=[item for item in self._output if item is not None],
            usage=usage or self._usage,
            incomplete=incomplete,
            completed_at=int(self.clock()) if status == "completed" else None,
        )
        return out

    def complete(self) -> bytes:
        """``response.completed`` (``response.incomplete`` when the answer was cut short) with ``response``."""
        assert self.response is not None, "close() first"
        return self._event(f"response.{self.response['status']}", response=self.response)

    def finish(self, usage: Usage | None) -> bytes:
        if self._finished:
            return b""
        return self.close(usage) + self.complete()

    def error(self, err: SwitchyardError) -> bytes:
        """The open items closed as incomplete, an ``error`` event, then ``response.failed`` with what was
        answered so far."""
        if self._finished:
            return b""
        self._finished = True
        out = self.start() + self._close_message("incomplete") + self._close_calls("incomplete")
        out += self._event("error", code=err.code or err.type, message=err.message, param=err.param)
        output = [item for item in self._output if item is not None]
        failed = self.snapshot(status="failed", output=output, error=error_object(err), stored=False)
        return out + self._event("response.failed", response=failed)

    def extension(self, data: JSON) -> bytes:
        """switchyard's own blocks have no place in this stream."""
        return b""
