"""Budget counters in a real Redis: the check-and-reserve is atomic, and two gateway replicas sharing
one Redis never overshoot a team's budget together."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from switchyard.budgets import Budgets, Charge, Estimate
from switchyard.config import BudgetConfig, GatewayConfig, Price, RouteConfig
from switchyard.errors import CountersUnavailable, RateLimited
from switchyard.keys import create_key
from switchyard.redis_counters import GRACE_SECONDS, RedisCounters
from switchyard.testing import Fault, MockUpstream
from switchyard.types import Principal
from tests.conftest import free_port
from tests.server.configs import openai_model
from tests.streams import concurrent_streams


@pytest.fixture
async def counters(redis_url: str) -> AsyncIterator[RedisCounters]:
    shared = RedisCounters(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield shared
    await shared.aclose()


async def test_charge_is_all_or_nothing(counters: RedisCounters) -> None:
    later = time.time() + 3600
    assert await counters.charge([Charge("a", 3, 5, later), Charge("b", 1, 1, later)]) is None
    assert await counters.get_many(["a", "b", "missing"]) == [3.0, 1.0, 0.0]
    # "b" is full: nothing is charged, and the index names the counter that broke
    assert await counters.charge([Charge("a", 1, 5, later), Charge("b", 0.5, 1, later)]) == 1
    assert await counters.get_many(["a", "b"]) == [3.0, 1.0]
    await counters.add_many([("a", -2.5, later), ("b", 0.25, later)])
    assert await counters.get_many(["a", "b"]) == [0.5, 1.25]
    ttl = await counters._redis.ttl(counters._key("a"))
    assert 3600 < ttl <= 3600 + GRACE_SECONDS + 1  # counters expire after their window


async def test_seed_keeps_what_the_shared_store_holds(counters: RedisCounters) -> None:
    later = time.time() + 60
    await counters.seed("spend", 1.25, later)
    await counters.seed("spend", 9.0, later)  # another replica starting later: its ledger view is not added
    assert await counters.get_many(["spend"]) == [1.25]


async def test_budgets_on_redis_raise_429_with_the_reset(counters: RedisCounters) -> None:
    b = Budgets([BudgetConfig(team="t", usd_per_day=1.0)], shared=counters)
    p = Principal(key_id="k", team="t")
    r = await b.areserve(p, Estimate(cost=0.75, tokens=1))
    with pytest.raises(RateLimited) as info:
        await b.areserve(p, Estimate(cost=0.5, tokens=1))
    assert int(info.value.headers["retry-after"]) <= 86400
    with pytest.raises(TypeError):  # the synchronous calls would block the event loop
        b.reserve(p, Estimate(cost=0.5, tokens=1))
    b.settle(r, cost=0.25, tokens=1)  # returns at once: the correction is a task
    assert [u.used for u in b.current_use()] == [0.0]  # nothing read yet: the gauges never wait
    await b.drain()
    await b.areserve(p, Estimate(cost=0.5, tokens=1))
    assert [u.used for u in await b.acurrent_use()] == [0.75]
    assert [u.used for u in b.current_use()] == [0.75]  # the last value read


async def test_extensions_and_downgrade_hints_on_redis(counters: RedisCounters) -> None:
    b = Budgets([BudgetConfig(team="t", usd_per_day=1.0, tokens_per_minute=100)], shared=counters)
    p = Principal(key_id="k", team="t")
    r = await b.areserve(p, Estimate(cost=0.4, tokens=40))
    await b.aextend(r, Estimate(cost=0.4, tokens=40))
    with pytest.raises(RateLimited):
        await b.aextend(r, Estimate(cost=0.1, tokens=40))  # tokens would pass 100: nothing is taken
    assert await b.afitting(p, [Estimate(0.2, 20), Estimate(0.3, 10), Estimate(0.1, 30)]) == [True, False, False]
    b.settle(r, cost=0.5, tokens=50)
    await b.drain()
    used = {u.limit_name: u.used for u in await b.acurrent_use()}
    assert used == {"usd_per_day": pytest.approx(0.5), "tokens_per_minute": 50}


async def test_unreachable_redis_fails_closed() -> None:
    dead = RedisCounters(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    with pytest.raises(CountersUnavailable, match="did not answer"):
        await dead.charge([Charge("a", 1, 5, time.time() + 60)])
    b = Budgets([BudgetConfig(team="t", usd_per_day=1.0)], shared=dead)
    with pytest.raises(CountersUnavailable):
        await b.areserve(Principal(key_id="k", team="t"), Estimate(cost=0.1, tokens=1))
    assert CountersUnavailable.status == 503
    await dead.aclose()


def test_two_replicas_share_one_budget(redis_url: str, upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    redis.Redis.from_url(redis_url).flushdb()
    cfg = GatewayConfig(
        models=[openai_model("premium", upstream.url, price=Price(input=1000, output=1000))],
        routes=[RouteConfig(name="auto", models=["premium"])],
        budgets=[BudgetConfig(team="small", usd_per_day=0.5)],
    )
    a = gateway_factory(cfg, redis_url=redis_url)
    b = gateway_factory(cfg, redis_url=redis_url)
    record, secret = create_key(a.gateway.store, "small")
    b.gateway.store.add_key(record)  # one key store, as replicas on a shared database have
    upstream.set_default(Fault.slow_stream(0.01))
    errors: list[str] = []
    statuses = concurrent_streams([a.v1, b.v1], secret, errors=errors)
    assert set(statuses) <= {200, 429} and statuses.count(200) > 0 and statuses.count(429) > 0, errors[:3]
    a.flush()
    b.flush()
    rows = [r for gw in (a, b) for r in gw.ledger().recent(500) if r.team == "small" and r.status == 200]
    assert len(rows) == statuses.count(200)
    served = [sum(r.team == "small" and r.status == 200 for r in gw.ledger().recent(500)) for gw in (a, b)]
    assert all(n > 0 for n in served), served  # both replicas served part of the budget
    spent = sum(r.cost for r in rows)
    assert spent <= 0.5 + 1e-12, spent  # zero overshoot across replicas
