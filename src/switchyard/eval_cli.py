"""``switchyard eval``: run a set through the gateway, report a run, compare two runs (a CI gate)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .config import GatewayConfig, Settings, load_config, server_options
from .errors import SwitchyardError
from .evals.compare import DEFAULT_ALPHA, DEFAULT_MAX_DROP, compare
from .evals.report import DEFAULT_MARGIN, RunReport, build_report
from .store.evals import EvalRunRecord
from .store.open import Store, open_store
from .types import Principal

app = typer.Typer(help="Evals on your own data: run a set through the gateway, report, compare.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded models)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
# exit codes: 0 fine, 1 a regression (compare), 2 bad input, 130 interrupted (resume with the same command)
EXIT_REGRESSION, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(EXIT_USAGE)


def _settings_and_config(config: Path | None) -> tuple[Settings, GatewayConfig]:
    settings = Settings(**({"config": config} if config else {}))  # type: ignore[arg-type]
    return settings, load_config(settings.config)


def _open(config: Path | None) -> Store:
    settings, cfg = _settings_and_config(config)
    return open_store(server_options(settings, cfg))


def _find(store: Store, name: str) -> EvalRunRecord:
    run = store.find_eval_run(name)
    if run is None:
        raise _fail(f"no eval run named {name!r}")
    return run


@app.command("run")
def run_command(
    eval_set: Annotated[Path, typer.Argument(metavar="SET", help="the eval set (JSONL)")],
    models: Annotated[str | None, typer.Option("--models", help="comma-separated models to evaluate")] = None,
    route: Annotated[
        str | None, typer.Option("--route", help="also evaluate a route (the gateway picks per item)")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="calls in flight at once")] = 4,
    name: Annotated[str | None, typer.Option("--name", help="the run's name (default: SET and the time)")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="SWITCHYARD_API_KEY",
            help="API key the run is made as (its team's policies and budgets apply)",
        ),
    ] = None,
    retries: Annotated[int, typer.Option("--retries", help="extra tries of a retryable failure")] = 2,
    temperature: Annotated[float | None, typer.Option("--temperature", help="sent with every item")] = 0.0,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="output cap sent with every item")] = None,
    scorer: Annotated[str | None, typer.Option("--scorer", help="default scorer for items that name none")] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="model that grades the `judge` scorer's items")] = None,
    config: ConfigOpt = None,
) -> None:
    """Send every item to every model (and route) through the gateway; resume by running it again."""
    from .evals.runner import EvalRunner, RunPlan, gateway_judge
    from .evals.scorers import ScorerDeps, Scoring
    from .evals.sets import load_eval_set
    from .gateway import Gateway

    targets = tuple(m.strip() for m in (models or "").split(",") if m.strip()) + ((route,) if route else ())
    params: dict[str, Any] = {
        k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens}.items() if v is not None
    }
    try:
        items = load_eval_set(eval_set, scorer)
        plan = RunPlan(name or f"{items.name}-{time.strftime('%Y%m%d-%H%M%S')}", targets, concurrency, retries, params)
        settings, cfg = _settings_and_config(config)
    except SwitchyardError as exc:
        raise _fail(exc.message) from None

    async def main() -> int:
        gw = Gateway(settings, cfg)
        await gw.start(warm=False)
        try:
            principal = _principal(gw, key)

            def scoring(run: EvalRunRecord) -> Scoring:
                client = gateway_judge(gw.chat, principal, judge, run.id) if judge else None
                return Scoring(ScorerDeps(judge=client))

            with _progress() as bar:
                task = bar.add_task(plan.name, total=None)
                runner = EvalRunner(
                    gw.chat, principal, gw.store, scoring, flush_ledger=gw.ledger.flush,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGINT, _on_interrupt(runner, bar))
                loop.add_signal_handler(signal.SIGTERM, runner.stop)
                outcome = await runner.run(items, plan)
        finally:
            await gw.aclose()
        summary = {
            "run": outcome.run.name, "id": outcome.run.id, "targets": outcome.run.targets, "items": len(items),
            "sent": outcome.sent, "answered": outcome.answered, "failed": outcome.failed,
            "skipped_already_answered": outcome.skipped, "stopped": outcome.stopped,
        }  # fmt: skip
        typer.echo(json.dumps(summary))
        if outcome.stopped:
            typer.echo(f"interrupted: resume with the same command and --name {outcome.run.name}", err=True)
            return EXIT_INTERRUPTED
        return 0

    try:
        code = asyncio.run(main())
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    raise typer.Exit(code)


def _principal(gw: Any, key: str | None) -> Principal:
    """Who the run is made as: the key's principal; without a key, a local principal of team ``evals``
    when the config lists no teams (open access), else an error."""
    if key:
        principal: Principal = gw.auth.authenticate(key)
        return principal
    if gw.config.access.teams:
        raise _fail("the config lists teams: pass --key (or SWITCHYARD_API_KEY) so the run is made as a team's key")
    return Principal(key_id="cli-eval", team="evals")


def _on_interrupt(runner: Any, bar: Progress) -> Any:
    presses = {"n": 0}

    def handle() -> None:
        presses["n"] += 1
        if presses["n"] == 1:
            bar.console.print("stopping: the calls in flight finish and are stored (Ctrl-C again to abort)")
            runner.stop()
        else:
            os._exit(EXIT_INTERRUPTED)

    return handle


def _progress() -> Progress:
    console = Console(stderr=True)
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, disable=not console.is_terminal and not os.environ.get("SWITCHYARD_PROGRESS"),
    )  # fmt: skip


@app.command("report")
def report_command(
    run: Annotated[str, typer.Argument(metavar="RUN", help="the run's name or id")],
    as_json: JsonOpt = False,
    plots: Annotated[Path | None, typer.Option("--plots", help="write the cost-quality Pareto PNG here")] = None,
    margin: Annotated[
        float, typer.Option("--margin", help="quality margin of the recommendation (absolute)")
    ] = DEFAULT_MARGIN,
    config: ConfigOpt = None,
) -> None:
    """Quality (95% bootstrap interval), cost per 1,000 items, latency, failures; the recommendation."""
    store = _open(config)
    try:
        record = _find(store, run)
        report = build_report(record, store.eval_results(record.id), record.meta.get("item_ids"), margin=margin)
    finally:
        store.close()
    png = None
    if plots is not None:
        from .evals.plots import pareto_png

        png = pareto_png(report, plots / f"{record.name}_pareto.png")
    if as_json:
        out = report.to_json()
        if png is not None:
            out["plots"] = [str(png)]
        typer.echo(json.dumps(out))
        return
    _print_report(report)
    if png is not None:
        typer.echo(f"wrote {png}")


def _print_report(report: RunReport) -> None:
    table = Table(title=f"{report.run} on {report.set_name} ({report.items} items)")
    for col in ("target", "quality", "95% interval", "cost / 1k items", "p50 ms", "p95 ms", "failures", "missing"):
        table.add_column(col, justify="left" if col == "target" else "right")
    front = set(report.pareto)
    for t in report.targets:
        table.add_row(
            t.target + (" *" if t.target in front else ""), f"{t.quality:.3f}",
            f"{t.interval.low:.3f}-{t.interval.high:.3f}", f"${t.cost_per_1k:.4f}",
            "-" if t.latency_p50_ms is None else f"{t.latency_p50_ms:.0f}",
            "-" if t.latency_p95_ms is None else f"{t.latency_p95_ms:.0f}", str(t.failures), str(t.missing),
        )  # fmt: skip
    console = Console()
    console.print(table)
    console.print("* on the cost-quality Pareto front")
    rec = report.recommendation
    if rec is not None:
        console.print(f"recommended: {rec.target} — {rec.reason}")
        if rec.evidence is not None:
            e = rec.evidence
            console.print(
                f"  against {rec.best} on {e.items} items: {e.wins} better, {e.losses} worse, {e.ties} same; "
                f"drop {e.drop:.3f} (95% {e.drop_interval.low:.3f} to {e.drop_interval.high:.3f}), p(worse) = {e.p_worse:.3g}"
            )


@app.command("judge")
def judge_command(
    run: Annotated[str, typer.Argument(metavar="RUN", help="a run of two targets (a shadow run)")],
    judge: Annotated[str, typer.Option("--judge", help="the judge model (called through the gateway)")],
    key: Annotated[
        str | None, typer.Option("--key", envvar="SWITCHYARD_API_KEY", help="API key the judge calls are made as")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="items judged at once")] = 4,
    config: ConfigOpt = None,
) -> None:
    """Score a two-target run by pairwise judging (both orders); then `eval compare RUN RUN --target-a ...
    --target-b ...` tests the difference."""
    from .evals.judging import judge_run
    from .evals.runner import gateway_judge
    from .gateway import Gateway

    settings, cfg = _settings_and_config(config)

    async def main() -> dict[str, Any]:
        gw = Gateway(settings, cfg)
        await gw.start(warm=False)
        try:
            record = _find(gw.store, run)
            client = gateway_judge(gw.chat, _principal(gw, key), judge, record.id)
            outcome = await judge_run(record, gw.store, client, concurrency=concurrency)
        finally:
            await gw.aclose()
        return {"run": record.name, "targets": record.targets, **asdict(outcome)}

    try:
        typer.echo(json.dumps(asyncio.run(main())))
    except SwitchyardError as exc:
        raise _fail(exc.message) from None


@app.command("compare")
def compare_command(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="the baseline run")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="the candidate run")],
    max_drop: Annotated[
        float, typer.Option("--max-drop", help="largest quality drop accepted (absolute)")
    ] = DEFAULT_MAX_DROP,
    alpha: Annotated[float, typer.Option("--alpha", help="significance level of the paired sign test")] = DEFAULT_ALPHA,
    target_a: Annotated[str | None, typer.Option("--target-a", help="which target of RUN_A")] = None,
    target_b: Annotated[str | None, typer.Option("--target-b", help="which target of RUN_B")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Per-item wins and losses and a paired test; exit code 1 when quality drops beyond --max-drop with
    significance (a CI gate for a model swap)."""
    store = _open(config)
    try:
        a, b = _find(store, run_a), _find(store, run_b)
        result = compare(
            a, store.eval_results(a.id), b, store.eval_results(b.id),
            target_a=target_a, target_b=target_b, max_drop=max_drop, alpha=alpha,
        )  # fmt: skip
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.to_json()))
    else:
        p = result.paired
        typer.echo(
            f"{p.a} {result.quality_a:.3f} -> {p.b} {result.quality_b:.3f} on {p.items} items: "
            f"{p.wins} better, {p.losses} worse, {p.ties} same\n{result.verdict}"
        )
    sys.stdout.flush()
    raise typer.Exit(EXIT_REGRESSION if result.regression else 0)
