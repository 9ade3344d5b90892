"""The spend report, aggregated from the ledger's daily rollups (never from the ledger's rows).

``build_report(store, models, filters)`` returns a :class:`Report` of plain dataclasses that the CLI
prints as a table, JSON or CSV, that ``plots.py`` draws, and that a dashboard can serve as is:

- spend, requests and tokens (in / out / cached) by team, route, model, provider and day;
- blended USD per 1M tokens, observed (cost / tokens) and at the standard mix (0.8 x input price +
  0.2 x output price of each model, weighted by its tokens);
- savings against the counterfactual the ledger records per request (the same tokens on the route's
  premium model);
- the share of requests and tokens served by proprietary vs open-weight models (from the config's
  ``weights``) and by on-prem vs external localities (from the ledger), overall and per day;
- latency p50 / p95 per model, read from the rollups' latency histograms (within one bucket, ~12%;
  over the report's days, for all teams and routes: the histograms are per model).

Reports cover whole UTC days: the rollups are daily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..config import GatewayConfig
from ..pricing import STANDARD_INPUT_SHARE, ModelPrice, blended_price, resolve_price
from ..store.base import DailyRollup, LatencyCount, LedgerRollups, RollupFilter
from ..store.evals import EvalSpend
from ..store.guard import GuardStats
from ..store.rollups import bucket_bounds

ON_PREM = "on_prem"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the config says about a model: its licence class and its price (None when unknown)."""

    weights: str  # "proprietary", "open-weight" or "unknown" (a model no longer in the config)
    price: ModelPrice | None = None

    @property
    def standard_blend(self) -> float | None:
        return None if self.price is None else blended_price(self.price.input, self.price.output)


def models_from_config(config: GatewayConfig) -> dict[str, ModelInfo]:
    return {m.name: ModelInfo(m.weights or UNKNOWN, resolve_price(m)) for m in config.models}


@dataclass(slots=True)
class SpendLine:
    """Totals for one group (a team, a route, a model, a provider, a day, or everything)."""

    key: str
    requests: int = 0
    errors: int = 0
    sensitive: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    counterfactual_cost: float = 0.0
    standard_cost: float = 0.0  # tokens x each model's standard blend, for the weighted average
    standard_tokens: int = 0  # tokens of models whose price is known

    def add(self, d: DailyRollup, blend: float | None) -> None:
        self.requests += d.requests
        self.errors += d.errors
        self.sensitive += d.sensitive
        self.input_tokens += d.input_tokens
        self.output_tokens += d.output_tokens
        self.cached_tokens += d.cached_tokens
        self.cost += d.cost
        self.counterfactual_cost += d.counterfactual_cost
        if blend is not None:
            tokens = d.input_tokens + d.output_tokens
            self.standard_cost += blend * tokens
            self.standard_tokens += tokens

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def savings(self) -> float:
        return self.counterfactual_cost - self.cost

    @property
    def savings_share(self) -> float | None:
        return self.savings / self.counterfactual_cost if self.counterfactual_cost > 0 else None

    @property
    def usd_per_million_observed(self) -> float | None:
        return self.cost / self.tokens * 1e6 if self.tokens else None

    @property
    def usd_per_million_standard(self) -> float | None:
        """The standard-mix blend (0.8 x input + 0.2 x output price), weighted by each model's tokens."""
        return self.standard_cost / self.standard_tokens if self.standard_tokens else None

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "requests": self.requests,
            "errors": self.errors,
            "sensitive": self.sensitive,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cost": self.cost,
            "counterfactual_cost": self.counterfactual_cost,
            "savings": self.savings,
            "savings_share": self.savings_share,
            "usd_per_1m_observed": self.usd_per_million_observed,
            "usd_per_1m_standard": self.usd_per_million_standard,
        }


@dataclass(slots=True)
class ModelLine(SpendLine):
    weights: str = UNKNOWN
    p50_ms: float | None = None
    p95_ms: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {**SpendLine.as_dict(self), "weights": self.weights, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms}


@dataclass(slots=True)
class Shares:
    """Served requests and tokens by licence class and locality (requests that reached no model are
    left out of the denominators)."""

    key: str
    requests: int = 0
    tokens: int = 0
    proprietary_requests: int = 0
    proprietary_tokens: int = 0
    on_prem_requests: int = 0
    on_prem_tokens: int = 0

    def add(self, d: DailyRollup, weights: str) -> None:
        if not d.locality:
            return
        tokens = d.input_tokens + d.output_tokens
        self.requests += d.requests
        self.tokens += tokens
        if weights == "proprietary":
            self.proprietary_requests += d.requests
            self.proprietary_tokens += tokens
        if d.locality == ON_PREM:
            self.on_prem_requests += d.requests
            self.on_prem_tokens += tokens

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def proprietary_request_share(self) -> float | None:
        return self._share(self.proprietary_requests, self.requests)

    @property
    def proprietary_token_share(self) -> float | None:
        return self._share(self.proprietary_tokens, self.tokens)

    @property
    def on_prem_request_share(self) -> float | None:
        return self._share(self.on_prem_requests, self.requests)

    @property
    def on_prem_token_share(self) -> float | None:
        return self._share(self.on_prem_tokens, self.tokens)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "requests": self.requests,
            "tokens": self.tokens,
            "proprietary_request_share": self.proprietary_request_share,
            "proprietary_token_share": self.proprietary_token_share,
            "open_weight_request_share": None if self.requests == 0 else 1 - self.proprietary_requests / self.requests,
            "on_prem_request_share": self.on_prem_request_share,
            "on_prem_token_share": self.on_prem_token_share,
        }


