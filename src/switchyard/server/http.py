"""HTTP plumbing shared by the routes: bounded body reading, JSON parsing with clear errors, an
SSE response that cancels its producer when the client goes away, and the same for plain awaits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import InvalidRequest, PayloadTooLarge

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    if not body:
        raise InvalidRequest("the request body is empty: send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"malformed JSON in the request body: {exc}") from None


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work`` in the current task unless the client disconnects first, in which case the work
    is cancelled (and with it the upstream call) and :class:`ClientDisconnected` is raised."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _wait_disconnect(request.receive)
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if gone:
            task.uncancel()
            raise ClientDisconnected from None
        raise
    finally:
        watcher.cancel()


class JSONBody(Response):
    """A JSON response serialised with orjson (several times faster than the stdlib encoder)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class EventStreamResponse(Response):
    """Server-sent events from an async iterator of bytes. If the client disconnects, the iterator is
    cancelled at once (so the upstream call it drives is cancelled too), not at the next write."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(content=None, status_code=200, headers=headers, media_type=self.media_type)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.raw_headers.append((b"cache-control", b"no-cache"))
        self.raw_headers.append((b"x-accel-buffering", b"no"))
        self.body_iterator = body

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for data in self.body_iterator:
            if data:
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            await _wait_disconnect(receive)
            gone = True
            task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self._stream(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()  # the client left: the body iterator was cancelled, which is all we wanted
        finally:
            watcher.cancel()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
