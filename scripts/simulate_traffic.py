"""Fill a ledger with a realistic 30-day mixed workload, through the real gateway, then report on it.

    python scripts/simulate_traffic.py --out sim/            # ~15,000 requests, report + PNGs in sim/
    python scripts/simulate_traffic.py --requests 300 --out /tmp/s --no-plots   # the smoke test's size

What runs: three loopback upstreams (``switchyard.testing.MockUpstream``: a premium API speaking the
OpenAI and Anthropic formats, an open-weight API, an on-prem vLLM-like server), the real switchyard
app served by uvicorn on 127.0.0.1 in front of them, and the official ``openai`` SDK as the client,
with one API key per team. Nothing is written to the ledger directly: every row comes from a request
the gateway answered (or failed).

A month in a few minutes: the gateway takes a ``clock`` (``Gateway(clock=...)``); the simulation passes
one that returns the simulated time of the request being sent, so the ledger's timestamps (and budget
windows) follow the simulated month, while latencies are real.

The workload: five teams with their own habits (prompt and answer lengths, routes, sensitive data),
weekday/weekend and office-hour rhythm, and an adoption curve: at the start of the month teams call
the premium models directly (as before switchyard), by the end most of their traffic goes through
routes that try open-weight and on-prem models first — the proprietary share falls across the month.
Sensitive requests (PII, health) carry synthetic personal data that the real detector finds, and the
routes' residency rules keep them on-prem. Upstream failures are scripted: 503s that the gateway
retries or falls back from, and a few that exhaust a route (errors in the ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sqlite3
import sys
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai

from switchyard.config import GatewayConfig, Settings
from switchyard.economics.plots import write_plots
from switchyard.economics.report import Report, ReportFilters, build_report, models_from_config
from switchyard.economics.report_cli import print_table, to_csv
from switchyard.gateway import Gateway
from switchyard.keys import create_key
from switchyard.server.app import create_app
from switchyard.store.sqlite import SQLiteStore, utc_day
from switchyard.testing import Fault, MockUpstream
from switchyard.testing.serve import serve_in_thread

DAY = 86400.0
WORDS = [
    "order",
    "invoice",
    "account",
    "delivery",
    "refund",
    "product",
    "customer",
    "policy",
    "quarter",
    "revenue",
    "forecast",
    "margin",
    "churn",
    "latency",
    "deployment",
    "service",
    "cluster",
    "query",
    "index",
    "schema",
    "migration",
    "contract",
    "clause",
    "liability",
    "payment",
    "shipment",
    "warehouse",
    "supplier",
    "pricing",
    "discount",
    "subscription",
    "renewal",
    "ticket",
    "escalation",
    "summary",
    "report",
]
NAMES = ["Maria Schmidt", "John Carter", "Aisha Patel", "Lukas Weber", "Chen Wei", "Sofia Rossi"]
CONDITIONS = ["type 2 diabetes", "hypertension", "asthma", "major depressive disorder", "atrial fibrillation"]


@dataclass(frozen=True)
class Habit:
    """How a team uses the gateway: prompt and answer sizes (words), where its calls go before and
    after adopting routes, how often they carry sensitive data, and its share of the traffic."""

    team: str
    weight: float
    prompt_words: tuple[int, int]
    answer_tokens: tuple[int, int]
    direct: str  # the premium model called directly before adoption
    route: str  # the route used after adoption
    adoption: float  # share of calls on the route by the end of the month (linear from 0)
    sensitive: float  # share of calls carrying personal or health data
    sensitive_kind: str = "pii"
    cached_share: float = 0.0  # share of the prompt a provider serves from its cache (shared system prompt)


HABITS = [
    Habit("support", 0.34, (150, 500), (40, 160), "gpt-4o", "support-chat", 0.95, 0.18, "pii", 0.5),
    Habit("engineering", 0.24, (400, 1200), (80, 300), "gpt-4o", "code", 0.85, 0.0, cached_share=0.3),
    Habit("research", 0.16, (600, 1500), (150, 400), "claude-sonnet", "premium", 1.0, 0.0),
    Habit("clinical", 0.14, (300, 800), (60, 200), "gpt-4o", "clinical", 0.9, 0.6, "health"),
    Habit("marketing", 0.12, (150, 400), (100, 300), "gpt-4o", "support-chat", 0.6, 0.0),
]
# Upstream latency per model: lognormal around a median (seconds), like a real deployment's spread.
LATENCY = {"gpt-4o": 0.11, "claude-sonnet": 0.14, "deepseek-v3.2": 0.08, "llama-3.3-70b": 0.05, "qwen-coder-32b": 0.04}


def gateway_config(premium: str, open_api: str, onprem: str) -> GatewayConfig:
    def model(name: str, **kw: Any) -> dict[str, Any]:
        return {
            "name": name,
            "retry": {"max_retries": 1, "backoff_initial": 0.01, "backoff_max": 0.02},
            "timeouts": {"connect": 2, "first_token": 10, "total": 30},
            "breaker": {"failure_threshold": 50, "cooldown_seconds": 1},
            **kw,
        }

    return GatewayConfig.model_validate(
        {
            "models": [
                model(
                    "gpt-4o",
                    provider="openai",
                    base_url=premium + "/v1",
                    locality="us",
                    tier="premium",
                    price={"input": 2.5, "output": 10.0, "cached_input": 1.25},
                ),
                model(
                    "claude-sonnet",
                    provider="anthropic",
                    base_url=premium,
                    upstream_model="claude-sonnet-4-5",
                    locality="us",
                    tier="premium",
                    price={"input": 3.0, "output": 15.0, "cached_input": 0.3},
                ),
                model(
                    "deepseek-v3.2",
                    provider="openai",
                    base_url=open_api + "/v1",
                    locality="us",
                    weights="open-weight",
                    price={"input": 0.28, "output": 0.42, "cached_input": 0.028},
                ),
                model(
                    "llama-3.3-70b",
                    provider="openai",
                    base_url=onprem + "/v1",
                    locality="on_prem",
                    price={"input": 0.12, "output": 0.30},
                ),
                model(
                    "qwen-coder-32b",
                    provider="openai",
                    base_url=onprem + "/v1",
                    locality="on_prem",
                    price={"input": 0.08, "output": 0.20},
                ),
            ],
            "routes": [
                {
                    "name": "support-chat",
                    "models": ["deepseek-v3.2", "llama-3.3-70b", "gpt-4o"],
                    "policy": {"premium": "gpt-4o", "residency": {"pii": ["on_prem"], "health": ["on_prem"]}},
                },
                {
                    "name": "code",
                    "models": ["qwen-coder-32b", "deepseek-v3.2", "gpt-4o"],
                    "policy": {"premium": "gpt-4o"},
                },
                {"name": "premium", "models": ["claude-sonnet", "gpt-4o"], "policy": {"premium": "claude-sonnet"}},
                {
                    "name": "clinical",
                    "models": ["llama-3.3-70b", "gpt-4o"],
                    "policy": {"premium": "gpt-4o", "residency": {"health": ["on_prem"], "pii": ["on_prem"]}},
                },
            ],
        }
    )


class SimClock:
    """The gateway's clock: the simulated time of the request being sent."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Planned:
    ts: float
    habit: Habit
    model: str  # what the client asks for: a route or a model
    first: str  # the model the gateway tries first (for scripting the upstream)
    prompt: str
    max_tokens: int
    sensitive: bool
    fault: str  # "ok", "retry" (one 503, then fine), "fail" (every attempt of the first model fails)


