"""Budget and rate-limit counters in Redis, shared by every replica of the gateway.

The check-and-reserve of a request is one Lua script, so it is atomic across replicas: two replicas
cannot both take the last of a budget. Counters are floats (``INCRBYFLOAT``) under
``<prefix><scope>|<metric>|<window>`` and expire a minute after their window ends.

The client is asynchronous (``redis.asyncio``): a round trip never blocks the event loop, so a Redis that
hangs holds up only the requests that need it (those with budgets) and the gateway keeps serving the
others. Every operation, connecting and the client's own retry included, has one deadline of ``timeout``
seconds; past it the operation fails with ``CountersUnavailable`` (503): a request is refused rather than
let through unmetered.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from .budgets import Charge
from .errors import CountersUnavailable

# KEYS: counters; ARGV: amount, limit, expires_at for each key, in order. Returns 0 when charged, else
# the 1-based index of the first counter that would go over its limit (and nothing is charged).
_CHARGE = """
for i, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key) or '0')
  if current + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCRBYFLOAT', key, ARGV[3 * i - 2])
  redis.call('EXPIREAT', key, ARGV[3 * i])
end
return 0
"""

GRACE_SECONDS = 60  # a counter outlives its window by this much (clocks of replicas differ a little)
DEFAULT_TIMEOUT = 2.0  # a Redis that is down refuses at once; 0.5 s failed requests on a loaded 2-core CI


class RedisCounters:
    """The ``SharedCounters`` of ``budgets.py`` in Redis. ``timeout`` bounds each operation as a whole."""

    def __init__(self, url: str, *, prefix: str = "switchyard:budget:", timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            import redis
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise CountersUnavailable("redis_url is set but the redis package is not installed") from exc
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        # One retry without backoff (a pooled connection Redis closed meanwhile), within the deadline.
        self._redis: Any = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
        )
        self._charge: Any = self._redis.register_script(_CHARGE)
        self.prefix = prefix
        self.url = url
        self.timeout = timeout

    def _key(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _expiry(expires_at: float) -> int:
        return math.ceil(expires_at) + GRACE_SECONDS

    def _fail(self, exc: BaseException) -> CountersUnavailable:
        what = "no answer within the timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return CountersUnavailable(f"the budget counters (Redis) did not answer: {what}")

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._redis.ping()
        except self._errors as exc:
            raise self._fail(exc) from exc

    async def get_many(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        try:
            async with asyncio.timeout(self.timeout):
                values = await self._redis.mget([self._key(k) for k in keys])
        except self._errors as exc:
            raise self._fail(exc) from exc
        return [float(v) if v is not None else 0.0 for v in values]

    async def charge(self, charges: Sequence[Charge]) -> int | None:
        if not charges:
            return None
        args: list[float | int] = []
        for c in charges:
            args += [c.amount, c.limit, self._expiry(c.expires_at)]
        keys = [self._key(c.key) for c in charges]
        try:
            async with asyncio.timeout(self.timeout):
                broken = int(await self._charge(keys=keys, args=[repr(a) for a in args]))
        except self._errors as exc:
            raise self._fail(exc) from exc
        return None if broken == 0 else broken - 1

    async def add_many(self, amounts: Sequence[tuple[str, float, float]]) -> None:
        """Add each (key, amount, expires_at), in one transaction."""
        if not amounts:
            return
        try:
            async with asyncio.timeout(self.timeout):
                pipe = self._redis.pipeline(transaction=True)
                for key, amount, expires_at in amounts:
                    pipe.incrbyfloat(self._key(key), amount)
                    pipe.expireat(self._key(key), self._expiry(expires_at))
                await pipe.execute()
        except self._errors as exc:
            raise self._fail(exc) from exc

    async def seed(self, key: str, amount: float, expires_at: float) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._redis.set(self._key(key), repr(float(amount)), nx=True, exat=self._expiry(expires_at))
        except self._errors as exc:
            raise self._fail(exc) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()
