"""``switchyard tco``: the monthly cost of a workload on APIs, rented and owned GPUs, and break-even."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ..config import Settings, load_config, server_options
from ..errors import ConfigError
from ..store.open import open_store
from ..strict_json import finite
from .catalog import DEFAULT_BATCH, Throughput, build_catalog
from .tco import ApiPrice, OwnedGpu, TcoResult, Workload, compare
from .workload import measure_workload

_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}


def parse_amount(text: str) -> float:
    """``300M``, ``1.5B``, ``80000000`` -> a number."""
    t = text.strip().lower().replace(",", "").replace("_", "")
    scale = _SUFFIXES.get(t[-1:], 1.0)
    if t[-1:] in _SUFFIXES:
        t = t[:-1]
    try:
        return float(t) * scale
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use a number such as 300M, 1.5B or 80000000") from None


def _months(value: float | None) -> str:
    if value is None:
        return "n/a (needs both a rental and a purchase price)"
    return "never (renting costs less than running an owned GPU)" if math.isinf(value) else f"{value:.1f} months"


def print_result(r: TcoResult) -> None:
    w = r.workload
    typer.echo(
        f"workload ({w.source}): {w.tokens_per_month / 1e6:,.1f}M tokens/month, {w.input_share:.0%} input, "
        f"peak {w.peak_rps:.3g} req/s, {w.tokens_per_request:,.0f} tokens/request"
    )
    t = r.throughput
    typer.echo(
        f"throughput: {r.gpu} / {t.model_class}: {t.decode_tps:,.0f} output tok/s, {t.prefill_tps:,.0f} input tok/s "
        f"per GPU\n  source: {t.source}"
    )
    n = r.need
    typer.echo(
        f"GPUs needed: {n.gpus} (peak needs {n.for_peak}, volume needs {n.for_volume}; "
        f"{n.gpu_hours_per_month:,.1f} GPU-hours/month, utilisation {n.utilisation:.1%})"
    )
    typer.echo("")
    width = max(len(o.option) for o in r.options)
    typer.echo(f"{'option':<{width}}  {'$/month':>12}  {'$/1M tokens':>11}  detail")
    for o in r.options:
        typer.echo(f"{o.option:<{width}}  {o.monthly_usd:>12,.2f}  {o.usd_per_million:>11.3f}  {o.note}")
    premium, open_api = r.options[0], r.options[1]
    if premium.monthly_usd > 0:
        typer.echo(f"\n{open_api.option} vs {premium.option}: {open_api.monthly_usd / premium.monthly_usd - 1:+.0%}")
    typer.echo(f"break-even, owned vs rented, one GPU in continuous use: {_months(r.break_even_months_continuous)}")
    typer.echo(f"break-even, owned vs rented, at this workload's utilisation: {_months(r.break_even_months_workload)}")
    if r.break_even_utilisation is not None:
        u = r.break_even_utilisation
        verdict = f"{u:.1%}" if u <= 1 else f"never within the amortisation period (would need {u:.0%})"
        typer.echo(f"owning beats renting on demand above a utilisation of {verdict}")
    typer.echo(f"\nprice projection (per-token prices fall {r.annual_deflation:g}x a year; GPU prices held):")
    names = [o.option for o in r.options]
    typer.echo("month  " + "  ".join(f"{n:>24}" for n in names))
    for p in r.projection:
        typer.echo(f"{p.month:>5}  " + "  ".join(f"{p.costs[n]:>24,.2f}" for n in names))


def _from_ledger(config: Path | None, days: int) -> Workload:
    settings = Settings()
    store = open_store(server_options(settings, load_config(config or settings.config)))
    try:
        measured = measure_workload(store, days, time.time())
    finally:
        store.close()
    if measured is None:
        typer.echo(f"the ledger has no traffic in the last {days} days", err=True)
        raise typer.Exit(1)
    return measured


def tco(
    tokens_per_month: Annotated[
        str | None, typer.Option(help="declared tokens per month (300M, 1.5B); or use --from-ledger")
    ] = None,
    input_share: Annotated[float, typer.Option(min=0, max=1, help="share of the tokens that are input")] = 0.8,
    peak_rps: Annotated[float, typer.Option(min=0, help="peak requests per second")] = 0.0,
    tokens_per_request: Annotated[float, typer.Option(min=1, help="mean input+output tokens per request")] = 1000,
    from_ledger: Annotated[bool, typer.Option(help="measure the workload from the ledger over --window")] = False,
    window: Annotated[int, typer.Option(min=1, help="with --from-ledger: the last N days")] = 30,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (for --from-ledger)")] = None,
    premium: Annotated[str, typer.Option(help="premium API price per 1M tokens: blended (6.03) or in/out")] = "6.03",
    open_api: Annotated[str, typer.Option("--open", help="open-weight API price per 1M tokens")] = "0.83",
    gpu: Annotated[str, typer.Option(help="GPU from the catalog: h100, a100, h200")] = "h100",
    model_class: Annotated[str, typer.Option(help="model size class from the catalog: 8b, 32b")] = "8b",
    measured_tps: Annotated[
        float | None, typer.Option(min=0.001, help="your own tokens/s per GPU for this workload's mix")
    ] = None,
    rent: Annotated[float | None, typer.Option(help="rental $/GPU-hour (default: the catalog's)")] = None,
    capex: Annotated[float | None, typer.Option(help="purchase $ per GPU (default: the catalog's)")] = None,
    amortisation_months: Annotated[float, typer.Option(min=1, help="months the purchase is spread over")] = 36,
    watts: Annotated[float | None, typer.Option(help="power draw per GPU (default: the board power)")] = None,
    usd_per_kwh: Annotated[float, typer.Option(min=0, help="electricity price")] = 0.0,
    ops_per_month: Annotated[float, typer.Option(min=0, help="operations $ per GPU-month")] = 0.0,
    deflation: Annotated[float, typer.Option(min=1, help="per-token prices fall this many times a year")] = 10.0,
    throughput_file: Annotated[Path | None, typer.Option(help="a throughput measurement JSON")] = None,
    batch: Annotated[int, typer.Option(min=1, help="decode batch to read from the measurement file")] = DEFAULT_BATCH,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Compare the monthly cost of a workload on a premium API, an open-weight API, rented and owned
    GPUs; print break-even months, the utilisation above which owning wins, and a price projection."""
    try:
        catalog = build_catalog(throughput_file, batch=batch)
        spec = catalog.gpu(gpu)
        if measured_tps is not None:
            tps = Throughput(spec.name, model_class, measured_tps, measured_tps, "--measured-tps")
        else:
            tps = catalog.tps(spec.name, model_class)
        prices = ApiPrice.parse("premium API", premium), ApiPrice.parse("open-weight API", open_api)
    except (ConfigError, ValueError) as exc:
        typer.echo(exc.message if isinstance(exc, ConfigError) else str(exc), err=True)
        raise typer.Exit(2) from None
    if from_ledger:
        workload = _from_ledger(config, window)
    elif tokens_per_month is not None:
        workload = Workload(parse_amount(tokens_per_month), input_share, peak_rps, tokens_per_request)
    else:
        typer.echo("give --tokens-per-month (e.g. 300M) or --from-ledger", err=True)
        raise typer.Exit(2)
    capex_usd = capex if capex is not None else spec.capex_usd
    owned = None
    if capex_usd is not None:
        owned = OwnedGpu(
            capex_usd, amortisation_months, spec.watts if watts is None else watts, usd_per_kwh, ops_per_month
        )
    result = compare(
        workload,
        premium=prices[0],
        open_api=prices[1],
        gpu=spec.name,
        throughput=tps,
        rent_usd_per_hour=rent if rent is not None else spec.rent_usd_per_hour,
        owned=owned,
        annual_deflation=deflation,
    )
    if as_json:
        data = asdict(result)
        data["gpus_needed"] = result.need.gpus
        data["utilisation"] = result.need.utilisation
        typer.echo(json.dumps(finite(data)))
        return
    print_result(result)
