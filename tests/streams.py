"""Many concurrent streamed chat requests against one or more gateways (budget tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

BODY = {
    "model": "auto",
    "stream": True,
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "please count some words for the budget test"}],
}


def concurrent_streams(bases: Sequence[str], secret: str, n: int = 100, errors: list[str] | None = None) -> list[int]:
    """Fire ``n`` streams at once, spread round-robin over the gateways' ``/v1`` bases; their statuses
    (and, into ``errors``, the bodies of answers other than 200 and 429, for assertion messages)."""

    async def one(client: httpx.AsyncClient, base: str) -> int:
        async with client.stream("POST", base + "/chat/completions", json=BODY) as r:
            body = await r.aread()
            if errors is not None and r.status_code not in (200, 429):
                errors.append(f"{r.status_code} {body[:300]!r}")
            return r.status_code

    async def fire() -> list[int]:
        headers = {"authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), headers=headers, timeout=60) as c:
            return await asyncio.gather(*(one(c, bases[i % len(bases)]) for i in range(n)))

    return asyncio.run(fire())


def concurrent_posts(base: str, secret: str, body: dict[str, object], n: int = 40) -> list[int]:
    """Fire ``n`` non-streamed chat requests at once; their statuses."""

    async def fire() -> list[int]:
        headers = {"authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), headers=headers, timeout=60) as c:
            replies = await asyncio.gather(*(c.post(base + "/chat/completions", json=body) for _ in range(n)))
            return [r.status_code for r in replies]

    return asyncio.run(fire())
