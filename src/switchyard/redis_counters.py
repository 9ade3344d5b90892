"""Budget and rate-limit counters in Redis, shared by every replica of the gateway.

The check-and-reserve of a request is one Lua script, so it is atomic across replicas: two replicas
cannot both take the last of a budget. Counters are floats (``INCRBYFLOAT``) under
``<prefix><scope>|<metric>|<window>`` and expire a minute after their window ends.

The client is synchronous on purpose: a budget check is one loopback round trip (~0.1 ms) made without
an await, like the in-memory check, and a Redis that does not answer within ``timeout`` seconds fails
the request with 503 rather than letting it through unmetered.
"""

from __future__ import annotations

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


class RedisCounters:
    def __init__(self, url: str, *, prefix: str = "switchyard:budget:", timeout: float = 2.0) -> None:
        # 2 s: a Redis that is down refuses at once; 0.5 s failed requests on a loaded 2-core CI machine
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise CountersUnavailable("redis_url is set but the redis package is not installed") from exc
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._charge: Any = self._redis.register_script(_CHARGE)
        self.prefix = prefix
        self.url = url

    def _key(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _expiry(expires_at: float) -> int:
        return math.ceil(expires_at) + GRACE_SECONDS

    def _fail(self, exc: BaseException) -> CountersUnavailable:
        return CountersUnavailable(f"the budget counters (Redis) did not answer: {type(exc).__name__}")

    def ping(self) -> None:
        try:
            self._redis.ping()
        except self._errors as exc:
            raise self._fail(exc) from exc

    def get_many(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        try:
            values = self._redis.mget([self._key(k) for k in keys])
        except self._errors as exc:
            raise self._fail(exc) from exc
        return [float(v) if v is not None else 0.0 for v in values]

    def charge(self, charges: Sequence[Charge]) -> int | None:
        if not charges:
            return None
        args: list[float | int] = []
        for c in charges:
            args += [c.amount, c.limit, self._expiry(c.expires_at)]
        try:
            broken = int(self._charge(keys=[self._key(c.key) for c in charges], args=[repr(a) for a in args]))
        except self._errors as exc:
            raise self._fail(exc) from exc
        return None if broken == 0 else broken - 1

    def add(self, key: str, amount: float, expires_at: float) -> None:
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incrbyfloat(self._key(key), amount)
            pipe.expireat(self._key(key), self._expiry(expires_at))
            pipe.execute()
        except self._errors as exc:
            raise self._fail(exc) from exc

    def seed(self, key: str, amount: float, expires_at: float) -> None:
        try:
            self._redis.set(self._key(key), repr(float(amount)), nx=True, exat=self._expiry(expires_at))
        except self._errors as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        self._redis.close()
