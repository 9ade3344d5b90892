"""Prometheus metrics for one gateway, in its own registry (two gateways in one process share nothing).

Every request is observed once, from its ledger record, when its outcome is final — so the counters
agree with the ledger. Label values are bounded: teams, routes and models named in the config, then at
most ``cap`` more seen at run time (teams of keys created later), then ``other``; statuses, error types
and reason codes come from fixed sets. The per-request work is a dict look-up and a few counter and
histogram operations on cached children; budget gauges are read from the budget counters at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ..budgets import BudgetUse
from ..config import GatewayConfig
from ..errors import SwitchyardError
from ..reasons import reason_codes
from ..store.base import LedgerRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NONE = "-"  # a direct model call has no route; a request refused before any attempt has no model
OTHER = "other"
GUARD_OUTCOMES = frozenset({"valid", "confirmed", "repaired", "escalated", "failed"})
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


class _Series:
    """Running totals of one (team, route, model, status) combination."""

    __slots__ = ("cached", "cost", "counterfactual", "input", "output", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.input = 0
        self.output = 0
        self.cached = 0
        self.cost = 0.0
        self.counterfactual = 0.0


class _Histogram:
    """Bucket counts (``le`` semantics, the last one +Inf), their sum and count."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, n in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, float(running)))
        return out


