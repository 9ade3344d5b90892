"""``switchyard report``: spend, savings, proprietary share and latency from the ledger's rollups."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from ..config import Settings, load_config, server_options
from ..store.guard import GuardStats
from ..store.open import open_store
from ..store.sqlite import utc_day
from .report import ModelLine, Report, ReportFilters, SpendLine, build_report, models_from_config

Format = Literal["table", "json", "csv"]


def parse_day(value: str | None, *, option: str, now: float | None = None) -> str | None:
    """``2026-11-01`` or ``7d`` (the last 7 UTC days, today included) -> ``YYYY-MM-DD``."""
    if value is None:
        return None
    if value[:-1].isdigit() and value[-1] == "d":
        days = int(value[:-1])
        return utc_day((now if now is not None else time.time()) - max(days - 1, 0) * 86400)
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: use a date (2026-11-01) or a number of days (30d)", param_hint=option
        ) from None


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _spend_table(title: str, lines: list[SpendLine], first: str) -> Table:
    table = Table(first, "requests", "errors", "tokens in", "tokens out", "cached", "cost $", "premium-only $",
                  "saved $", "saved", "$/1M obs", "$/1M std", title=title, title_justify="left")  # fmt: skip
    for x in lines:
        table.add_row(x.key, f"{x.requests:,}", f"{x.errors:,}", f"{x.input_tokens:,}", f"{x.output_tokens:,}",
                      f"{x.cached_tokens:,}", _money(x.cost), _money(x.counterfactual_cost), _money(x.savings),
                      _pct(x.savings_share), _money(x.usd_per_million_observed),
                      _money(x.usd_per_million_standard))  # fmt: skip
    return table


def _model_table(lines: list[ModelLine]) -> Table:
    table = Table("model", "weights", "requests", "errors", "tokens in", "tokens out", "cached", "cost $",
                  "$/1M obs", "$/1M std", "p50 ms", "p95 ms", title="by model", title_justify="left")  # fmt: skip
    for x in lines:
        table.add_row(x.key, x.weights, f"{x.requests:,}", f"{x.errors:,}", f"{x.input_tokens:,}",
                      f"{x.output_tokens:,}", f"{x.cached_tokens:,}", _money(x.cost),
                      _money(x.usd_per_million_observed), _money(x.usd_per_million_standard), _ms(x.p50_ms),
                      _ms(x.p95_ms))  # fmt: skip
    return table


def print_table(report: Report, console: Console) -> None:
    t, s = report.total, report.shares
    span = f"{report.days[0]} .. {report.days[-1]} ({len(report.days)} days)" if report.days else "no data"
    console.print(f"[bold]switchyard report[/bold]  {span}")
    if report.filters.team or report.filters.route:
        console.print(f"filters: team={report.filters.team or '*'} route={report.filters.route or '*'}")
    console.print(
        f"spend ${t.cost:,.2f} vs ${t.counterfactual_cost:,.2f} premium-only: saved ${t.savings:,.2f} "
        f"({_pct(t.savings_share)})\n"
        f"requests {t.requests:,} ({t.errors:,} errors, {t.sensitive:,} sensitive); tokens in {t.input_tokens:,}, "
        f"out {t.output_tokens:,}, cached {t.cached_tokens:,}\n"
        f"blended $ per 1M tokens: observed {_money(t.usd_per_million_observed)}, standard mix (0.8 in + 0.2 out) "
        f"{_money(t.usd_per_million_standard)}\n"
        f"proprietary share: {_pct(s.proprietary_request_share)} of requests, {_pct(s.proprietary_token_share)} of "
        f"tokens; on-prem: {_pct(s.on_prem_request_share)} of requests, {_pct(s.on_prem_token_share)} of tokens"
    )
    console.print(_spend_table("by team", report.by_team, "team"))
    console.print(_spend_table("by route", report.by_route, "route"))
    console.print(_model_table(report.by_model))
    if report.filters.team or report.filters.route:
        console.print("(latency percentiles are per model over these days, for all teams and routes)")
    console.print(_spend_table("by provider", report.by_provider, "provider"))
    console.print(_spend_table("by day", report.by_day, "day"))
    shares = Table("day", "requests", "proprietary req", "proprietary tok", "on-prem req", "on-prem tok",
                   title="proprietary and on-prem share by day", title_justify="left")  # fmt: skip
    for x in report.shares_by_day:
        shares.add_row(x.key, f"{x.requests:,}", _pct(x.proprietary_request_share), _pct(x.proprietary_token_share),
                       _pct(x.on_prem_request_share), _pct(x.on_prem_token_share))  # fmt: skip
    console.print(shares)
    if report.evals is not None and report.evals.requests:
        e = report.evals
        console.print(
            f"eval runs and shadow calls: {e.requests:,} requests over {e.runs} run(s), ${e.cost:,.4f} "
            "(included in the totals above; production spend is the rest)"
        )
    if report.guard is not None and (report.guard.checks or report.guard.delivered):
        _print_guard(console, report.guard)


def _print_guard(console: Console, guard: GuardStats) -> None:
    """The output guard: raw failures per model (answers found invalid), what clients were delivered per
    route, and what the refused answers cost."""
    raw = Table("route", "model", "answers checked", "invalid", "raw failure rate", "refused cost",
                title="output guard: answers checked (tool calls, JSON)", title_justify="left")  # fmt: skip
    for c in guard.checks:
        raw.add_row(c.route or "-", c.model, f"{c.checked:,}", f"{c.invalid:,}", _pct(c.raw_failure_rate),
                    _money(c.refused_cost))  # fmt: skip
    console.print(raw)
    delivered = Table("route", "requests", *GUARD_COLUMNS, "delivered failure rate",
                      title="output guard: what clients received", title_justify="left")  # fmt: skip
    for d in guard.delivered:
        o = d.outcomes
        delivered.add_row(d.route or "-", f"{d.requests:,}", *(f"{o.get(k, 0):,}" for k in GUARD_COLUMNS),
                          _pct(d.delivered_failure_rate))  # fmt: skip
    console.print(delivered)


GUARD_COLUMNS = ("valid", "confirmed", "repaired", "escalated", "failed")


CSV_COLUMNS = (
    "section", "key", "requests", "errors", "sensitive", "input_tokens", "output_tokens", "cached_tokens", "cost",
    "counterfactual_cost", "savings", "savings_share", "usd_per_1m_observed", "usd_per_1m_standard", "weights",
    "p50_ms", "p95_ms", "tokens", "proprietary_request_share", "proprietary_token_share",
    "open_weight_request_share", "on_prem_request_share", "on_prem_token_share",
)  # fmt: skip


def to_csv(report: Report) -> str:
    """One long table: a ``section`` column (total, team, route, model, provider, day, shares,
    shares_day) and the union of the sections' columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    sections: list[tuple[str, list[SpendLine]]] = [
        ("total", [report.total]),
        ("team", report.by_team),
        ("route", report.by_route),
        ("model", list(report.by_model)),
        ("provider", report.by_provider),
        ("day", report.by_day),
    ]
    for section, lines in sections:
        for line in lines:
            writer.writerow({"section": section, **line.as_dict()})
    writer.writerow({"section": "shares", **report.shares.as_dict()})
    for s in report.shares_by_day:
        writer.writerow({"section": "shares_day", **s.as_dict()})
    return buf.getvalue()