def _rhythm(ts: float) -> float:
    """Relative traffic at a moment: office hours (UTC 7-19) busiest, weekends at a quarter."""
    t = datetime.fromtimestamp(ts, UTC)
    hour = t.hour + t.minute / 60
    daily = 0.15 + math.exp(-(((hour - 13) / 4.5) ** 2))
    return daily * (0.25 if t.weekday() >= 5 else 1.0)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _sensitive(rng: random.Random, kind: str) -> str:
    name = rng.choice(NAMES)
    if kind == "health":
        return (f"Patient {name}, born 1961-04-{rng.randint(10, 28)}, diagnosed with {rng.choice(CONDITIONS)}; "
                f"prescribed metformin 500 mg twice daily. ")  # fmt: skip
    return (f"Customer {name} (email {name.split()[0].lower()}@example.com, phone +1 415 555 {rng.randint(1000, 9999)}) "
            f"asks about the order. ")  # fmt: skip


def _first_model(cfg: GatewayConfig, target: str, sensitive: bool) -> str:
    route = cfg.route(target)
    if route is None:
        return target
    if sensitive and route.policy.residency:
        for name in route.models:
            m = cfg.model(name)
            if m is not None and m.locality == "on_prem":
                return name
    return route.models[0]


def plan(n: int, start: float, days: int, rng: random.Random, cfg: GatewayConfig) -> list[Planned]:
    """``n`` requests over ``days`` days, following the rhythm, the teams' habits and their adoption."""
    span = days * DAY
    times: list[float] = []
    peak = 1.15
    while len(times) < n:  # rejection sampling against the rhythm
        ts = start + rng.random() * span
        if rng.random() * peak < _rhythm(ts):
            times.append(ts)
    times.sort()
    weights = [h.weight for h in HABITS]
    out = []
    for ts in times:
        h = rng.choices(HABITS, weights)[0]
        progress = (ts - start) / span
        on_route = rng.random() < h.adoption * min(1.0, progress * 1.15)
        target = h.route if on_route else h.direct
        sensitive = rng.random() < h.sensitive
        words = rng.randint(*h.prompt_words)
        prompt = (_sensitive(rng, h.sensitive_kind) if sensitive else "") + _text(rng, words)
        roll = rng.random()
        fault = "fail" if roll < 0.006 else "retry" if roll < 0.04 else "ok"
        first = _first_model(cfg, target, sensitive)
        out.append(Planned(ts, h, target, first, prompt, rng.randint(*h.answer_tokens), sensitive, fault))
    return out


