"""The open-loop load generator of bench/overhead.py, and the statistics of one measured window.

A small HTTP/1.1 keep-alive client on asyncio (uvloop when installed) with httptools' response parser
(both come with ``uvicorn[standard]``): measured on 2 cores at 300 RPS against the mock it costs ~0.3 ms
of CPU per request, aiohttp ~0.7 ms and httpx several ms, and every CPU cycle the generator takes is one
the target does not get. Request ``i`` is sent at ``t0 + i/R`` whatever the earlier ones are doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httptools

from overhead_procs import HOST

PROMPT = "Summarise the benefits of a gateway in front of many language model providers, briefly."
IDLE_REUSE_SECONDS = 2.0  # below uvicorn's 5 s keep-alive timeout: never reuse a socket the server may close


def request_bytes(port: int, model: str, stream: bool, key: str) -> bytes:
    """One complete HTTP/1.1 request, built once and reused for every send."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.keep_alive = True
        self.last_used = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.first_byte = 0.0
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transport is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, timeout: float) -> None:
        assert self.transport is not None
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None
        self.last_used = time.perf_counter()


@dataclass(slots=True)
class Sample:
    index: int
    stream: bool
    warmup: bool
    scheduled: float
    start: float = 0.0
    ttfb: float = 0.0
    end: float = 0.0
    error: str | None = None


class Pool:
    """Keep-alive connections to one address; opens more when all are busy (open loop)."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.all: set[Connection] = set()
        self.opened = 0
        self.retries = 0
        self.slots = asyncio.Semaphore(limit)

    async def _connection(self) -> tuple[Connection, bool]:
        now = time.perf_counter()
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and now - conn.last_used < IDLE_REUSE_SECONDS:
                return conn, True
            conn.close()
            self.all.discard(conn)
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(loop.create_connection(Connection, HOST, self.port), 10)
        self.opened += 1
        self.all.add(conn)
        return conn, False

    async def send(self, request: bytes, sample: Sample, stream: bool, timeout: float) -> None:
        async with self.slots:
            for attempt in range(2):
                conn, reused = await self._connection()
                try:
                    await conn.exchange(request, timeout)
                except (OSError, httptools.HttpParserError) as exc:
                    self.all.discard(conn)
                    conn.close()
                    # A reused socket the server closed just before our request arrived: retry once.
                    if reused and not conn.first_byte and attempt == 0:
                        self.retries += 1
                        continue
                    sample.error = f"{type(exc).__name__}: {exc}"
                    return
                except TimeoutError:
                    self.all.discard(conn)
                    conn.close()
                    sample.error = "timeout"
                    return
                sample.end = conn.last_used
                sample.ttfb = conn.first_byte
                sample.error = check_response(conn.status, b"".join(conn.body), stream)
                if conn.keep_alive and not conn.closed:
                    self.idle.append(conn)
                else:
                    self.all.discard(conn)
                    conn.close()
                return

    def close(self) -> None:
        for conn in self.all:
            conn.close()
        self.all.clear()
        self.idle.clear()


def check_response(status: int, body: bytes, stream: bool) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    if stream and not body.rstrip().endswith(b"data: [DONE]"):
        return "stream did not end with [DONE]"
    if not stream and b'"choices"' not in body:
        return "response has no choices"
    return None


def is_stream(i: int, share: float) -> bool:
    """Spread streamed requests evenly: request i streams when the running share crosses an integer."""
    return int((i + 1) * share) > int(i * share)


@dataclass(frozen=True)
class Endpoint:
    """Where one target takes chat completions: its port, the model name it serves, the key it wants."""

    port: int
    model: str
    key: str


@dataclass(frozen=True)
class Load:
    rps: float
    seconds: float
    warmup: float
    stream_share: float
    concurrency_limit: int
    timeout: float


@dataclass
class Phase:
    name: str
    samples: list[Sample]
    window: float
    opened: int
    retries: int
    lag_ms: list[float] = field(default_factory=list)


async def drive(name: str, endpoint: Endpoint, load: Load) -> Phase:
    """Send requests open-loop: request i at t0 + i/rps, never waiting for earlier answers."""
    pool = Pool(endpoint.port, load.concurrency_limit)
    requests = {s: request_bytes(endpoint.port, endpoint.model, s, endpoint.key) for s in (False, True)}
    rps, timeout = load.rps, load.timeout
    total = max(round((load.warmup + load.seconds) * rps), 1)
    n_warm = round(load.warmup * rps)
    samples: list[Sample] = []
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter() + 0.05

    async def one(sample: Sample) -> None:
        sample.start = time.perf_counter()
        try:
            await pool.send(requests[sample.stream], sample, sample.stream, timeout)
        except Exception as exc:  # a load-generator bug must show as an error, not end the run
            sample.error = f"{type(exc).__name__}: {exc}"

    try:
        for i in range(total):
            scheduled = t0 + i / rps
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sample = Sample(i, is_stream(i, load.stream_share), i < n_warm, scheduled)
            samples.append(sample)
            tasks.append(asyncio.create_task(one(sample)))
        if tasks:
            await asyncio.wait(tasks, timeout=timeout + 15)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pool.close()
    for s in samples:
        if not s.end and s.error is None:
            s.error = "not finished"
    measured = [s for s in samples if not s.warmup]
    first = min((s.start for s in measured), default=0.0)
    last = max((s.end for s in measured), default=0.0)
    lag = [(s.start - s.scheduled) * 1000 for s in measured]
    return Phase(name, samples, max(last - first, 1e-9), pool.opened, pool.retries, lag)


def run_phase(name: str, endpoint: Endpoint, load: Load) -> Phase:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(drive(name, endpoint, load))
    return uvloop.run(drive(name, endpoint, load))


# --- statistics of one window -----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks; None for no data."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


PCTS = (50, 95, 99)
KINDS: dict[str, Callable[[Sample], bool]] = {
    "": lambda s: True,
    "_stream": lambda s: s.stream,
    "_nonstream": lambda s: not s.stream,
}


def phase_stats(phase: Phase) -> dict[str, Any]:
    measured = [s for s in phase.samples if not s.warmup]
    ok = [s for s in measured if s.error is None]
    out: dict[str, Any] = {
        "requests": len(measured),
        "errors": sum(1 for s in phase.samples if s.error is not None),
        "rps_achieved": round(len(ok) / phase.window, 1),
        "connections": phase.opened,
        "reconnects": phase.retries,
        "loadgen_lag_p99_ms": _ms(percentile(phase.lag_ms, 99)),
    }
    for suffix, keep in KINDS.items():
        lat = [(s.end - s.start) * 1000 for s in ok if keep(s)]
        for p in PCTS:
            out[f"p{p}_ms{suffix}"] = _ms(percentile(lat, p))
    ttfb = [(s.ttfb - s.start) * 1000 for s in ok if s.stream]
    for p in PCTS:
        out[f"ttfb_p{p}_ms_stream"] = _ms(percentile(ttfb, p))
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def first_errors(phase: Phase, n: int = 3) -> list[str]:
    return [f"{phase.name} #{s.index}: {s.error}" for s in phase.samples if s.error is not None][:n]
