"""The gateway's clock seam: ledger timestamps and budget windows follow ``Gateway(clock=...)``."""

from __future__ import annotations

import httpx

from switchyard.budgets import window_bounds
from switchyard.config import BudgetConfig, GatewayConfig, Price
from switchyard.economics.report import ReportFilters, build_report, models_from_config
from switchyard.keys import create_key
from switchyard.store.sqlite import utc_day
from switchyard.testing import MockUpstream
from tests.server.configs import openai_model

DAY = 86400.0
T0 = 1_780_000_000.0 // DAY * DAY + 3600  # 01:00 UTC on some day


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ledger_rows_and_budget_windows_follow_the_gateways_clock(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    cfg = GatewayConfig(
        models=[openai_model("m", upstream.url, price=Price(input=1000.0, output=1000.0))],
        budgets=[BudgetConfig(team="apps", usd_per_day=0.05)],
    )
    gw = gateway_factory(cfg, clock=clock)
    _, secret = create_key(gw.gateway.store, "apps")
    chat = {"model": "m", "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 8}

    def call() -> int:
        return httpx.post(
            gw.v1 + "/chat/completions", json=chat, headers={"authorization": f"Bearer {secret}"}
        ).status_code

    # ~11 tokens each at $1000 per 1M: ~$0.011; each reserves its bound (~37 tokens: ~$0.037)
    statuses = [call() for _ in range(6)]
    assert statuses[0] == 200 and 429 in statuses  # the day's budget runs out
    clock.now = T0 + DAY  # the next simulated day: a fresh daily window
    assert call() == 200
    gw.flush()
    store = gw.ledger()
    report = build_report(store, models_from_config(cfg), ReportFilters())
    store.close()
    assert report.days == [utc_day(T0), utc_day(T0 + DAY)]
    assert [d.requests for d in report.by_day] == [statuses.count(200), 1]
    assert window_bounds("day", clock.now)[0] == utc_day(T0 + DAY)
