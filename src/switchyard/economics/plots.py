"""PNG charts of a :class:`Report` (matplotlib, Agg backend: no display needed).

- ``spend_per_day.png``: spend per day stacked by model, with the premium-only counterfactual as a line;
- ``cumulative_savings.png``: cumulative spend against the cumulative counterfactual, the gap shaded;
- ``proprietary_share.png``: the daily share of requests and tokens served by proprietary models, with
  the on-prem share and the 80% -> 30% reference lines of the proprietary-share objective;
- ``latency.png``: p50 and p95 latency per model.
"""

from __future__ import annotations

from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any

from .report import Report

MAX_MODELS = 8  # more get folded into "other" so the legend stays readable


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dates(days: list[str]) -> list[date]:
    return [date.fromisoformat(d) for d in days]


def _format_dates(fig: Any, ax: Any) -> None:
    import matplotlib.dates

    mdates: Any = matplotlib.dates
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.autofmt_xdate(rotation=0, ha="center")


def _title(report: Report, text: str) -> str:
    scope = [f"team {report.filters.team}" if report.filters.team else "", report.filters.route or ""]
    scope_text = ", ".join(s for s in scope if s)
    span = f"{report.days[0]} to {report.days[-1]}" if report.days else "no data"
    return f"{text}\n{span}" + (f" ({scope_text})" if scope_text else "")


def spend_per_day(report: Report, path: Path) -> Path:
    plt = pyplot()
    totals: dict[str, float] = {}
    for cells in report.day_model_cost.values():
        for model, cost in cells.items():
            totals[model] = totals.get(model, 0.0) + cost
    ranked = [m for m, _ in sorted(totals.items(), key=lambda kv: -kv[1])]
    shown, folded = ranked[:MAX_MODELS], set(ranked[MAX_MODELS:])
    days = report.days
    x = _dates(days)
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    bottom = [0.0] * len(days)
    series = [(m, [report.day_model_cost[d].get(m, 0.0) for d in days]) for m in shown]
    if folded:
        series.append(("other", [sum(c for m, c in report.day_model_cost[d].items() if m in folded) for d in days]))
    colors = plt.get_cmap("tab10").colors
    for i, (name, values) in enumerate(series):
        label = f"{name} (${totals.get(name, sum(values)):,.2f})"
        ax.bar(x, values, bottom=bottom, width=0.8, label=label, color=colors[i % len(colors)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    counterfactual = [line.counterfactual_cost for line in report.by_day]
    ax.plot(x, counterfactual, color="black", linestyle="--", marker=".", label="premium-only counterfactual")
    ax.set_ylabel("USD per day")
    ax.set_title(_title(report, f"Spend per day by model — total ${report.total.cost:,.2f}"))
    ax.legend(loc="upper left", fontsize=8, ncols=2, framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(0, max([*bottom, *counterfactual, 0.0]) * 1.35 or 1)
    _format_dates(fig, ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def cumulative_savings(report: Report, path: Path) -> Path:
    plt = pyplot()
    x = _dates(report.days)
    spent = list(accumulate(line.cost for line in report.by_day))
    premium = list(accumulate(line.counterfactual_cost for line in report.by_day))
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    ax.plot(x, premium, color="tab:red", linewidth=2, label="everything on each route's premium model")
    ax.plot(x, spent, color="tab:blue", linewidth=2, label="actual spend (routed)")
    ax.fill_between(x, spent, premium, color="tab:green", alpha=0.25, label="savings")
    t = report.total
    if x:
        share = f" ({t.savings_share:.0%} of the premium-only cost)" if t.savings_share is not None else ""
        ax.text(0.98, 0.06, f"saved ${t.savings:,.2f}{share}\nspent ${t.cost:,.2f} instead of "
                f"${t.counterfactual_cost:,.2f}", transform=ax.transAxes, ha="right", va="bottom", fontsize=11,
                fontweight="bold", color="darkgreen")  # fmt: skip
    ax.set_ylabel("cumulative USD")
    ax.set_title(_title(report, f"Cumulative spend vs premium-only counterfactual — saved ${t.savings:,.2f}"))
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    _format_dates(fig, ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def proprietary_share(report: Report, path: Path) -> Path:
    plt = pyplot()
    days = [s for s in report.shares_by_day if s.requests]
    x = _dates([s.key for s in days])
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)

    def pct(values: list[float | None]) -> list[float]:
        return [100 * v if v is not None else float("nan") for v in values]

    ax.plot(x, pct([s.proprietary_request_share for s in days]), color="tab:red", marker="o", markersize=3,
            linewidth=2, label="proprietary share of requests")  # fmt: skip
    ax.plot(x, pct([s.proprietary_token_share for s in days]), color="tab:orange", linestyle="--",
            label="proprietary share of tokens")  # fmt: skip
    ax.plot(x, pct([s.on_prem_request_share for s in days]), color="tab:green", linestyle=":",
            label="on-prem share of requests")  # fmt: skip
    for level, text in ((80, "80%: where the objective starts"), (30, "30%: the objective")):
        ax.axhline(level, color="gray", linewidth=1, linestyle="-", alpha=0.6)
        ax.text(x[0] if x else 0, level + 1.5, text, fontsize=8, color="dimgray")
    overall = report.shares.proprietary_request_share
    headline = f" — {overall:.0%} of requests overall" if overall is not None else ""
    ax.set_title(_title(report, f"Requests and tokens served by proprietary models{headline}"))
    ax.set_ylabel("% of served requests / tokens")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    ax.grid(alpha=0.3)
    if x:
        _format_dates(fig, ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency(report: Report, path: Path) -> Path:
    plt = pyplot()
    lines = sorted((m for m in report.by_model if m.p50_ms is not None), key=lambda m: m.p50_ms or 0.0)
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(lines) + 2), dpi=110)
    names = [f"{m.key} ({m.weights})" for m in lines]
    ys = range(len(lines))
    ax.barh([y + 0.2 for y in ys], [m.p95_ms or 0.0 for m in lines], height=0.4, color="tab:orange", label="p95")
    ax.barh([y - 0.2 for y in ys], [m.p50_ms or 0.0 for m in lines], height=0.4, color="tab:blue", label="p50")
    ax.set_yticks(list(ys), names)
    ax.set_xlabel("latency (ms), from the rollups' histograms (±12%)")
    ax.set_title(_title(report, "Latency per model"))
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


CHARTS = {
    "spend_per_day.png": spend_per_day,
    "cumulative_savings.png": cumulative_savings,
    "proprietary_share.png": proprietary_share,
    "latency.png": latency,
}


def write_plots(report: Report, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    with pyplot().rc_context({"text.parse_math": False}):  # "$" is money here, not TeX
        return [draw(report, folder / name) for name, draw in CHARTS.items()]