class GaugeCollector(Collector):
    """Values read at scrape time: budget limits and use, the ledger writer's backlog."""

    def __init__(self, budgets: Callable[[], list[BudgetUse]], backlog: Callable[[], int]) -> None:
        self._budgets = budgets
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        yield from self.budget_families()
        yield self.backlog_family(self.backlog())

    def backlog(self) -> int:
        return self._backlog()

    @staticmethod
    def backlog_family(value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily("switchyard_ledger_backlog", "Ledger records queued, not yet written", value=value)

    def budget_families(self) -> Iterator[Metric]:
        """Budget limits and their use, read from the budget counters (shared ones with Redis)."""
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


class GatewayMetrics(Collector):
    def __init__(
        self,
        config: GatewayConfig,
        *,
        budgets: Callable[[], list[BudgetUse]] = list,
        backlog: Callable[[], int] = lambda: 0,
        cap: int = 20,
    ) -> None:
        self.teams = LabelBounds([t.name for t in config.access.teams] + ["admin"], cap)
        self.routes = LabelBounds([r.name for r in config.routes], cap)
        self.models = LabelBounds([m.name for m in config.models], cap)
        self._error_types = _error_types()
        self._series: dict[tuple[str, str, str, str], _Series] = {}
        self._duration: dict[tuple[str, str], _Histogram] = {}
        self._ttft: dict[tuple[str, str], _Histogram] = {}
        self._decisions: dict[tuple[str, str, str], int] = {}
        self._errors: dict[tuple[str, str, str], int] = {}
        self._http_errors: dict[tuple[str, str], int] = {}
        self._checks: dict[tuple[str, str, str], int] = {}  # the guard's verdicts per attempt (raw)
        self._delivered: dict[tuple[str, str], int] = {}  # what the guard delivered per request
        self._guard_cost: dict[tuple[str, str], float] = {}  # refused answers, paid for
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self.gauges = GaugeCollector(budgets, backlog)
        self.registry.register(self.gauges)

    def status_label(self, status: int) -> str:
        return str(status) if status in STATUSES else OTHER

    def error_label(self, error_class: str) -> str:
        return error_class if error_class in self._error_types else OTHER

    def observe(self, rec: LedgerRecord) -> None:
        """Count one finished request (called once per ledger record)."""
        route, model = self.routes(rec.route), self.models(rec.served_model)
        key = (self.teams(rec.team), route, model, self.status_label(rec.status))
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = _Series()
        s.requests += 1
        s.input += rec.input_tokens
        s.output += rec.output_tokens
        s.cached += rec.cached_tokens
        s.cost += rec.cost
        s.counterfactual += rec.counterfactual_cost
        pair = (route, model)
        hist = self._duration.get(pair) or self._duration.setdefault(pair, _Histogram(LATENCY_BUCKETS))
        hist.observe(rec.latency_ms / 1000)
        if rec.stream and rec.ttft_ms is not None:
            hist = self._ttft.get(pair) or self._ttft.setdefault(pair, _Histogram(TTFT_BUCKETS))
            hist.observe(rec.ttft_ms / 1000)
        decisions = self._decisions
        for code in reason_codes(rec.reasons, route=rec.route, fallback_chain=rec.fallback_chain):
            k = (route, model, code)
            decisions[k] = decisions.get(k, 0) + 1
        if rec.error_class:
            k = (route, model, self.error_label(rec.error_class))
            self._errors[k] = self._errors.get(k, 0) + 1
        if rec.guard is not None:
            self._observe_guard(rec, route)

    def _observe_guard(self, rec: LedgerRecord, route: str) -> None:
        k2 = (route, rec.guard if rec.guard in GUARD_OUTCOMES else OTHER)
        self._delivered[k2] = self._delivered.get(k2, 0) + 1
        for a in rec.attempts:
            if a.check is None:
                continue
            model = self.models(a.model)
            valid = a.check == "valid"
            k3 = (route, model, "valid" if valid else "invalid")
            self._checks[k3] = self._checks.get(k3, 0) + 1
            if not valid:
                self._guard_cost[(route, model)] = self._guard_cost.get((route, model), 0.0) + a.cost

    def observe_error_response(self, status: int, error_class: str) -> None:
        k = (self.status_label(status), self.error_label(error_class))
        self._http_errors[k] = self._http_errors.get(k, 0) + 1

    def collect(self) -> Iterator[Metric]:
        series = ["team", "route", "model"]
        requests = CounterMetricFamily("switchyard_requests", "Requests by outcome", labels=[*series, "status"])
        tokens = CounterMetricFamily("switchyard_tokens", "Tokens (input, output, cached)", labels=[*series, "type"])
        cost = CounterMetricFamily("switchyard_cost_usd", "Spend in USD", labels=series)
        counterfactual = CounterMetricFamily(
            "switchyard_counterfactual_cost_usd",
            "What the route's premium model would have cost for the same tokens (savings = this - cost)",
            labels=series,
        )
        money: dict[tuple[str, str, str], list[float]] = {}
        token_sums: dict[tuple[str, str, str], list[int]] = {}
        for (team, route, model, status), s in list(self._series.items()):
            requests.add_metric([team, route, model, status], s.requests)
            m = money.setdefault((team, route, model), [0.0, 0.0])
            m[0] += s.cost
            m[1] += s.counterfactual
            t = token_sums.setdefault((team, route, model), [0, 0, 0])
            t[0] += s.input
            t[1] += s.output
            t[2] += s.cached
        for labels, (spent, premium) in money.items():
            cost.add_metric(list(labels), spent)
            counterfactual.add_metric(list(labels), premium)
        for labels, sums in token_sums.items():
            for kind, n in zip(("input", "output", "cached"), sums, strict=True):
                tokens.add_metric([*labels, kind], n)
        yield from (requests, tokens, cost, counterfactual)
        for name, doc, hists in (
            ("switchyard_request_duration_seconds", "Request latency seen by the gateway", self._duration),
            ("switchyard_time_to_first_token_seconds", "Time to the first streamed token", self._ttft),
        ):
            histogram = HistogramMetricFamily(name, doc, labels=["route", "model"])
            for pair, h in list(hists.items()):
                histogram.add_metric(list(pair), h.cumulative(), h.total)
            yield histogram
        counters: tuple[tuple[str, str, list[str], Mapping[Any, float]], ...] = (
            (
                "switchyard_route_decisions",
                "Routing decisions by reason code",
                ["route", "model", "reason"],
                self._decisions,
            ),
            (
                "switchyard_request_errors",
                "Failed requests by error type",
                ["route", "model", "error_type"],
                self._errors,
            ),
            (
                "switchyard_guard_checks",
                "The output guard's verdicts on answers with tool calls or JSON, per attempt (raw failures: invalid)",
                ["route", "model", "result"],
                self._checks,
            ),
            (
                "switchyard_guard_delivered",
                "What the output guard delivered per request: valid, repaired, escalated, failed (a clear error)",
                ["route", "outcome"],
                self._delivered,
            ),
            (
                "switchyard_guard_cost_usd",
                "Spend on answers the output guard refused (the guard's cost)",
                ["route", "model"],
                self._guard_cost,
            ),
            (
                "switchyard_http_errors",
                "Error responses, including requests refused before routing (auth, access, budget)",
                ["status", "error_type"],
                self._http_errors,
            ),
        )
        for name, doc, label_names, counts in counters:
            family = CounterMetricFamily(name, doc, labels=label_names)
            for values, count in list(counts.items()):
                family.add_metric(list(values), count)
            yield family

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
