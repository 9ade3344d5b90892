"""The targets bench/overhead.py drives, each started against the same mock upstream.

- ``direct``: the mock upstream itself (``python -m switchyard.testing.mock_upstream``), the baseline the
  others' added latency is measured from;
- ``bare``: a bare aiohttp pass-through proxy (``bench/overhead_bare.py``), the CPU baseline;
- ``switchyard``: ``switchyard serve`` with a realistic config (default): a team key (not the admin key,
  so the budget applies), a route with ``policy.residency`` rules (the sensitivity detector reads every
  prompt) and a team budget far above what a run spends but checked and settled on every request; or
  ``--gateway-config thin``: the admin key, a direct model, no rules, no budget (the earlier figures);
- ``litellm``: the LiteLLM proxy (``litellm[proxy]`` pinned, installed into its own venv under the cache
  dir and reused), the mock as an OpenAI-compatible model, ``LITELLM_LOCAL_MODEL_COST_MAP=True``, a
  non-default master key, one worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from overhead_loadgen import Endpoint
from overhead_procs import HOST, child_env, free_port, started, stop, switchyard_command, tail, wait_ready

UPSTREAM_MODEL = "mock-model"
MODEL = "bench-model"
ROUTE = "bench-route"
TEAM = "bench"
ADMIN_KEY = "sy-bench-admin-key-0123456789abcdef"
LITELLM_VERSION = "1.108.7"
LITELLM_MASTER_KEY = "sk-bench-litellm-master-0123456789abcdef"
BARE_SCRIPT = Path(__file__).resolve().parent / "overhead_bare.py"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "switchyard-bench"
LITELLM_START_TIMEOUT = 180.0  # its first start imports a great deal


@dataclass(frozen=True)
class Target:
    """One process tree answering chat completions: ``pid`` is the root whose CPU and memory are read."""

    name: str
    endpoint: Endpoint
    pid: int


@dataclass(frozen=True)
class Gateway:
    """The switchyard target and what its ledger check needs after the run."""

    target: Target
    proc: subprocess.Popen[bytes]
    db: Path


# --- the mock upstream and the bare proxy --------------------------------------------------------------


@contextlib.contextmanager
def mock_upstream(workdir: Path, port: int) -> Iterator[Target]:
    cmd = [sys.executable, "-m", "switchyard.testing.mock_upstream", "--host", HOST, "--port", str(port)]
    log = workdir / "mock_upstream.log"
    with started(cmd, log, child_env()) as proc:
        wait_ready(proc, port, "/v1/models", log)
        yield Target("direct", Endpoint(port, UPSTREAM_MODEL, "unused"), proc.pid)


@contextlib.contextmanager
def bare_proxy(workdir: Path, port: int, upstream_port: int) -> Iterator[Target]:
    cmd = [sys.executable, str(BARE_SCRIPT), "--host", HOST, "--port", str(port)]
    cmd += ["--upstream", f"http://{HOST}:{upstream_port}"]
    log = workdir / "bare_proxy.log"
    with started(cmd, log, child_env()) as proc:
        wait_ready(proc, port, "/readyz", log)
        yield Target("bare", Endpoint(port, UPSTREAM_MODEL, "unused"), proc.pid)


# --- switchyard ---------------------------------------------------------------------------------------------


def model_yaml(upstream_port: int) -> str:
    return f"""models:
  - name: {MODEL}
    provider: openai
    base_url: http://{HOST}:{upstream_port}/v1
    upstream_model: {UPSTREAM_MODEL}
    locality: on_prem
    price: {{input: 0.5, output: 1.5}}
"""


def realistic_yaml(upstream_port: int) -> str:
    """A team, its budget (never reached in a run, checked on every request) and a route whose residency
    rules make the detector scan every prompt; the team may call the route only."""
    return (
        model_yaml(upstream_port)
        + f"""routes:
  - name: {ROUTE}
    models: [{MODEL}]
    policy:
      residency:
        health: [on_prem]
        pii: [on_prem]
        financial: [on_prem]
        secret: [on_prem]
budgets:
  - {{team: {TEAM}, usd_per_day: 1000000, usd_per_month: 10000000, requests_per_minute: 10000000,
     tokens_per_minute: 10000000000}}
access:
  teams:
    - name: {TEAM}
      routes: [{ROUTE}]
      models: [{MODEL}]
