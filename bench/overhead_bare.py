"""The bare pass-through proxy of bench/overhead.py: the CPU baseline a gateway is compared with.

    python bench/overhead_bare.py --port 8001 --upstream http://127.0.0.1:8000

An aiohttp server that forwards ``POST /v1/chat/completions`` to the upstream with one pooled client
session, unparsed: the body goes up as it came, the answer comes back as it went, a streamed answer
relayed chunk by chunk as it arrives. No key check, no policy, no ledger: whatever a gateway spends
beyond this is the price of what it does. ``GET /readyz`` answers 200.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
FORWARDED_HEADERS = ("content-type", "authorization")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def forward(request: web.Request) -> web.StreamResponse:
    """Send the request's body upstream; relay the answer, streamed when the upstream streams."""
    body = await request.read()
    headers = {k: v for k in FORWARDED_HEADERS if (v := request.headers.get(k)) is not None}
    url = request.app[UPSTREAM] + request.path
    async with request.app[SESSION].post(url, data=body, headers=headers) as upstream:
        content_type = upstream.headers.get("content-type", "application/json")
        if not content_type.startswith("text/event-stream"):
            body = await upstream.read()
            return web.Response(status=upstream.status, body=body, headers={"content-type": content_type})
        return await relay(request, upstream, content_type)


async def relay(request: web.Request, upstream: aiohttp.ClientResponse, content_type: str) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, headers={"content-type": content_type})
    await response.prepare(request)
    async for chunk in upstream.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response


async def open_session(app: web.Application) -> None:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    app[SESSION] = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))


async def close_session(app: web.Application) -> None:
    await app[SESSION].close()


def build_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_get("/readyz", ready)
    app.router.add_post("/v1/chat/completions", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(build_app(args.upstream), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