def report(
    since: Annotated[str | None, typer.Option(help="first day: a date (2026-11-01) or 30d (today included)")] = None,
    until: Annotated[str | None, typer.Option(help="last day, inclusive: a date or Nd")] = None,
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    route: Annotated[str | None, typer.Option(help="only this route")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    plots: Annotated[Path | None, typer.Option(help="write PNG charts into this directory")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (models' weights, prices)")] = None,
) -> None:
    """Spend by team, route, model, provider and day; savings against the premium-only counterfactual;
    proprietary and on-prem shares; latency per model. Read from the ledger's daily rollups."""
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter(f"{fmt!r}: use table, json or csv", param_hint="--format")
    filters = ReportFilters(
        parse_day(since, option="--since"), parse_day(until, option="--until"), team=team, route=route
    )
    settings = Settings()
    cfg = load_config(config or settings.config)
    store = open_store(server_options(settings, cfg))
    try:
        result = build_report(store, models_from_config(cfg), filters)
        result.evals = store.eval_spend(filters.rollup())
        result.guard = store.guard_stats(filters.rollup())
    finally:
        store.close()
    if fmt == "json":
        typer.echo(json.dumps(result.as_dict(), indent=2))
    elif fmt == "csv":
        typer.echo(to_csv(result), nl=False)
    else:
        print_table(result, Console() if sys.stdout.isatty() else Console(width=200))
    if plots is not None:
        from .plots import write_plots

        written = write_plots(result, plots)
        typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)