@dataclass(frozen=True, slots=True)
class ReportFilters:
    since_day: str | None = None  # YYYY-MM-DD, inclusive
    until_day: str | None = None  # inclusive
    team: str | None = None
    route: str | None = None

    def rollup(self) -> RollupFilter:
        return RollupFilter(self.since_day, self.until_day, self.team, self.route)


@dataclass
class Report:
    filters: ReportFilters
    total: SpendLine
    by_team: list[SpendLine]
    by_route: list[SpendLine]
    by_model: list[ModelLine]
    by_provider: list[SpendLine]
    by_day: list[SpendLine]
    day_model_cost: dict[str, dict[str, float]]  # day -> model -> USD (the stacked spend plot)
    shares: Shares
    shares_by_day: list[Shares]
    days: list[str] = field(default_factory=list)
    # calls made for eval runs and shadows, included in the totals above and shown apart (None: not read)
    evals: EvalSpend | None = None
    guard: GuardStats | None = None  # the output guard's verdicts and deliveries (None: not read)

    def as_dict(self) -> dict[str, object]:
        return {
            "guard": None if self.guard is None else self.guard.as_dict(),
            "evals": None
            if self.evals is None
            else {"requests": self.evals.requests, "cost": self.evals.cost, "runs": self.evals.runs},
            "filters": {
                "since_day": self.filters.since_day,
                "until_day": self.filters.until_day,
                "team": self.filters.team,
                "route": self.filters.route,
            },
            "days": self.days,
            "total": self.total.as_dict(),
            "by_team": [x.as_dict() for x in self.by_team],
            "by_route": [x.as_dict() for x in self.by_route],
            "by_model": [x.as_dict() for x in self.by_model],
            "by_provider": [x.as_dict() for x in self.by_provider],
            "by_day": [x.as_dict() for x in self.by_day],
            "day_model_cost": self.day_model_cost,
            "shares": self.shares.as_dict(),
            "shares_by_day": [x.as_dict() for x in self.shares_by_day],
        }


def percentile_ms(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile of a latency histogram (bucket -> count), interpolated geometrically inside
    its bucket."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            low, high = bucket_bounds(bucket)
            frac = (rank - seen) / count if count else 0.0
            return low + (high - low) * frac if low == 0 else float(low * (high / low) ** frac)
        seen += count
    return bucket_bounds(max(histogram))[1]


def _grouped(
    rows: Iterable[DailyRollup],
    key: Callable[[DailyRollup], str],
    blend: Callable[[str], float | None],
    make: Callable[[str], SpendLine] = SpendLine,
) -> dict[str, SpendLine]:
    out: dict[str, SpendLine] = {}
    for d in rows:
        k = key(d)
        line = out.get(k)
        if line is None:
            line = out[k] = make(k)
        line.add(d, blend(d.model))
    return out


def _by_cost(lines: Iterable[SpendLine]) -> list[SpendLine]:
    return sorted(lines, key=lambda x: (-x.cost, x.key))


def build_report(store: LedgerRollups, models: Mapping[str, ModelInfo], filters: ReportFilters) -> Report:
    """The report for ``filters``. Each grouping is one small query on the rollups (by its key, model
    and locality), so the work depends on the number of days, teams and models, not of requests."""
    f = filters.rollup()
    by_day_rows = store.daily(f, ("day", "model", "locality"))
    latency = store.latency_histogram(f)

    def info(model: str) -> ModelInfo:
        return models.get(model) or ModelInfo(UNKNOWN)

    def blend(model: str) -> float | None:
        return info(model).standard_blend

    def grouped(dimension: str, label: Callable[[DailyRollup], str]) -> list[SpendLine]:
        return _by_cost(_grouped(store.daily(f, (dimension, "model")), label, blend).values())

    total = SpendLine("total")
    shares = Shares("total")
    day_model: dict[str, dict[str, float]] = {}
    day_shares: dict[str, Shares] = {}
    for d in by_day_rows:
        total.add(d, blend(d.model))
        weights = info(d.model).weights
        shares.add(d, weights)
        day_shares.setdefault(d.day, Shares(d.day)).add(d, weights)
        cell = day_model.setdefault(d.day, {})
        cell[d.model] = cell.get(d.model, 0.0) + d.cost
    by_model = _grouped(by_day_rows, lambda d: d.model, blend, lambda k: ModelLine(k, weights=info(k).weights))
    _add_latency(by_model, latency)
    days = _grouped(by_day_rows, lambda d: d.day, blend)
    return Report(
        filters=filters,
        total=total,
        by_team=grouped("team", lambda d: d.team or "-"),
        by_route=grouped("route", lambda d: d.route or "(direct)"),
        by_model=[m for m in _by_cost(by_model.values()) if isinstance(m, ModelLine)],
        by_provider=grouped("provider", lambda d: d.provider or "(none)"),
        by_day=[days[k] for k in sorted(days)],
        day_model_cost={k: day_model[k] for k in sorted(day_model)},
        shares=shares,
        shares_by_day=[day_shares[k] for k in sorted(day_shares)],
        days=sorted(days),
    )


def _add_latency(by_model: Mapping[str, SpendLine], counts: Iterable[LatencyCount]) -> None:
    histograms: dict[str, dict[int, int]] = {}
    for c in counts:
        histograms.setdefault(c.model, {})[c.bucket] = c.requests
    for model, hist in histograms.items():
        line = by_model.get(model)
        if isinstance(line, ModelLine):
            line.p50_ms = percentile_ms(hist, 0.50)
            line.p95_ms = percentile_ms(hist, 0.95)


__all__ = [
    "STANDARD_INPUT_SHARE",
    "ModelInfo",
    "ModelLine",
    "Report",
    "ReportFilters",
    "Shares",
    "SpendLine",
    "build_report",
    "models_from_config",
    "percentile_ms",
]