"""
    )


def create_team_key(config: Path, env: dict[str, str], workdir: Path) -> str:
    """``switchyard keys create`` into the gateway's ledger DB before it starts; returns the secret."""
    cmd = [*switchyard_command(), "keys", "create", "--team", TEAM, "--name", "overhead-bench", "--config", str(config)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=workdir, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("secret:"):
            return line.partition(":")[2].strip()
    raise RuntimeError(f"switchyard keys create failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway Redis for the budget counters that ``serve --workers N`` (N > 1) requires."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("--workers > 1 with budgets needs Redis: install redis-server (apt-get install redis)")
    port = free_port()
    cmd = [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no"]
    log = workdir / "redis.log"
    with started(cmd, log, child_env()) as proc:
        wait_redis(port, proc, log)
        yield f"redis://{HOST}:{port}/0"


def wait_redis(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"redis-server not ready on port {port}:\n{tail(log)}")


@contextlib.contextmanager
def switchyard_gateway(workdir: Path, port: int, upstream_port: int, kind: str, workers: int) -> Iterator[Gateway]:
    db = workdir / "ledger.db"
    config = workdir / "switchyard.yaml"
    realistic = kind == "realistic"
    config.write_text(realistic_yaml(upstream_port) if realistic else model_yaml(upstream_port))
    env = child_env(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_DB_PATH=str(db), SWITCHYARD_LOG_LEVEL="warning")
    key = create_team_key(config, env, workdir) if realistic else ADMIN_KEY
    endpoint = Endpoint(port, ROUTE if realistic else MODEL, key)
    cmd = [*switchyard_command(), "serve", "--config", str(config), "--host", HOST, "--port", str(port)]
    cmd += ["--workers", str(workers)]
    with contextlib.ExitStack() as stack:
        if realistic and workers > 1:
            env["SWITCHYARD_REDIS_URL"] = stack.enter_context(redis_server(workdir))
        log = workdir / "gateway.log"
        proc = stack.enter_context(started(cmd, log, env))
        wait_ready(proc, port, "/readyz", log)
        yield Gateway(Target("switchyard", endpoint, proc.pid), proc, db)


def ledger_rows(db: Path) -> int | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    finally:
        conn.close()


# --- LiteLLM ----------------------------------------------------------------------------------------------


def litellm_venv(cache: Path) -> Path:
    """The ``litellm`` console script of a venv holding ``litellm[proxy]==LITELLM_VERSION``, created
    under ``cache`` on first use and reused; a clear error when it cannot be installed (no network)."""
    venv = cache / f"litellm-{LITELLM_VERSION}-venv"
    script = venv / "bin" / "litellm"
    marker = venv / ".installed"
    if script.exists() and marker.exists():
        return script
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "litellm-install.log"
    with log.open("wb") as out:
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, env=pip_env(), check=False).returncode:
                raise RuntimeError(
                    f"could not install litellm[proxy]=={LITELLM_VERSION} into {venv} (no package index reachable?); "
                    f"see {log}:\n{tail(log)}\nrun with --peer none to leave LiteLLM out"
                )
    marker.write_text(LITELLM_VERSION)
    return script


def pip_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def litellm_yaml(upstream_port: int) -> str:
    return f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{UPSTREAM_MODEL}
      api_base: http://{HOST}:{upstream_port}/v1
      api_key: mock-upstream-key
general_settings:
  master_key: {LITELLM_MASTER_KEY}
litellm_settings:
  telemetry: false
"""


def litellm_env() -> dict[str, str]:
    env = child_env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False")
    env.pop("PYTHONPATH", None)  # switchyard's src has no business in LiteLLM's interpreter
    env.pop("VIRTUAL_ENV", None)
    return env


@contextlib.contextmanager
def litellm_proxy(workdir: Path, port: int, upstream_port: int, cache: Path) -> Iterator[Target]:
    script = litellm_venv(cache)
    config = workdir / "litellm.yaml"
    config.write_text(litellm_yaml(upstream_port))
    cmd = [str(script), "--config", str(config), "--host", HOST, "--port", str(port), "--num_workers", "1"]
    log = workdir / "litellm.log"
    with started(cmd, log, litellm_env()) as proc:
        wait_ready(proc, port, "/health/liveliness", log, timeout=LITELLM_START_TIMEOUT)
        yield Target("litellm", Endpoint(port, MODEL, LITELLM_MASTER_KEY), proc.pid)


__all__ = [
    "DEFAULT_CACHE",
    "LITELLM_VERSION",
    "Gateway",
    "Target",
    "bare_proxy",
    "ledger_rows",
    "litellm_proxy",
    "mock_upstream",
    "stop",
    "switchyard_gateway",
]
