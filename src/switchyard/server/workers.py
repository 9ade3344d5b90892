"""``switchyard serve --workers N``: N worker processes on one port, each a full gateway.

The parent (uvicorn's process supervisor) binds the socket and starts N workers with the ``spawn`` start
method; each imports :func:`worker_app` and serves the inherited socket, so the kernel spreads the
connections over them. The parent forwards SIGTERM / SIGINT to the workers and waits for them: each one
finishes its requests in flight, then writes its queued ledger records (the lifespan's ``Gateway.aclose``).
A worker that dies is logged by the parent ("Child process [pid] died") and replaced; one that fails
before it serves stops the whole server. SIGHUP replaces the workers one by one, SIGTTIN / SIGTTOU add or
remove one.

What the workers share, so the machine behaves as one gateway:

- the store (SQLite in WAL mode, each write one ``BEGIN IMMEDIATE`` transaction waiting up to 30 s for
  the lock; or PostgreSQL) — the ledger, keys, stored responses, RAG collections;
- budgets and rate limits only through Redis (``server.redis_url``): per-process counters would let each
  worker spend the whole budget, so :func:`refusal` refuses that set-up;
- /metrics: the machine's totals (``observability/shared_metrics.py``), through a directory the parent
  creates and removes;
- dashboard sessions: one signing secret (``SWITCHYARD_DASHBOARD_SECRET``, else a random one the parent
  hands to every worker).

Each worker keeps its own key cache: a key revoked through one worker is refused there at once and by
the others within ``Authenticator.cache_seconds`` (1 s). The failed-authentication limiter is per worker
too (a guessing address gets up to N times ``auth_failures_per_minute``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from ..config import GatewayConfig, ServerOptions, Settings, load_config

# Set by the parent for its workers (not a setting: nobody else has a reason to set it).
METRICS_DIR_ENV = "SWITCHYARD_WORKERS_METRICS_DIR"
APP_FACTORY = "switchyard.server.workers:worker_app"


def refusal(options: ServerOptions, config: GatewayConfig) -> str | None:
    """Why this set-up may not run with ``options.workers`` processes, or None when it may."""
    if options.workers <= 1 or options.redis_url or not config.budgets:
        return None
    scopes = ", ".join(b.scope for b in config.budgets)
    return (
        f"serve --workers {options.workers}: the config has budgets or rate limits ({scopes}), and without "
        "Redis each worker would count them on its own (up to N times the limit). Set server.redis_url "
        "(or SWITCHYARD_REDIS_URL, e.g. redis://127.0.0.1:6379/0) to share the counters, or run one worker "
        "(--workers 1, SWITCHYARD_WORKERS / server.workers)."
    )


def worker_app() -> Starlette:
    """One worker's app (uvicorn calls this factory in each worker): the settings and the config from the
    environment the parent prepared."""
    from .app import create_app

    settings = Settings()
    config = load_config(settings.config)
    shared = os.environ.get(METRICS_DIR_ENV)
    return create_app(settings, config, shared_metrics=Path(shared) if shared else None)


def run_workers(settings: Settings, options: ServerOptions, **uvicorn_options: Any) -> None:
    """Serve with ``options.workers`` processes until SIGTERM / SIGINT; the caller checked :func:`refusal`."""
    import uvicorn

    # The workers read their settings from the environment: everything the command line gave, and one
    # dashboard secret for all of them (else a session signed by one worker is refused by the others).
    if settings.config is not None:
        os.environ["SWITCHYARD_CONFIG"] = str(settings.config.resolve())
    if not settings.dashboard_secret:
        os.environ["SWITCHYARD_DASHBOARD_SECRET"] = secrets.token_urlsafe(32)
    directory = Path(tempfile.mkdtemp(prefix="switchyard-workers-"))
    os.environ[METRICS_DIR_ENV] = str(directory)
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            **uvicorn_options,
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
