"""``switchyard router``: train the quality/cost router offline and ask it about a prompt."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer

from .artifact import resolve, versions
from .calibration import ALWAYS_CHEAP, ALWAYS_PREMIUM
from .data import DEFAULT_CHEAP, DEFAULT_PREMIUM, RouterDataError, read_outcomes
from .features import LocalEncoder
from .model import FitOptions, RouterModel

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


@app.command()
def fit(
    data: Annotated[list[Path], typer.Option("--data", help="outcome CSV (more may follow as arguments)")],
    more: Annotated[list[Path] | None, typer.Argument(help="further outcome CSVs", show_default=False)] = None,
    out: Annotated[
        Path, typer.Option("--out", help="artifact directory; a new version is added")
    ] = DEFAULT_ARTIFACT_DIR,
    cheap: Annotated[str, typer.Option(help="column of the cheap model")] = DEFAULT_CHEAP,
    premium: Annotated[str, typer.Option(help="column of the premium model")] = DEFAULT_PREMIUM,
    mode: Annotated[
        str, typer.Option(help="route: decide from the prompt; verify: the cascade's verifier of cheap answers")
    ] = "route",
    margin_z: Annotated[float, typer.Option(help="calibration margin, in standard errors")] = 1.0,
    embedding_cache: Annotated[Path | None, typer.Option(help="keep prompt embeddings in this directory")] = None,
) -> None:
    """Train a router on per-prompt outcomes; calibrate its thresholds on held-back folds."""
    if mode not in ("route", "verify"):
        raise _fail("--mode must be route or verify")
    paths = [*data, *(more or [])]
    for path in paths:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
    try:
        table = read_outcomes(paths, cheap, premium)
        chosen: Literal["route", "verify"] = "route" if mode == "route" else "verify"
        model = RouterModel.fit(
            table,
            mode=chosen,
            cheap_model=cheap,
            premium_model=premium,
            encoder=LocalEncoder(cache_dir=embedding_cache),
            options=FitOptions(margin_z=margin_z),
        )
    except RouterDataError as exc:
        raise _fail(exc.message) from None
    folder = model.save(out)
    training = model.meta["training"]
    typer.echo(f"trained on {training['rows']} prompts ({model.mode} mode, answers read: {model.uses_answers})")
    typer.echo(f"held-back log-loss {min(training['held_back_log_loss'].values()):.4f} at C={training['c']}")
    for target in (0.9, 0.95, 0.99):
        typer.echo(f"threshold for target quality {target:.2f}: {_threshold_text(model.threshold(target))}")
    typer.echo(f"saved {folder}")


@app.command()
def explain(
    prompt: Annotated[str, typer.Argument(help="the prompt to route")],
    artifact: ArtifactOpt = DEFAULT_ARTIFACT_DIR,
    target_quality: Annotated[float, typer.Option(help="share of premium quality to keep")] = 0.95,
    answer: Annotated[str | None, typer.Option(help="the cheap model's answer (verify-mode artifacts)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Print the router's prediction for a prompt, the threshold and the choice."""
    try:
        model = RouterModel.load(artifact)
        if model.uses_answers and answer is None:
            raise _fail("this artifact is a cascade verifier that reads the cheap answer: pass --answer")
        d = model.explain(prompt, target_quality, answer=answer)
    except RouterDataError as exc:
        raise _fail(exc.message) from None
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


@app.command("versions")
def list_versions(artifact: ArtifactOpt = DEFAULT_ARTIFACT_DIR) -> None:
    """List the saved artifact versions; the current one is marked."""
    current = (artifact / "CURRENT").read_text().strip() if (artifact / "CURRENT").is_file() else ""
    names = versions(artifact)
    if not names:
        raise _fail(f"no router artifacts in {artifact}")
    for name in names:
        typer.echo(f"{'*' if name == current else ' '} {name}")
