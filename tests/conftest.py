"""Shared fixtures: a real gateway served by uvicorn on 127.0.0.1, in front of real loopback upstreams."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from switchyard.config import GatewayConfig, Settings
from switchyard.gateway import Gateway
from switchyard.policies.residency import Classifier
from switchyard.server.app import create_app
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import MockUpstream

ADMIN_KEY = "sy-admin-test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningGateway:
    url: str
    gateway: Gateway
    db_path: Path
    server: uvicorn.Server

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def ledger(self) -> SQLiteStore:
        """A second connection to the ledger, for assertions (after ``flush``)."""
        return SQLiteStore(self.db_path)

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
    port = free_port()
    s = Settings(db_path=db_path, admin_key=ADMIN_KEY, ledger_flush_interval=0.05, **settings)
    gw = Gateway(s, config, environ=environ or {}, classify=classify, clock=clock)
    server = uvicorn.Server(uvicorn.Config(create_app(gateway=gw), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("gateway did not start")
        time.sleep(0.01)
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", gw, db_path, server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


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


def need_binary(path: str, what: str) -> str:
    """A system program a test needs: skip without it on a workstation, fail in CI (which installs it)."""
    found = shutil.which(path)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} ({path}) is not installed; .ci/run should install it")
        pytest.skip(f"{what} ({path}) is not installed")
    return found


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
