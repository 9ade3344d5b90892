"""The dashboard's numbers for a time window: one function, ``load(store, since, until, team=)``.

Everything is read through the store's window reads (``store.base.LedgerWindows``): whole UTC days from
the daily rollups, the part-days at the window's edges from the ledger's ``ts`` index, recent errors from
a partial index. The work is bounded by days and groups, not by the ledger's size. ``team`` narrows every
read to one team in the store's queries (a team's login sees nothing of the others). Call ``load`` from a
worker thread (store methods are synchronous).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config import ModelConfig
from ..store.base import LedgerRecord, LedgerWindows
from ..store.windows import utc_day

Source = Literal["proprietary", "open_weight"]


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
    """A model that answered: its answered requests, and the tokens and spend of every request it served
    (a stream its client cut off is paid for too)."""

    model: str
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
    recent_errors: list[LedgerRecord] = field(default_factory=list)  # newest first

    @property
    def savings(self) -> float:
        return self.counterfactual - self.cost

    @property
    def savings_share(self) -> float:
        return self.savings / self.counterfactual if self.counterfactual > 0 else 0.0


def load(
    store: LedgerWindows, since: float, until: float, *, team: str | None = None, error_limit: int = 15
) -> DashboardData:
    """Everything the dashboard shows for requests with ``since <= ts < until``, of ``team`` only when
    given (None: every team)."""
    rollups = store.usage_window(since, until, ("day", "team", "model", "locality"), team=team)
    teams: dict[str, list[float]] = {}
    days: dict[str, list[float]] = {}
    models: dict[str, list[float]] = {}
    for d in rollups:
        _add(teams, d.team or "-", d.requests, d.errors, d.cost, d.counterfactual_cost)
        _add(days, d.day, d.requests, d.cost, d.counterfactual_cost)
        if d.locality:  # the request reached a model
            _add(models, d.model, d.requests - d.errors, d.cost, d.input_tokens + d.output_tokens)
    decisions = [
        Decision(c.route or "-", c.model or "-", c.reason, c.requests)
        for c in store.decisions_window(since, until, team=team)
    ]
    return DashboardData(
        since,
        until,
        requests=sum(d.requests for d in rollups),
        errors=sum(d.errors for d in rollups),
        cost=sum(d.cost for d in rollups),
        counterfactual=sum(d.counterfactual_cost for d in rollups),
        input_tokens=sum(d.input_tokens for d in rollups),
        output_tokens=sum(d.output_tokens for d in rollups),
        teams=sorted(
            (TeamSpend(t, int(n), int(e), c, cf) for t, (n, e, c, cf) in teams.items()),
            key=lambda t: (-t.cost, -t.requests, t.team),
        ),
        models=sorted(
            (ModelUse(m, int(n), c, int(tok)) for m, (n, c, tok) in models.items() if n > 0),
            key=lambda m: (-m.requests, m.model),
        ),
        days=[_day(day, days.get(day)) for day in _days(since, until)],
        decisions=sorted(decisions, key=lambda d: (-d.requests, d.route, d.model, d.reason)),
        recent_errors=store.recent_errors(since, until, error_limit, team=team),
    )


def _add(into: dict[str, list[float]], key: str, *values: float) -> None:
    sums = into.get(key)
    if sums is None:
        into[key] = list(values)
    else:
        for i, v in enumerate(values):
            sums[i] += v


def _day(day: str, sums: list[float] | None) -> DaySpend:
    if sums is None:
        return DaySpend(day, 0, 0.0, 0.0)
    n, cost, counterfactual = sums
    return DaySpend(day, int(n), cost, counterfactual)


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