def serve(gw: Gateway) -> AbstractContextManager[str]:
    return serve_in_thread(create_app(gateway=gw))


def script(upstreams: dict[str, MockUpstream], cfg: GatewayConfig, p: Planned, rng: random.Random) -> None:
    """Queue the first model's answer(s) for this request on its upstream: a latency drawn around the
    model's median, cached prompt tokens for teams with a shared system prompt, scripted failures."""
    m = cfg.model(p.first)
    assert m is not None
    up = upstreams[p.first]
    name = m.upstream_name
    delay = LATENCY[p.first] * rng.lognormvariate(0, 0.45)
    cached = int(len(p.prompt.split()) * p.habit.cached_share)
    ok = Fault.ok(delay=delay, cached_tokens=cached)
    if p.fault == "retry":
        up.script([Fault.status(503), ok], model=name)
    elif p.fault == "fail":
        up.script([Fault.status(503), Fault.status(503)], model=name)
    else:
        up.script([ok], model=name)


async def drive(
    url: str, keys: dict[str, str], planned: list[Planned], clock: SimClock, upstreams: dict[str, MockUpstream],
    cfg: GatewayConfig, concurrency: int, rng: random.Random,
) -> Counter[str]:  # fmt: skip
    clients = {
        team: openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
        for team, key in keys.items()
    }
    outcomes: Counter[str] = Counter()
    slots = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(p: Planned) -> None:
        try:
            await clients[p.habit.team].chat.completions.create(
                model=p.model, messages=[{"role": "user", "content": p.prompt}], max_tokens=p.max_tokens
            )
            outcomes["ok"] += 1
        except openai.APIStatusError as exc:
            outcomes[f"http {exc.status_code}"] += 1
        finally:
            slots.release()

    tasks = []
    for i, p in enumerate(planned):
        await slots.acquire()
        clock.now = p.ts
        script(upstreams, cfg, p, rng)
        tasks.append(asyncio.create_task(one(p)))
        if (i + 1) % 1000 == 0:
            rate = (i + 1) / (time.monotonic() - started)
            print(f"  {i + 1:>6,} requests sent ({utc_day(p.ts)}), {rate:,.0f}/s", flush=True)
    await asyncio.gather(*tasks)
    for c in clients.values():
        await c.close()
    return outcomes


