"""Prometheus metrics for one gateway, in its own registry (two gateways in one process share nothing).

Every request is observed once, from its ledger record, when its outcome is final — so the counters
agree with the ledger. Label values are bounded: teams, routes and models named in the config, then at
most ``cap`` more seen at run time (teams of keys created later), then ``other``; statuses, error types
and reason codes come from fixed sets. The per-request work is a dict look-up and a few counter and
histogram operations on cached children; budget gauges are read from the budget counters at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..budgets import BudgetUse
from ..config import GatewayConfig
from ..errors import SwitchyardError
from ..store.base import LedgerRecord
from .reasons import reason_codes

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NONE = "-"  # a direct model call has no route; a request refused before any attempt has no model
OTHER = "other"
STATUSES = frozenset({200, 400, 401, 403, 404, 408, 409, 413, 422, 429, 499, 500, 502, 503, 504})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class LabelBounds:
    """The values one label may take: the ``known`` ones, the first ``cap`` others seen, then ``other``."""

    def __init__(self, known: Iterable[str], cap: int = 20) -> None:
        self._allowed = set(known)
        self._room = cap

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if value in self._allowed:
            return value
        if self._room > 0:
            self._room -= 1
            self._allowed.add(value)
            return value
        return OTHER


def _error_types() -> frozenset[str]:
    seen: set[str] = set()
    todo: list[type[SwitchyardError]] = [SwitchyardError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return frozenset(seen)


@dataclass(slots=True)
class _Series:
    """The children of one (team, route, model, status) combination, looked up once."""

    requests: Counter
    input_tokens: Counter
    output_tokens: Counter
    cached_tokens: Counter
    cost: Counter
    counterfactual: Counter
    duration: Histogram
    ttft: Histogram


class _GaugeCollector(Collector):
    """Values read at scrape time: budget limits and use, the ledger writer's backlog."""

    def __init__(self, budgets: Callable[[], list[BudgetUse]], backlog: Callable[[], int]) -> None:
        self._budgets = budgets
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        limit = GaugeMetricFamily(
            "switchyard_budget_limit", "Configured budget limit (requests, tokens or USD)", labels=["scope", "limit"]
        )
        used = GaugeMetricFamily(
            "switchyard_budget_used",
            "Use in the limit's current window, reservations in flight included",
            labels=["scope", "limit"],
        )
        for u in self._budgets():
            limit.add_metric([u.scope, u.limit_name], u.limit)
            used.add_metric([u.scope, u.limit_name], u.used)
        yield limit
        yield used
        yield GaugeMetricFamily(
            "switchyard_ledger_backlog", "Ledger records queued, not yet written", value=self._backlog()
        )


class GatewayMetrics:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        budgets: Callable[[], list[BudgetUse]] = list,
        backlog: Callable[[], int] = lambda: 0,
        cap: int = 20,
    ) -> None:
        self.registry = CollectorRegistry()
        self.teams = LabelBounds([t.name for t in config.access.teams] + ["admin"], cap)
        self.routes = LabelBounds([r.name for r in config.routes], cap)
        self.models = LabelBounds([m.name for m in config.models], cap)
        self._error_types = _error_types()
        r = self.registry
        series = ["team", "route", "model"]
        self.requests = Counter("switchyard_requests", "Requests by outcome", [*series, "status"], registry=r)
        self.tokens = Counter("switchyard_tokens", "Tokens (input, output, cached)", [*series, "type"], registry=r)
        self.cost = Counter("switchyard_cost_usd", "Spend in USD", series, registry=r)
        self.counterfactual = Counter(
            "switchyard_counterfactual_cost_usd",
            "What the route's premium model would have cost for the same tokens (savings = this - cost)",
            series,
            registry=r,
        )
        self.duration = Histogram(
            "switchyard_request_duration_seconds",
            "Request latency seen by the gateway",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "switchyard_time_to_first_token_seconds",
            "Time to the first streamed token",
            ["route", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "switchyard_route_decisions", "Routing decisions by reason code", ["route", "model", "reason"], registry=r
        )
        self.errors = Counter(
            "switchyard_request_errors", "Failed requests by error type", ["route", "model", "error_type"], registry=r
        )
        self.http_errors = Counter(
            "switchyard_http_errors",
            "Error responses, including requests refused before routing (auth, access, budget)",
            ["status", "error_type"],
            registry=r,
        )
        r.register(_GaugeCollector(budgets, backlog))
        self._series: dict[tuple[str, str, str, str], _Series] = {}

    def _children(self, team: str, route: str, model: str, status: str) -> _Series:
        key = (team, route, model, status)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = _Series(
                self.requests.labels(team, route, model, status),
                self.tokens.labels(team, route, model, "input"),
                self.tokens.labels(team, route, model, "output"),
                self.tokens.labels(team, route, model, "cached"),
                self.cost.labels(team, route, model),
                self.counterfactual.labels(team, route, model),
                self.duration.labels(route, model),
                self.ttft.labels(route, model),
            )
        return found

    def status_label(self, status: int) -> str:
        return str(status) if status in STATUSES else OTHER

    def error_label(self, error_class: str) -> str:
        return error_class if error_class in self._error_types else OTHER

    def observe(self, rec: LedgerRecord) -> None:
        """Count one finished request (called once per ledger record)."""
        route, model = self.routes(rec.route), self.models(rec.served_model)
        s = self._children(self.teams(rec.team), route, model, self.status_label(rec.status))
        s.requests.inc()
        if rec.input_tokens:
            s.input_tokens.inc(rec.input_tokens)
        if rec.output_tokens:
            s.output_tokens.inc(rec.output_tokens)
        if rec.cached_tokens:
            s.cached_tokens.inc(rec.cached_tokens)
        if rec.cost:
            s.cost.inc(rec.cost)
        if rec.counterfactual_cost:
            s.counterfactual.inc(rec.counterfactual_cost)
        s.duration.observe(rec.latency_ms / 1000)
        if rec.stream and rec.ttft_ms is not None:
            s.ttft.observe(rec.ttft_ms / 1000)
        for code in reason_codes(rec.reasons, route=rec.route, fallback_chain=rec.fallback_chain):
            self.decisions.labels(route, model, code).inc()
        if rec.error_class:
            self.errors.labels(route, model, self.error_label(rec.error_class)).inc()

    def observe_error_response(self, status: int, error_class: str) -> None:
        self.http_errors.labels(self.status_label(status), self.error_label(error_class)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
