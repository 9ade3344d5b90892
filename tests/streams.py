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


def concurrent_streams(bases: Sequence[str], secret: str, n: int = 100) -> list[int]:
    """Fire ``n`` streams at once, spread round-robin over the gateways' ``/v1`` bases; their statuses."""

    async def one(client: httpx.AsyncClient, base: str) -> int:
        async with client.stream("POST", base + "/chat/completions", json=BODY) as r:
            await r.aread()
            return r.status_code

    async def fire() -> list[int]:
        headers = {"authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), headers=headers, timeout=60) as c:
            return await asyncio.gather(*(one(c, bases[i % len(bases)]) for i in range(n)))

    return asyncio.run(fire())
