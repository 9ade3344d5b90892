"""A Redis that accepts connections and then never answers (real sockets on loopback): requests with a
budget get 503 within the configured timeout, and the gateway keeps serving requests without one
meanwhile (the Redis client never blocks the event loop).

The hung Redis is a loopback TCP server that accepts every connection and reads what it is sent but
never writes a byte, like a redis-server stopped with SIGSTOP once its kernel buffers take the bytes
(and without a process to signal and resume)."""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from switchyard.config import BudgetConfig, GatewayConfig, RouteConfig, ServerConfig
from switchyard.keys import create_key
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY, RunningGateway
from tests.server.configs import openai_model

TIMEOUT = 1.0  # server.redis_timeout (SWITCHYARD_REDIS_TIMEOUT)
MARGIN = 1.0  # scheduling on a loaded 2-core machine: a bound on correctness, not a benchmark


class HungRedis:
    """Accepts connections, reads and discards what arrives, never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.setblocking(False)
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        self.received = 0  # bytes read, from every connection
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hung-redis", daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        sel.register(conn, selectors.EVENT_READ)
                        self.connections += 1
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        self.received += len(data)
                    else:
                        sel.unregister(sock)
                        sock.close()
            for key in list(sel.get_map().values()):
                if isinstance(key.fileobj, socket.socket):
                    key.fileobj.close()

    def __enter__(self) -> HungRedis:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Timed:
    start: float
    end: float
    status: int
    body: dict[str, object]


async def _ask(client: httpx.AsyncClient, secret: str) -> Timed:
    start = time.monotonic()
    r = await client.post(
        "/chat/completions",
        headers={"authorization": f"Bearer {secret}"},
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16},
    )
    return Timed(start, time.monotonic(), r.status_code, r.json())


async def _scrape(client: httpx.AsyncClient, url: str) -> Timed:
    start = time.monotonic()
    r = await client.get(url + "/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    return Timed(start, time.monotonic(), r.status_code, {"text": r.text})


async def _until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the budgeted requests never reached the (hung) Redis"
        await asyncio.sleep(0.005)


async def test_a_hung_redis_fails_budgeted_requests_and_blocks_nothing_else(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway]
) -> None:
    with HungRedis() as hung:
        cfg = GatewayConfig(
            server=ServerConfig(redis_url=hung.url),
            models=[openai_model("m", upstream.url)],
            routes=[RouteConfig(name="auto", models=["m"])],
            budgets=[BudgetConfig(team="metered", usd_per_day=100.0)],
        )
        gw = gateway_factory(cfg, redis_timeout=TIMEOUT)  # start-up's ping has already timed out
        _, metered = create_key(gw.gateway.store, "metered")
        _, free = create_key(gw.gateway.store, "free")  # a team without budgets
        async with httpx.AsyncClient(base_url=gw.v1, timeout=60) as client:
            await _ask(client, ADMIN_KEY)  # the connection pools warm: what follows measures Redis only
            before, connections = hung.received, hung.connections
            budgeted = [asyncio.create_task(_ask(client, metered)) for _ in range(3)]
            await _until(lambda: hung.received > before, within=TIMEOUT)  # they wait on Redis now
            asks = [_ask(client, key) for key in (ADMIN_KEY, free, ADMIN_KEY, free)]
            *others, scraped = await asyncio.gather(*asks, _scrape(client, gw.url))
            waiting = sum(not t.done() for t in budgeted)
            refused = await asyncio.gather(*budgeted)

    # (b) Requests without a budget were answered while every budgeted one was still waiting on Redis.
    t0 = min(r.start for r in refused)
    seen = {
        "others (status, ended at s)": [(o.status, round(o.end - t0, 2)) for o in others],
        "budgeted (status, ended at s)": [(r.status, round(r.end - t0, 2)) for r in refused],
    }
    assert [o.status for o in others] == [200] * 4, [o.body for o in others]
    assert waiting == 3, seen
    assert max(o.end for o in others) < min(r.end for r in refused), seen
    # The scrape did not wait on Redis either: the budget gauges show the last values read (none yet).
    assert scraped.status == 200 and scraped.end < min(r.end for r in refused), scraped.body
    assert 'switchyard_budget_used{limit="usd_per_day",scope="team:metered"} 0.0' in str(scraped.body["text"])
    # (a) Budgeted ones got 503 (never a free pass), each within the timeout (plus scheduling).
    for r in refused:
        assert r.status == 503, r.body
        error = r.body["error"]
        assert isinstance(error, dict) and "budget counters" in str(error["message"]), error
        assert r.end - r.start <= TIMEOUT + MARGIN, r.end - r.start
    assert hung.connections - connections >= 3  # each waited on a connection of its own, at the same time
