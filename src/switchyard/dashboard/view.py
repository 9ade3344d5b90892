"""What the dashboard page shows, shaped from the ledger data, the config and the budget counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..budgets import BudgetUse
from ..config import GatewayConfig
from .charts import PREMIUM, SPEND, share_bar, spend_chart, usd
from .data import DashboardData, ModelUse, model_source

PROPRIETARY = "#c2410c"
LIMIT_NAMES = {
    "requests_per_minute": "requests / minute",
    "tokens_per_minute": "tokens / minute",
    "usd_per_day": "USD / day (UTC)",
    "usd_per_month": "USD / month (UTC)",
}


@dataclass(frozen=True)
class BudgetRow:
    scope_kind: str
    scope_name: str
    scope: str
    limit_name: str
    label: str
    used: str
    limit: str
    ratio: float

    @property
    def level(self) -> str:
        return "over" if self.ratio >= 1 else "warn" if self.ratio >= 0.8 else "ok"


def budget_rows(uses: list[BudgetUse]) -> list[BudgetRow]:
    rows = []
    for u in uses:
        kind, _, name = u.scope.partition(":")
        money = u.limit_name.startswith("usd")
        used = usd(u.used) if money else f"{u.used:,.0f}"
        limit = f"${u.limit:,.2f}" if money else f"{u.limit:,.0f}"
        ratio = u.used / u.limit if u.limit > 0 else 0.0
        rows.append(BudgetRow(kind, name, u.scope, u.limit_name, LIMIT_NAMES[u.limit_name], used, limit, ratio))
    return rows


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def page(data: DashboardData, config: GatewayConfig, budgets: list[BudgetUse]) -> dict[str, Any]:
    """The template's context."""
    sourced: list[tuple[ModelUse, str]] = [(m, model_source(config.model(m.model))) for m in data.models]
    served = sum(m.requests for m in data.models)
    prop_requests = sum(m.requests for m, s in sourced if s == "proprietary")
    prop_cost = sum(m.cost for m, s in sourced if s == "proprietary")
    open_cost = sum(m.cost for m, s in sourced if s == "open_weight")
    share = prop_requests / served if served else 0.0
    top_team = max((t.cost for t in data.teams), default=0.0)
    top_decision = max((d.requests for d in data.decisions), default=0)
    return {
        "data": data,
        "served": served,
        "proprietary_requests": prop_requests,
        "open_requests": served - prop_requests,
        "proprietary_share": share,
        "proprietary_cost": prop_cost,
        "open_cost": open_cost,
        "models": sourced,
        "teams": [(t, t.cost / top_team if top_team else 0.0) for t in data.teams],
        "decisions": [(d, d.requests / top_decision if top_decision else 0.0) for d in data.decisions],
        "budgets": budget_rows(budgets),
        "spend_chart": spend_chart(data.days),
        "share_chart": share_bar(
            [("proprietary", prop_requests, PROPRIETARY), ("open-weight", served - prop_requests, SPEND)]
        ),
        "colors": {"spend": SPEND, "premium": PREMIUM, "proprietary": PROPRIETARY},
        "period_start": utc(data.since)[:-3],
        "period_end": utc(data.until)[:-3],
    }
