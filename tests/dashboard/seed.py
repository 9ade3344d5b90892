"""A seeded ledger for dashboard tests: teams, routes and models over the last five weeks, with errors,
fallbacks and policy reasons. Each row carries the decision code and model source the test expects, so
expected figures are computed from the seed itself, not by the code under test."""

from __future__ import annotations

import random
from dataclasses import dataclass

from switchyard.config import BudgetConfig, GatewayConfig, ModelConfig, Price, RouteConfig, TeamConfig
from switchyard.store.base import AttemptRecord, LedgerRecord

XSS_TEAM = "ops<script>alert(1)</script>"
PROPRIETARY = {"gpt-4o", "claude-sonnet"}
PRICES = {  # USD per 1M tokens (input, output)
    "gpt-4o": (2.5, 10.0),
    "claude-sonnet": (3.0, 15.0),
    "llama-70b": (0.6, 0.6),
    "qwen-7b": (0.1, 0.2),
}
ROUTES = {"auto": ["qwen-7b", "llama-70b", "gpt-4o"], "support": ["llama-70b", "claude-sonnet"]}
PREMIUM = {"auto": "gpt-4o", "support": "claude-sonnet"}


def seed_config(fourth_team: str = XSS_TEAM) -> GatewayConfig:
    def model(name: str, provider: str, url: str, locality: str, tags: tuple[str, ...] = ()) -> ModelConfig:
        inp, out = PRICES[name]
        return ModelConfig(
            name=name,
            provider=provider,
            base_url=url,
            locality=locality,
            price=Price(input=inp, output=out),
            tags=list(tags),
        )

    return GatewayConfig(
        models=[
            model("gpt-4o", "openai", "https://api.openai.com/v1", "us"),
            model("claude-sonnet", "anthropic", "https://api.anthropic.com", "us"),
            model("llama-70b", "openai", "http://10.0.0.5:8000/v1", "on_prem"),  # self-hosted vLLM
            model("qwen-7b", "openai", "http://127.0.0.1:9/v1", "eu", ("open-weight",)),  # a server on this host
        ],
        routes=[RouteConfig(name=n, models=m) for n, m in ROUTES.items()],
        access={"teams": [TeamConfig(name=t) for t in ("research", "support", "legal", fourth_team)]},  # type: ignore[arg-type]
        budgets=[
            BudgetConfig(team="research", usd_per_day=5.0),
            BudgetConfig(team="support", usd_per_month=50.0, requests_per_minute=600),
        ],
    )


@dataclass
class SeedRow:
    record: LedgerRecord
    code: str  # the decision code the dashboard should count the row under
    served: bool


def _cost(model: str, tin: int, tout: int) -> float:
    inp, out = PRICES[model]
    return (tin * inp + tout * out) / 1e6


def seed_rows(now: float, n: int = 90, *, fourth_team: str = XSS_TEAM) -> list[SeedRow]:
    """``fourth_team`` is a hostile name by default (the pages must show it as text)."""
    rng = random.Random(20261126)
    rows: list[SeedRow] = []
    scenarios = [
        # (route or None, served model, reasons, chain, code, status, error)
        ("auto", "qwen-7b", [], ["qwen-7b"], "fallback_order", 200, None),
        ("auto", "qwen-7b", [], ["qwen-7b"], "fallback_order", 200, None),
        ("auto", "llama-70b", [], ["qwen-7b", "llama-70b"], "fallback", 200, None),
        ("auto", "llama-70b", ["residency: pii -> on_prem"], ["llama-70b"], "residency_restricted", 200, None),
        ("support", "llama-70b", [], ["llama-70b"], "fallback_order", 200, None),
        ("support", "claude-sonnet", ["budget: downgraded past x"], ["claude-sonnet"], "budget_downgrade", 200, None),
        (None, "gpt-4o", [], ["gpt-4o"], "direct", 200, None),
        (None, "claude-sonnet", [], ["claude-sonnet"], "direct", 200, None),
        ("auto", "gpt-4o", [], ["gpt-4o"], "fallback_order", 502, "UpstreamStatusError"),
        ("support", "llama-70b", [], ["llama-70b"], "fallback_order", 504, "UpstreamTimeout"),
    ]
    teams = ["research", "support", "legal", fourth_team]
    for i in range(n):
        route, model, reasons, chain, code, status, error = scenarios[i % len(scenarios)]
        team = teams[rng.randrange(len(teams))]
        age = rng.uniform(120, 34 * 86400)  # some rows fall outside a 30-day window
        tin, tout = rng.randint(200, 6000), rng.randint(50, 1500)
        ok = status < 400
        cost = _cost(model, tin, tout) if ok else 0.0
        premium = PREMIUM[route] if route else model
        rec = LedgerRecord(
            id=f"seed{i:04d}", ts=now - age, key_id=f"key_{team[:4]}", team=team, endpoint="chat",
            requested=route or model, route=route, served_model=model, provider="openai", locality="us",
            input_tokens=tin if ok else 0, output_tokens=tout if ok else 0, cost=cost,
            latency_ms=rng.uniform(80, 2500), status=status, error_class=error, fallback_chain=list(chain),
            counterfactual_cost=_cost(premium, tin, tout) if ok else 0.0, reasons=list(reasons),
        )  # fmt: skip
        rec.attempts = [
            AttemptRecord(seq=j, ts=rec.ts, model=m, provider="openai", locality="us", latency_ms=50.0, ttft_ms=None,
                          status="ok" if (m == model and ok) else "error")
            for j, m in enumerate(chain)
        ]  # fmt: skip
        rows.append(SeedRow(rec, code, ok))
    # Spend today for the budget meters (two minutes ago, so it is today unless the day just began).
    for j, team in enumerate(("research", "research", "support")):
        rec = LedgerRecord(
            id=f"today{j}", ts=now - 60 - j, key_id="key_x", team=team, endpoint="chat", requested="gpt-4o",
            route=None, served_model="gpt-4o", provider="openai", locality="us", input_tokens=20_000,
            output_tokens=4_000, cost=_cost("gpt-4o", 20_000, 4_000), counterfactual_cost=_cost("gpt-4o", 20_000, 4_000),
            latency_ms=900.0, status=200, fallback_chain=["gpt-4o"],
        )  # fmt: skip
        rows.append(SeedRow(rec, "direct", True))
    return rows
