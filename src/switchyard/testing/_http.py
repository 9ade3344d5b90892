"""A minimal HTTP/1.1 server on ``asyncio.Protocol``, just enough for a mock upstream.

Keep-alive, ``Content-Length`` request bodies, fixed-length or chunked responses, and the two things an
ordinary framework hides from you: aborting a connection on purpose (``Responder.abort``) and noticing
that the client went away before the response was complete (``on_disconnect``, after which the handler
task is cancelled). No pipelining beyond sequential requests, no chunked request bodies, no TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import cast

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024

Headers = Sequence[tuple[str, str]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes
    keep_alive: bool


Handler = Callable[[Request, "Responder"], Awaitable[None]]


class Responder:
    """Writes one response: ``send`` for a whole one, or ``head`` + ``write``* + ``finish`` for a
    streamed (chunked) one; ``abort`` drops the connection without finishing.

    Output is held back until ``flush``, ``pause`` or ``finish`` so that a response goes out in as few
    system calls as possible; ``pause`` flushes before it sleeps."""

    __slots__ = ("_chunked", "_out", "_transport", "aborted", "finished", "started")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._out: list[bytes] = []
        self._chunked = False
        self.started = False
        self.finished = False
        self.aborted = False

    def head(self, status: int, headers: Headers, *, length: int | None = None) -> None:
        """The status line and headers; without ``length`` the body is chunked."""
        self._chunked = length is None
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines.extend(f"{k}: {v}" for k, v in headers)
        lines.append("transfer-encoding: chunked" if length is None else f"content-length: {length}")
        self.started = True
        self._out.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def write(self, data: bytes) -> None:
        """Body bytes (one chunk when chunked)."""
        if data:
            self._out.extend((b"%x\r\n" % len(data), data, b"\r\n") if self._chunked else (data,))

    def flush(self) -> None:
        if self._out and not self._transport.is_closing():
            self._transport.write(b"".join(self._out))
        self._out.clear()

    async def pause(self, seconds: float) -> None:
        """Send what is held back, then wait."""
        self.flush()
        await asyncio.sleep(seconds)

    def finish(self) -> None:
        if self._chunked:
            self._out.append(b"0\r\n\r\n")
        self.flush()
        self.finished = True

    def send(self, status: int, body: bytes, headers: Headers) -> None:
        self.head(status, headers, length=len(body))
        self.write(body)
        self.finish()

    def abort(self, *, reset: bool = True) -> None:
        """Drop the connection now: with a TCP reset (anything held back is lost), or with
        ``reset=False`` an orderly close after sending what was written."""
        self.aborted = True
        if not reset:
            self.flush()
            self._transport.close()
            return
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error(status: int, message: str) -> bytes:
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {_reason(status)}\r\ncontent-type: text/plain\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class _Connection(asyncio.Protocol):
    """One client connection: parses requests one after another and runs the handler for each."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._responder: Responder | None = None
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._server.connections.add(self)
        self._server.connection_count += 1

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._task is None:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.connections.discard(self)
        resp = self._responder
        if self._task is not None and resp is not None and not resp.finished and not resp.aborted:
            self._server.on_disconnect()
            self._task.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _next(self) -> None:
        """Start handling the next complete request in the buffer, if there is one."""
        transport = self._transport
        if transport is None or self._closed:
            return
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD:
                transport.write(_error(431, "request head too large"))
                transport.close()
            return
        try:
            request_line, *header_lines = self._buf[:end].decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
        except ValueError:
            transport.write(_error(400, "malformed request"))
            transport.close()
            return
        if "chunked" in headers.get("transfer-encoding", "") or length > MAX_BODY or length < 0:
            transport.write(_error(501, "chunked or oversized request bodies are not supported"))
            transport.close()
            return
        start = end + 4
        if len(self._buf) < start + length:
            return
        body = bytes(self._buf[start : start + length])
        del self._buf[: start + length]
        path, _, query = target.partition("?")
        conn = headers.get("connection", "").lower()
        keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
        request = Request(method, path, query, headers, body, keep_alive)
        self._responder = Responder(transport)
        self._task = asyncio.get_running_loop().create_task(self._run(request, self._responder))

    async def _run(self, request: Request, resp: Responder) -> None:
        transport = self._transport
        assert transport is not None
        try:
            await self._server.handler(request, resp)
            if not resp.started and not resp.aborted:
                resp.send(500, b"handler sent no response", [("content-type", "text/plain")])
        except asyncio.CancelledError:
            return
        except Exception as exc:  # a bug in the handler must not kill the server
            logging.getLogger(__name__).exception("handler failed on %s %s", request.method, request.path)
            if not resp.started and not resp.aborted:
                resp.send(500, f"mock upstream error: {exc!r}".encode(), [("content-type", "text/plain")])
            transport.close()
            return
        finally:
            self._task = None
            self._responder = None
        if resp.aborted:
            return
        if not request.keep_alive:
            transport.close()
        elif self._buf:
            self._next()


class HttpServer:
    """Serves ``handler`` on ``host:port`` (0 picks a free port) in the running event loop."""

    def __init__(self, handler: Handler, on_disconnect: Callable[[], None]) -> None:
        self.handler = handler
        self.on_disconnect = on_disconnect
        self.connections: set[_Connection] = set()
        self.connection_count = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024)
        sockname: tuple[str, int] = self._server.sockets[0].getsockname()
        return sockname[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
