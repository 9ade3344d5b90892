"""The dashboard's numbers, read from the ledger: one function, ``load(store, since, until)``.

A narrow seam on purpose: the report module (spend and savings aggregation) can take its place later
without the pages changing. Reads go through a separate read-only SQLite connection (WAL lets them run
beside the ledger writer); call ``load`` from a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..config import ModelConfig
from ..observability.reasons import reason_codes
from ..store.sqlite import utc_day

Source = Literal["proprietary", "open_weight"]


class HasPath(Protocol):
    @property
    def path(self) -> str: ...


@dataclass(frozen=True)
class TeamSpend:
    team: str
    requests: int
    errors: int
    cost: float
    counterfactual: float

    @property
    def savings(self) -> float:
        return self.counterfactual - self.cost


@dataclass(frozen=True)
class ModelUse:
    model: str
    provider: str
    locality: str
    requests: int
    cost: float
    tokens: int


@dataclass(frozen=True)
class DaySpend:
    day: str  # YYYY-MM-DD (UTC)
    requests: int
    cost: float
    counterfactual: float


@dataclass(frozen=True)
class Decision:
    route: str  # "-" for models called by name
    model: str  # the model that served (or was tried last)
    reason: str  # a reason code (observability.reasons)
    requests: int


@dataclass(frozen=True)
class ErrorRow:
    ts: float
    status: int
    error_class: str
    requested: str
    model: str | None
    route: str | None
    team: str | None


@dataclass(frozen=True)
class DashboardData:
    since: float
    until: float
    requests: int = 0
    errors: int = 0
    cost: float = 0.0
    counterfactual: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    teams: list[TeamSpend] = field(default_factory=list)  # by spend, highest first
    models: list[ModelUse] = field(default_factory=list)  # models that served, by requests
    days: list[DaySpend] = field(default_factory=list)  # every UTC day of the period, oldest first
    decisions: list[Decision] = field(default_factory=list)  # by requests, highest first
    recent_errors: list[ErrorRow] = field(default_factory=list)  # newest first

    @property
    def savings(self) -> float:
        return self.counterfactual - self.cost

    @property
    def savings_share(self) -> float:
        return self.savings / self.counterfactual if self.counterfactual > 0 else 0.0


@contextmanager
def _read_only(path: str) -> Iterator[sqlite3.Connection]:
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        yield conn


def load(store: HasPath, since: float, until: float, *, error_limit: int = 15) -> DashboardData:
    """Everything the dashboard shows for requests with ``since <= ts < until``."""
    window = "FROM requests WHERE ts >= ? AND ts < ?"
    args = (since, until)
    with _read_only(store.path) as db:

        def q(sql: str, extra: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
            return db.execute(sql, args + extra).fetchall()

        total = q(
            "SELECT COUNT(*), COALESCE(SUM(status >= 400), 0), COALESCE(SUM(cost), 0), "
            f"COALESCE(SUM(counterfactual_cost), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) {window}"
        )[0]
        teams = [
            TeamSpend(*row)
            for row in q(
                f"SELECT COALESCE(team, '-'), COUNT(*), SUM(status >= 400), SUM(cost), SUM(counterfactual_cost) {window} "
                "GROUP BY 1 ORDER BY 4 DESC, 2 DESC, 1"
            )
        ]
        models = [
            ModelUse(*row)
            for row in q(
                "SELECT served_model, COALESCE(provider, '-'), COALESCE(locality, '-'), COUNT(*), SUM(cost), "
                f"SUM(input_tokens + output_tokens) {window} AND served_model IS NOT NULL AND status < 400 "
                "GROUP BY 1 ORDER BY 4 DESC, 1"
            )
        ]
        by_day = {
            day: DaySpend(day, n, cost, cf)
            for day, n, cost, cf in q(f"SELECT day, COUNT(*), SUM(cost), SUM(counterfactual_cost) {window} GROUP BY 1")
        }
        trails = q(
            f"SELECT route, COALESCE(served_model, '-'), reasons, fallback_chain, COUNT(*) {window} GROUP BY 1, 2, 3, 4"
        )
        errors = [
            ErrorRow(*row)
            for row in q(
                f"SELECT ts, status, COALESCE(error_class, '-'), requested, served_model, route, team {window} "
                "AND status >= 400 ORDER BY ts DESC LIMIT ?",
                (error_limit,),
            )
        ]
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for route, model, reasons, chain, n in trails:
        trail = [r for r in reasons.split("\n") if r]
        for code in reason_codes(trail, route=route, fallback_chain=[m for m in chain.split(",") if m]):
            counts[(route or "-", model, code)] += n
    decisions = sorted((Decision(*k, n) for k, n in counts.items()), key=lambda d: (-d.requests, d.route, d.model))
    requests, n_errors, cost, counterfactual, input_tokens, output_tokens = total
    return DashboardData(
        since,
        until,
        requests,
        n_errors,
        cost,
        counterfactual,
        input_tokens,
        output_tokens,
        teams=teams,
        models=models,
        days=[by_day.get(day) or DaySpend(day, 0, 0.0, 0.0) for day in _days(since, until)],
        decisions=decisions,
        recent_errors=errors,
    )


def _days(since: float, until: float) -> list[str]:
    days, t = [], since
    while t < until:
        days.append(utc_day(t))
        t += 86400
    last = utc_day(until - 1e-6)
    if not days or days[-1] != last:
        days.append(last)
    return days


def model_source(model: ModelConfig | None) -> Source:
    """Whether a model's answers are bought from an external API or come from weights run in-house: the
    model config's ``weights`` (see ``config.default_weights``); a model no longer configured counts as
    proprietary."""
    return "proprietary" if model is None or model.is_proprietary else "open_weight"