def summarize(report: Report) -> dict[str, Any]:
    t, s = report.total, report.shares
    first = next((d for d in report.shares_by_day if d.requests), None)
    last = next((d for d in reversed(report.shares_by_day) if d.requests), None)
    return {
        "days": len(report.days),
        "requests": t.requests,
        "errors": t.errors,
        "sensitive": t.sensitive,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cached_tokens": t.cached_tokens,
        "spend_usd": round(t.cost, 4),
        "premium_only_usd": round(t.counterfactual_cost, 4),
        "savings_usd": round(t.savings, 4),
        "savings_share": None if t.savings_share is None else round(t.savings_share, 4),
        "usd_per_1m_observed": t.usd_per_million_observed,
        "usd_per_1m_standard_mix": t.usd_per_million_standard,
        "proprietary_request_share": s.proprietary_request_share,
        "proprietary_token_share": s.proprietary_token_share,
        "on_prem_request_share": s.on_prem_request_share,
        "proprietary_request_share_first_day": first.proprietary_request_share if first else None,
        "proprietary_request_share_last_day": last.proprietary_request_share if last else None,
        "latency_ms": {m.key: {"p50": m.p50_ms, "p95": m.p95_ms} for m in report.by_model if m.p50_ms is not None},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=15_000, help="requests over the whole period")
    ap.add_argument("--days", type=int, default=30, help="length of the simulated period (ending yesterday)")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=Path("sim"), help="ledger, report (txt/json/csv) and PNGs go here")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    ap.add_argument("--report-only", action="store_true", help="report on the ledger already in --out")
    ap.add_argument(
        "--screenshot", action="store_true", help="also save the dashboard's 30-day page as --out/dashboard.png"
    )
    args = ap.parse_args(argv)
    if args.report_only:
        cfg = gateway_config("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9")  # never called
        if args.screenshot:
            dashboard_screenshot(args.out, cfg)
        return write_report(args.out, cfg, args.no_plots, {})

    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "ledger.db"
    for old in args.out.glob("ledger.db*"):
        old.unlink()
    rng = random.Random(args.seed)
    end = time.time() // DAY * DAY  # midnight today: the month ends yesterday
    start = end - args.days * DAY
    clock = SimClock(start)
    t0 = time.monotonic()
    with (
        MockUpstream(models=["gpt-4o", "claude-sonnet-4-5"], max_words=4000, record=False) as premium,
        MockUpstream(models=["deepseek-v3.2"], max_words=4000, record=False) as open_api,
        MockUpstream(models=["llama-3.3-70b", "qwen-coder-32b"], max_words=4000, record=False) as onprem,
    ):
        cfg = gateway_config(premium.url, open_api.url, onprem.url)
        upstreams = {"gpt-4o": premium, "claude-sonnet": premium, "deepseek-v3.2": open_api,
                     "llama-3.3-70b": onprem, "qwen-coder-32b": onprem}  # fmt: skip
        for name, up in upstreams.items():  # answers when no script is queued (fallbacks): the median latency
            m = cfg.model(name)
            assert m is not None
            up.set_default(Fault.ok(delay=LATENCY[name]), model=m.upstream_name)
        planned = plan(args.requests, start, args.days, rng, cfg)
        settings = Settings(db_path=db, admin_key=None, ledger_flush_interval=0.1, config=None)
        gw = Gateway(settings, cfg, environ={}, clock=clock)
        keys = {h.team: create_key(gw.store, h.team, name="simulation")[1] for h in HABITS}
        print(f"simulating {len(planned):,} requests from {utc_day(start)} to {utc_day(end - 1)} through the "
              f"gateway (ledger {db})", flush=True)  # fmt: skip
        with serve(gw) as url:
            outcomes = asyncio.run(drive(url, keys, planned, clock, upstreams, cfg, args.concurrency, rng))
    elapsed = time.monotonic() - t0
    print(f"done in {elapsed:.0f} s: {dict(outcomes)}")
    if args.screenshot:
        dashboard_screenshot(args.out, cfg)
    return write_report(args.out, cfg, args.no_plots, {"client_outcomes": dict(outcomes), "seconds": round(elapsed, 1)})


def dashboard_screenshot(out: Path, cfg: GatewayConfig) -> None:
    """Serve the ledger in ``out`` and save the dashboard's 30-day page, logged in with a one-off admin
    key, as ``out/dashboard.png`` (headless Debian Chromium; see switchyard.testing.browser)."""
    import secrets
    import tempfile

    from switchyard.testing import browser

    if not browser.available():
        print("no screenshot: apt-get install -y chromium chromium-driver", file=sys.stderr)
        return
    key = "sy-" + secrets.token_urlsafe(24)
    settings = Settings(db_path=out / "ledger.db", admin_key=key, config=None)
    gw = Gateway(settings, cfg, environ={})
    with serve(gw) as url, tempfile.TemporaryDirectory() as profile, browser.chromium(Path(profile)) as drv:
        browser.log_in(drv, url, key)
        drv.get(url + "/?period=30d")
        browser.wait_for(drv, "[data-testid=spend]")
        browser.full_page_screenshot(drv, out / "dashboard.png")
    print(f"dashboard: {out / 'dashboard.png'}")


def write_report(out: Path, cfg: GatewayConfig, no_plots: bool, extra: dict[str, Any]) -> int:
    db = out / "ledger.db"
    store = SQLiteStore(db)
    report = build_report(store, models_from_config(cfg), ReportFilters())
    store.close()
    with sqlite3.connect(db) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    from rich.console import Console

    with (out / "report.txt").open("w") as fh:
        print_table(report, Console(file=fh, width=200))
    (out / "report.json").write_text(json.dumps(report.as_dict(), indent=2))
    (out / "report.csv").write_text(to_csv(report))
    pngs = [] if no_plots else [str(p) for p in write_plots(report, out)]
    summary = summarize(report)
    summary.update({"ledger_rows": rows, **extra, "pngs": pngs})
    t = report.total
    print(f"ledger: {rows:,} requests; spend ${t.cost:,.2f} vs ${t.counterfactual_cost:,.2f} premium-only "
          f"(saved ${t.savings:,.2f}, {summary['savings_share']:.1%}); proprietary share of requests "
          f"{summary['proprietary_request_share']:.1%} (first day {summary['proprietary_request_share_first_day']:.1%}, "
          f"last day {summary['proprietary_request_share_last_day']:.1%})")  # fmt: skip
    print(f"report: {out / 'report.txt'}, .json, .csv" + (f"; charts: {', '.join(pngs)}" if pngs else ""))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
