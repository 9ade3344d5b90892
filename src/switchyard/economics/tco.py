"""Total cost of ownership: what a workload costs a month on a premium API, an open-weight API, rented
GPUs and owned GPUs, when owning breaks even, and how per-token prices may fall.

Conventions (they reproduce the issue's seed figures):

- a month is 30 days = 720 hours;
- the *standard mix* blends prices as 0.8 x input + 0.2 x output per 1M tokens;
- owned GPUs cost their purchase price spread over ``amortisation_months``, plus power at full board
  draw for every hour of the month (the machine stays on), plus operations per GPU-month;
- rented GPUs are priced two ways: *on demand* (billed only for the GPU-hours the work needs — the
  cheapest renting can be) and *reserved* (enough GPUs for the peak, all month);
- break-even months = purchase price / (monthly rent it replaces - monthly power and operations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..pricing import STANDARD_INPUT_SHARE, blended_price
from .catalog import Throughput

HOURS_PER_MONTH = 720.0
MILLION = 1_000_000.0


def token_cost(tokens: float, usd_per_million: float) -> float:
    return tokens / MILLION * usd_per_million


@dataclass(frozen=True, slots=True)
class Workload:
    tokens_per_month: float
    input_share: float = STANDARD_INPUT_SHARE
    peak_rps: float = 0.0
    tokens_per_request: float = 1000.0  # input + output, for the peak's GPU count
    source: str = "declared"

    @property
    def input_tokens(self) -> float:
        return self.tokens_per_month * self.input_share

    @property
    def output_tokens(self) -> float:
        return self.tokens_per_month * (1 - self.input_share)


@dataclass(frozen=True, slots=True)
class ApiPrice:
    """USD per 1M input and output tokens (a blended-only price has both equal)."""

    name: str
    input: float
    output: float

    @classmethod
    def parse(cls, name: str, text: str) -> ApiPrice:
        """``"6.03"`` (blended) or ``"0.28/0.42"`` (input/output)."""
        parts = text.split("/")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a price (use 6.03 or 0.28/0.42)") from None
        if len(values) == 1:
            return cls(name, values[0], values[0])
        if len(values) == 2:
            return cls(name, values[0], values[1])
        raise ValueError(f"{name}: {text!r} is not a price (use 6.03 or 0.28/0.42)")

    def blended(self, input_share: float = STANDARD_INPUT_SHARE) -> float:
        return blended_price(self.input, self.output, input_share)

    def monthly(self, w: Workload) -> float:
        return token_cost(w.input_tokens, self.input) + token_cost(w.output_tokens, self.output)


@dataclass(frozen=True, slots=True)
class OwnedGpu:
    capex_usd: float
    amortisation_months: float = 36.0
    watts: float = 0.0
    usd_per_kwh: float = 0.0
    ops_usd_per_month: float = 0.0  # per GPU: people, space, support contracts

    @property
    def power_per_month(self) -> float:
        return self.watts / 1000 * HOURS_PER_MONTH * self.usd_per_kwh

    @property
    def running_per_month(self) -> float:
        return self.power_per_month + self.ops_usd_per_month

    @property
    def monthly(self) -> float:
        return self.capex_usd / self.amortisation_months + self.running_per_month


def break_even_months(owned: OwnedGpu, rent_usd_per_hour: float, utilisation: float = 1.0) -> float:
    """Months after which buying a GPU has cost less than renting it for ``utilisation`` of the hours
    (``inf`` when renting stays cheaper than just running the owned one)."""
    saved_per_month = rent_usd_per_hour * HOURS_PER_MONTH * utilisation - owned.running_per_month
    return owned.capex_usd / saved_per_month if saved_per_month > 0 else math.inf


def break_even_utilisation(owned: OwnedGpu, rent_usd_per_hour: float) -> float:
    """The share of hours a GPU must be busy for owning it (amortised) to cost less than renting those
    hours on demand. Above 1: renting always wins over the amortisation period."""
    return owned.monthly / (rent_usd_per_hour * HOURS_PER_MONTH)


def deflated(price: float, months: float, annual_factor: float) -> float:
    """A price after ``months`` when prices fall by ``annual_factor`` a year (10 = ten times cheaper)."""
    return float(price / annual_factor ** (months / 12))


@dataclass(frozen=True, slots=True)
class GpuNeed:
    gpu_seconds_per_request: float
    gpu_hours_per_month: float
    for_peak: int
    for_volume: int

    @property
    def gpus(self) -> int:
        return max(1, self.for_peak, self.for_volume)

    @property
    def utilisation(self) -> float:
        return self.gpu_hours_per_month / (self.gpus * HOURS_PER_MONTH)


def gpu_need(w: Workload, tps: Throughput) -> GpuNeed:
    hours = tps.gpu_seconds(w.input_tokens, w.output_tokens) / 3600
    per_request = tps.gpu_seconds(w.tokens_per_request * w.input_share, w.tokens_per_request * (1 - w.input_share))
    return GpuNeed(
        gpu_seconds_per_request=per_request,
        gpu_hours_per_month=hours,
        for_peak=math.ceil(w.peak_rps * per_request - 1e-9),
        for_volume=math.ceil(hours / HOURS_PER_MONTH - 1e-9),
    )


@dataclass(frozen=True, slots=True)
class OptionCost:
    option: str
    monthly_usd: float
    usd_per_million: float  # effective, over the workload's tokens
    note: str = ""
    per_token: bool = False  # priced per token: follows the annual price deflation in the projection


@dataclass(frozen=True, slots=True)
class ProjectionPoint:
    month: int
    costs: dict[str, float]  # option -> monthly USD at that month's prices


@dataclass(frozen=True)
class TcoResult:
    workload: Workload
    gpu: str
    throughput: Throughput
    need: GpuNeed
    options: list[OptionCost]
    break_even_months_continuous: float | None  # one GPU busy all month vs renting it all month
    break_even_months_workload: float | None  # at the workload's utilisation
    break_even_utilisation: float | None
    annual_deflation: float
    projection: list[ProjectionPoint] = field(default_factory=list)

    def option(self, name: str) -> OptionCost:
        return next(o for o in self.options if o.option == name)


PROJECTION_MONTHS = (0, 6, 12, 24, 36)


def compare(
    w: Workload,
    *,
    premium: ApiPrice,
    open_api: ApiPrice,
    gpu: str,
    throughput: Throughput,
    rent_usd_per_hour: float | None,
    owned: OwnedGpu | None,
    annual_deflation: float = 10.0,
    projection_months: tuple[int, ...] = PROJECTION_MONTHS,
) -> TcoResult:
    need = gpu_need(w, throughput)
    tokens = max(w.tokens_per_month, 1.0)

    def option(name: str, monthly: float, note: str = "", per_token: bool = False) -> OptionCost:
        return OptionCost(name, monthly, monthly / tokens * MILLION, note, per_token)

    options = [
        option(api.name, api.monthly(w), f"${api.input:g}/${api.output:g} per 1M in/out", per_token=True)
        for api in (premium, open_api)
    ]
    if rent_usd_per_hour is not None:
        options.append(
            option(
                "rented GPUs (on demand)",
                need.gpu_hours_per_month * rent_usd_per_hour,
                f"{need.gpu_hours_per_month:,.1f} GPU-hours at ${rent_usd_per_hour:g}/h",
            )
        )
        options.append(
            option(
                "rented GPUs (reserved)",
                need.gpus * HOURS_PER_MONTH * rent_usd_per_hour,
                f"{need.gpus} GPU(s) all month at ${rent_usd_per_hour:g}/h",
            )
        )
    if owned is not None:
        options.append(
            option(
                "owned GPUs",
                need.gpus * owned.monthly,
                f"{need.gpus} x (${owned.capex_usd:,.0f} / {owned.amortisation_months:g} months"
                f" + ${owned.running_per_month:,.2f} power and operations)",
            )
        )
    be_cont = be_work = be_util = None
    if owned is not None and rent_usd_per_hour is not None:
        be_cont = break_even_months(owned, rent_usd_per_hour, 1.0)
        be_work = break_even_months(owned, rent_usd_per_hour, need.utilisation)
        be_util = break_even_utilisation(owned, rent_usd_per_hour)
    projection = [
        ProjectionPoint(
            month,
            {
                o.option: deflated(o.monthly_usd, month, annual_deflation) if o.per_token else o.monthly_usd
                for o in options
            },
        )
        for month in projection_months
    ]
    return TcoResult(w, gpu, throughput, need, options, be_cont, be_work, be_util, annual_deflation, projection)
