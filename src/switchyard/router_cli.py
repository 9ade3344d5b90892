"""``switchyard router``: train the quality/cost router offline (from an eval run, or from outcome CSVs of
two models) and ask it about a prompt."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .errors import ConfigError
from .evals.router_runs import find_run, outcomes_from_run, run_set
from .routing.artifact import resolve, versions
from .routing.calibration import ALWAYS_CHEAP, ALWAYS_PREMIUM
from .routing.choice import ALWAYS_BEST, ALWAYS_CHEAPEST
from .routing.costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE
from .routing.data import DEFAULT_CHEAP, DEFAULT_PREMIUM, RouterDataError, read_outcomes
from .routing.features import LocalEncoder
from .routing.model import FitOptions, RouterModel
from .routing.nrouter import NRouter, load_router
from .routing.outcomes import Outcomes

if TYPE_CHECKING:
    from .store.open import Store

DEFAULT_ARTIFACT_DIR = Path("router")

app = typer.Typer(help="Train and inspect the quality/cost router.", no_args_is_help=True)

ArtifactOpt = Annotated[
    Path, typer.Option("--artifact", help="artifact directory (its CURRENT version) or one version directory")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _threshold_text(value: float) -> str:
    if value == ALWAYS_CHEAP:
        return "inf (always cheap)"
    if value == ALWAYS_PREMIUM:
        return "-inf (always premium)"
    return f"{value:.4f}"


def _open_store(config: Path | None) -> Store:
    from .config import Settings, load_config, server_options
    from .store.open import open_store

    settings = Settings(**({"config": config} if config else {}))  # type: ignore[arg-type]
    return open_store(server_options(settings, load_config(settings.config)))


@app.command()
def fit(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="outcome CSV of two models (more may follow as arguments)")
    ] = None,
    more: Annotated[list[Path] | None, typer.Argument(help="further outcome CSVs", show_default=False)] = None,
    from_run: Annotated[
        str | None, typer.Option("--from-run", help="train on a stored eval run (`switchyard eval run`): name or id")
    ] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="with --from-run: comma-separated candidates (default: all targets)")
    ] = None,
    eval_set: Annotated[
        Path | None, typer.Option("--set", help="with --from-run: the run's eval set, if not where the run recorded it")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="with --from-run: YAML config naming the store")
    ] = None,
    out: Annotated[
        Path, typer.Option("--artifact", "--out", help="artifact directory; a new version is added")
    ] = DEFAULT_ARTIFACT_DIR,
    target_quality: Annotated[
        float, typer.Option(help="share of the best model's quality to keep (the held-out estimate's target)")
    ] = 0.95,
    cheap: Annotated[str, typer.Option(help="with --data: column of the cheap model")] = DEFAULT_CHEAP,
    premium: Annotated[str, typer.Option(help="with --data: column of the premium model")] = DEFAULT_PREMIUM,
    mode: Annotated[
        str, typer.Option(help="route: decide from the prompt; verify: the cascade's verifier of cheap answers")
    ] = "route",
    margin_z: Annotated[
        float | None,
        typer.Option(help="fixed calibration margin in standard errors (default: a 95% bootstrap band)"),
    ] = None,
    embedding_cache: Annotated[Path | None, typer.Option(help="keep prompt embeddings in this directory")] = None,
) -> None:
    """Train a router on per-prompt outcomes (an eval run, or outcome CSVs), calibrate it on held-back folds,
    and print its quality kept and cost on prompts it did not see (nested cross-validation)."""
    if (data is None) == (from_run is None):
        raise _fail("give either --from-run RUN or --data CSV")
    if mode not in ("route", "verify"):
        raise _fail("--mode must be route or verify")
    if from_run is not None and mode != "route":
        raise _fail("--from-run trains a route; --mode verify takes outcome CSVs with the cheap answers")
    if not 0 < target_quality <= 1:
        raise _fail("--target-quality must be in (0, 1]")
    paths = [*(data or []), *(more or [])]
    for path in paths:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
    options = FitOptions(margin_z=margin_z)
    encoder = LocalEncoder(cache_dir=embedding_cache)
    try:
        if from_run is not None:
            candidates = [m.strip() for m in (models or "").split(",") if m.strip()] or None
            store = _open_store(config)
            try:
                run = find_run(store, from_run)
                outcomes = outcomes_from_run(store, run, run_set(run, eval_set), candidates)
            finally:
                store.close()
        elif mode == "route":  # the two-model router is the N = 2 case
            table = read_outcomes(paths, cheap, premium)
            outcomes = Outcomes.from_table(table, cheap, premium, BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE)
        else:
            verifier = RouterModel.fit(
                read_outcomes(paths, cheap, premium),
                mode="verify",
                cheap_model=cheap,
                premium_model=premium,
                encoder=encoder,
                options=options,
                target_quality=target_quality,
            )
            _echo_verifier(verifier, out)
            return
        router = NRouter.fit(outcomes, target_quality=target_quality, encoder=encoder, options=options)
    except (RouterDataError, ConfigError) as exc:
        raise _fail(exc.message) from None
    _echo_nrouter(router, out)


def _echo_verifier(model: RouterModel, out: Path) -> None:
    folder = model.save(out)
    training = model.meta["training"]
    typer.echo(f"trained on {training['rows']} prompts ({model.mode} mode, answers read: {model.uses_answers})")
    typer.echo(f"held-back log-loss {min(training['held_back_log_loss'].values()):.4f} at C={training['c']}")
    for target in (0.9, 0.95, 0.99):
        typer.echo(f"threshold for target quality {target:.2f}: {_threshold_text(model.threshold(target))}")
    typer.echo(f"calibrated with {_margin_text(training)}")
    if model.held_out is not None:
        typer.echo(f"held-out estimate: {model.held_out.summary()}")
    typer.echo(f"saved {folder}")


def _margin_text(training: dict[str, Any]) -> str:
    m = training["holdout"] or training["rows"]
    z = training["margin_z"]
    if z is not None:
        return f"fixed margin of {z:g} standard errors, for a new sample of {m:g} prompts"
    level = NormalDist().cdf(training["confidence_z"])
    return f"{level:.0%} lower bound for a new sample of {m:g} prompts, bootstrap band over the path"


def _lambda_text(value: float) -> str:
    if value == ALWAYS_BEST:
        return "always the reference"
    if value == ALWAYS_CHEAPEST:
        return "always the cheapest"
    return f"lambda {value:.4g}"


def _echo_nrouter(model: NRouter, out: Path) -> None:
    folder = model.save(out)
    training = model.meta["training"]
    dropped = training["dropped"]
    left_out = f" ({dropped} item{'s' * (dropped != 1)} left out: a candidate has no score)" if dropped else ""
    typer.echo(f"trained on {training['rows']} prompts over {len(model.names)} candidates{left_out}")
    width = max(len(n) for n in (*model.names, "candidate"))
    typer.echo(f"  {'candidate':<{width}}  quality  cost/call  USD/1M in, out  held-back log-loss")
    for c in model.meta["candidates"]:
        mark = "  (reference)" if c["name"] == model.reference else ""
        price = f"{c['price']['input']:.4g}, {c['price']['output']:.4g}"
        typer.echo(
            f"  {c['name']:<{width}}  {c['quality']:.3f}    {c['mean_cost']:.3g}  {price:>14}  "
            f"{c['held_back_log_loss']:.4f}{mark}"
        )
    typer.echo(
        f"calibrated: {_lambda_text(model.lam(model.target_quality))} at target {model.target_quality:.2f} "
        f"({_margin_text(training)})"
    )
    if model.held_out is not None:
        shares = ", ".join(f"{n} {v:.0%}" for n, v in model.held_out.choices.items())
        typer.echo(f"held-out estimate: {model.held_out.summary()}")
        typer.echo(f"  routed: {shares}")
    typer.echo(f"saved {folder}")


@app.command()
def explain(
    prompt: Annotated[str, typer.Argument(help="the prompt to route")],
    artifact: ArtifactOpt = DEFAULT_ARTIFACT_DIR,
    target_quality: Annotated[float, typer.Option(help="share of the best model's quality to keep")] = 0.95,
    answer: Annotated[str | None, typer.Option(help="the cheap model's answer (verify-mode artifacts)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Print the router's predictions for a prompt, its threshold (or exchange rate) and the choice."""
    try:
        model = load_router(artifact)
        if isinstance(model, NRouter):
            pick = model.explain(prompt, target_quality)
        else:
            if model.uses_answers and answer is None:
                raise _fail("this artifact is a cascade verifier that reads the cheap answer: pass --answer")
            d = model.explain(prompt, target_quality, answer=answer)
    except RouterDataError as exc:
        raise _fail(exc.message) from None
    if isinstance(model, NRouter):
        if as_json:
            raw = {**asdict(pick), "lam": _json_float(pick.lam), "version": model.meta["version"]}
            typer.echo(json.dumps(raw))
            return
        typer.echo(f"artifact  {resolve(artifact)} ({len(model.names)} candidates, reference {model.reference})")
        width = max(len(n) for n in (*model.names, "candidate"))
        typer.echo(f"  {'candidate':<{width}}  P(correct)  predicted cost  utility")
        for name in pick.order:
            typer.echo(f"  {name:<{width}}  {pick.p[name]:10.3f}  ${pick.cost[name]:13.6f}  {pick.utility[name]:+.4f}")
        typer.echo(f"rule      highest P(correct) - lambda x cost / reference's mean cost; {_lambda_text(pick.lam)}")
        typer.echo(f"choice    {pick.choice} (target quality {target_quality:.2f})")
        return
    cheap, premium = model.meta["cheap_model"], model.meta["premium_model"]
    choice = premium if d.premium else cheap
    if as_json:
        typer.echo(json.dumps({**asdict(d), "choice": choice, "version": model.meta["version"]}))
        return
    typer.echo(f"artifact          {resolve(artifact)} ({model.mode} mode)")
    typer.echo(f"P(cheap as good)  {d.p_as_good:.3f}")
    typer.echo(f"expected loss     {d.expected_loss:+.4f}  (P(premium only right) - P(cheap only right))")
    typer.echo(f"saving if cheap   ${d.savings_usd:.6f}  ({d.relative_savings:.2f}x the average prompt)")
    typer.echo(f"score             {d.score:+.4f}  (expected loss per relative saving)")
    typer.echo(f"threshold         {_threshold_text(d.threshold)}  (target quality {target_quality:.2f})")
    verb = "escalate to" if model.mode == "verify" and d.premium else "choose"
    typer.echo(f"choice            {verb} {choice}")


def _json_float(value: float) -> float | str:
    return value if value not in (ALWAYS_BEST, ALWAYS_CHEAPEST) else ("inf" if value > 0 else "-inf")


@app.command("versions")
def list_versions(artifact: ArtifactOpt = DEFAULT_ARTIFACT_DIR) -> None:
    """List the saved artifact versions; the current one is marked."""
    current = (artifact / "CURRENT").read_text().strip() if (artifact / "CURRENT").is_file() else ""
    names = versions(artifact)
    if not names:
        raise _fail(f"no router artifacts in {artifact}")
    for name in names:
        typer.echo(f"{'*' if name == current else ' '} {name}")
