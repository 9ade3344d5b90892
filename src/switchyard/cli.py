"""The ``switchyard`` command: a thin layer over the library."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .config import Settings, load_config, server_options
from .economics.report_cli import report
from .economics.tco_cli import tco
from .errors import ConfigError
from .eval_cli import app as eval_app
from .keys import create_key
from .rag.cli import app as rag_app
from .router_cli import app as router_app
from .store.open import Store, open_store

app = typer.Typer(help="switchyard: an OpenAI- and Anthropic-compatible LLM gateway.", no_args_is_help=True)
config_app = typer.Typer(help="Validate configuration.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (stored hashed; a new key is shown once).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(router_app, name="router")
app.command()(tco)
app.command()(report)
app.add_typer(rag_app, name="rag")
app.add_typer(eval_app, name="eval")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded models)")]


def _store(config_path: Path | None = None) -> Store:
    settings = Settings()
    cfg = load_config(config_path or settings.config)
    return open_store(server_options(settings, cfg))


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8080)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="worker processes on the one port, each a full gateway (default 1; see the README)"
        ),
    ] = None,
) -> None:
    """Start the gateway."""
    import uvicorn

    from .server.app import create_app
    from .server.workers import refusal, run_workers

    given = {"config": config, "host": host, "port": port, "workers": workers}
    overrides = {k: v for k, v in given.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        cfg = load_config(settings.config)
    except ConfigError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    options = server_options(settings, cfg)
    uvicorn_options: dict[str, Any] = {
        "log_level": settings.log_level,
        "access_log": False,
        "proxy_headers": False,  # switchyard does not use the client address; skip the middleware
        "timeout_graceful_shutdown": 30,
        "limit_concurrency": settings.max_connections,  # past it uvicorn answers 503 at once
        "timeout_keep_alive": 5,
    }
    if options.workers > 1:
        why = refusal(options, cfg)
        if why is not None:
            typer.echo(why, err=True)
            raise typer.Exit(2)
        run_workers(settings, options, **uvicorn_options)
        return
    uvicorn.run(create_app(settings, cfg), host=options.host, port=options.port, **uvicorn_options)


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="the YAML file to check")]) -> None:
    """Validate a config file: prints what is wrong, with the field path, or a summary."""
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: OK ({len(cfg.models)} models, {len(cfg.routes)} routes)")


@keys_app.command("create")
def keys_create(
    team: Annotated[str, typer.Option(help="the team the key bills to")],
    name: Annotated[str, typer.Option(help="a label for the key")] = "",
    role: Annotated[list[str] | None, typer.Option(help="role(s), e.g. admin")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create an API key. The secret is printed once and never stored."""
    store = _store(config)
    record, secret = create_key(store, team, name=name, roles=tuple(role or ()))
    store.close()
    typer.echo(f"id:     {record.id}\nteam:   {record.team}\nsecret: {secret}")
    typer.echo("Store the secret now: switchyard keeps only its hash.", err=True)


@keys_app.command("list")
def keys_list(config: ConfigOpt = None) -> None:
    """List keys (ids, teams, prefixes; never secrets)."""
    store = _store(config)
    table = Table("id", "team", "name", "prefix", "roles", "created", "revoked")
    for column in table.columns:
        column.overflow = "fold"
    for k in store.list_keys():
        created = datetime.fromtimestamp(k.created, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(k.id, k.team, k.name, k.prefix + "...", ",".join(k.roles), created, "yes" if k.revoked else "")
    store.close()
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOpt = None) -> None:
    """Revoke a key by id."""
    store = _store(config)
    ok = store.revoke_key(key_id)
    store.close()
    if not ok:
        typer.echo(f"no active key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def _parse_since(value: str | None) -> float | None:
    if value is None:
        return None
    units = {"d": 86400, "h": 3600, "m": 60}
    if value[:-1].isdigit() and value[-1] in units:
        return time.time() - int(value[:-1]) * units[value[-1]]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use a date (2026-11-01), a timestamp, or 7d / 12h / 30m") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@app.command()
def usage(
    since: Annotated[str | None, typer.Option(help="start: a date, an ISO time, or 7d / 12h")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Spend per team, model and day, from the ledger."""
    start = _parse_since(since)
    store = _store(config)
    rows = store.usage(start)
    store.close()
    if as_json:
        typer.echo(json.dumps([_row(r) for r in rows], indent=2))
        return
    table = Table("day", "team", "model", "requests", "errors", "input", "output", "cached", "cost $")
    for column in table.columns:
        column.overflow = "fold"
    for r in rows:
        table.add_row(
            r.day, r.team, r.model, str(r.requests), str(r.errors), str(r.input_tokens), str(r.output_tokens),
            str(r.cached_tokens), f"{r.cost:.6f}",
        )  # fmt: skip
    total = sum(r.cost for r in rows)
    Console().print(table)
    typer.echo(f"total: {sum(r.requests for r in rows)} requests, ${total:.6f}")


def _row(r: object) -> dict[str, object]:
    return {k: getattr(r, k) for k in r.__slots__}  # type: ignore[attr-defined]


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(exc.message, err=True)
        sys.exit(2)
