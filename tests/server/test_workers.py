"""``switchyard serve --workers N``: real worker processes on one port, started as an operator would.

What is checked: budgets without Redis are refused; /metrics reports the machine's totals (equal to the
ledger) whichever worker answers; a key revoked through one worker is refused by the other within the key
cache's bound; SIGTERM under load loses no acknowledged request, even with unwritten records in both
workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.config import GatewayConfig, ServerOptions
from switchyard.server.workers import refusal
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY, free_port

SRC = Path(__file__).resolve().parents[2] / "src"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def model_config(upstream: MockUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "m",
                "provider": "openai",
                "base_url": upstream.url + "/v1",
                "upstream_model": "mock-model",
                "locality": "us",
                "price": {"input": 1, "output": 1},
            }
        ],
        **extra,
    }


@dataclass
class Workers:
    proc: subprocess.Popen[bytes]
    url: str
    db: Path
    tmp: Path  # the workers' TMPDIR: their shared metrics directory is made in it

    def snapshots(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in self.tmp.glob("switchyard-workers-*/*.metrics.json")]

    def stderr(self) -> str:
        return self.proc.stderr.read().decode()[-2000:] if self.proc.stderr and self.proc.poll() is not None else ""


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This checkout's sources, no inherited switchyard settings or proxies, a private TMPDIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_") and "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(TMPDIR=str(tmp), NO_PROXY="127.0.0.1", SWITCHYARD_ADMIN_KEY=ADMIN_KEY, **extra)
    return env


@contextmanager
def serve_workers(tmp_path: Path, cfg: dict[str, Any], workers: int = 2, **env: str) -> Iterator[Workers]:
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    db = tmp_path / "ledger.db"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "switchyard", "serve", "--config", str(cfg_path), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=child_env(tmp, SWITCHYARD_DB_PATH=str(db), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    running = Workers(proc, f"http://127.0.0.1:{port}", db, tmp)
    try:
        deadline = time.monotonic() + 60
        while len(running.snapshots()) < workers:  # every worker has started (and written its snapshot)
            assert time.monotonic() < deadline and proc.poll() is None, f"workers did not start: {running.stderr()}"
            time.sleep(0.1)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chat(url: str, i: int, key: str = ADMIN_KEY, client: httpx.Client | None = None) -> int:
    """One request on a fresh connection (the kernel picks the worker), or on ``client``'s."""
    body = {"model": "m", "messages": [{"role": "user", "content": f"req {i}"}], "stream": i % 2 == 0}
    try:
        post = client.post if client is not None else httpx.post
        return post(
            url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
        ).status_code
    except httpx.TransportError:
        return 0


def pinned_clients(url: str, workers: int) -> dict[int, httpx.Client]:
    """One keep-alive client per worker: new connections until every worker has answered one."""
    found: dict[int, httpx.Client] = {}
    for _ in range(400):
        client = httpx.Client(base_url=url, limits=httpx.Limits(max_connections=1), timeout=10)
        pid = client.get("/readyz").json()["worker"]
        if pid in found:
            client.close()
            continue
        found[pid] = client
        if len(found) == workers:
            return found
    for client in found.values():
        client.close()
    raise AssertionError(f"connections reached only workers {sorted(found)}")


def requests_total(exposition: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "switchyard_requests"
        for s in family.samples
        if s.name == "switchyard_requests_total"
    )


# --- refusing what cannot be exact ------------------------------------------------------------------------
BUDGETS = [{"team": "a", "requests_per_minute": 10}]


def test_refusal_names_the_settings() -> None:
    cfg = GatewayConfig.model_validate({"budgets": BUDGETS})
    options = ServerOptions(host="127.0.0.1", port=1, db_path="x", max_body_bytes=1, workers=2)
    why = refusal(options, cfg)
    assert why is not None and "server.redis_url" in why and "SWITCHYARD_REDIS_URL" in why and "team:a" in why
    assert refusal(ServerOptions(**{**options.__dict__, "redis_url": "redis://127.0.0.1:1/0"}), cfg) is None
    assert refusal(ServerOptions(**{**options.__dict__, "workers": 1}), cfg) is None
    assert refusal(options, GatewayConfig()) is None


@pytest.mark.parametrize("how", ["option", "env", "file"])
def test_serve_refuses_budgets_without_redis(tmp_path: Path, how: str) -> None:
    cfg: dict[str, Any] = {"budgets": BUDGETS}
    args, env = ["serve", "--config", str(tmp_path / "cfg.yaml")], {"SWITCHYARD_REDIS_URL": None}
    if how == "option":
        args += ["--workers", "3"]
    elif how == "env":
        env["SWITCHYARD_WORKERS"] = "3"
    else:
        cfg["server"] = {"workers": 3}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = CliRunner().invoke(app, args, env=env)
    assert out.exit_code == 2, out.output
    assert "serve --workers 3" in out.output and "server.redis_url" in out.output


# --- the machine as one gateway ---------------------------------------------------------------------------
def test_metrics_report_the_machines_totals(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        env = {"SWITCHYARD_METRICS_PUBLIC": "true", "SWITCHYARD_LEDGER_FLUSH_INTERVAL": "0.05"}
        with serve_workers(tmp_path, model_config(upstream), **env) as w:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda i: chat(w.url, i), range(80)))
            assert statuses.count(200) == 80, statuses
            time.sleep(1.5)  # every worker has written a snapshot since (interval: 1 s)
            per_worker = {s["pid"]: requests_total_of(s) for s in w.snapshots()}
            assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
            assert sum(per_worker.values()) == 80
            rows = len(SQLiteStore(w.db).recent(1000))
            assert rows == 80
            answered_by = set()
            for client in pinned_clients(w.url, 2).values():  # a scrape answered by each worker
                with closing(client):
                    answered_by.add(client.get("/readyz").json()["worker"])
                    assert requests_total(client.get("/metrics").text) == rows
            assert answered_by == set(per_worker)


def requests_total_of(snapshot: dict[str, Any], family_name: str = "switchyard_requests") -> float:
    return sum(
        value
        for family in snapshot["families"]
        if family["name"] == family_name
        for name, _, value in family["samples"]
        if name == family_name + "_total"
    )


def test_a_revoked_key_is_refused_by_every_worker_within_the_cache_bound(tmp_path: Path) -> None:
    with MockUpstream() as upstream, serve_workers(tmp_path, model_config(upstream)) as w:
        created = httpx.post(w.url + "/v1/admin/keys", json={"team": "t"}, headers=ADMIN, timeout=10)
        assert created.status_code == 201, created.text
        key, key_id = created.json()["secret"], created.json()["id"]
        (a, via_a), (b, via_b) = pinned_clients(w.url, 2).items()
        with closing(via_a), closing(via_b):
            assert chat(w.url, 1, key, via_a) == 200 and chat(w.url, 1, key, via_b) == 200  # cached in both
            assert via_a.delete(f"/v1/admin/keys/{key_id}", headers=ADMIN).status_code == 200
            revoked = time.monotonic()
            assert chat(w.url, 2, key, via_a) == 401  # the worker that revoked it: at once
            while chat(w.url, 3, key, via_b) != 401:  # the other: once its cached look-up is 1 s old
                assert time.monotonic() - revoked < 1.0 + 2.0, "the other worker still honours the key"
                time.sleep(0.05)
            assert via_b.get("/readyz").json()["worker"] == b != a


def test_sigterm_under_load_loses_no_acknowledged_request(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        env = {"SWITCHYARD_LEDGER_FLUSH_INTERVAL": "60"}  # nothing is written before shutdown
        with serve_workers(tmp_path, model_config(upstream), **env) as w:
            with ThreadPoolExecutor(8) as pool:  # a first wave, answered: unwritten records in both workers
                first = list(pool.map(lambda i: chat(w.url, i), range(40)))
            assert first.count(200) == 40, first
            time.sleep(1.5)
            backlogs = {s["pid"]: s["backlog"] for s in w.snapshots()}
            assert len(backlogs) == 2 and all(n > 0 for n in backlogs.values()), backlogs
            upstream.set_default(Fault.slow(0.5))
            with ThreadPoolExecutor(30) as pool:  # a second wave in flight when the parent gets SIGTERM
                futures = [pool.submit(chat, w.url, i) for i in range(40, 70)]
                deadline = time.monotonic() + 15
                while len(upstream.requests) < 40 + 20 and time.monotonic() < deadline:
                    time.sleep(0.01)
                w.proc.send_signal(signal.SIGTERM)
                second = [f.result() for f in futures]
            assert w.proc.wait(timeout=60) == 0, w.stderr()
    acknowledged = first.count(200) + second.count(200)
    assert second.count(200) >= 20, second
    rows = SQLiteStore(w.db).recent(1000)
    assert len([r for r in rows if r.status == 200]) == acknowledged, w.stderr()


def test_budgets_on_redis_are_exact_across_workers(tmp_path: Path, redis_url: str) -> None:
    budgets = [{"team": "t", "requests_per_minute": 12}]
    # 10 s: the Redis timeout also covers event-loop lag, which a loaded 2-core machine can push past 2 s
    env = {"SWITCHYARD_REDIS_URL": redis_url, "SWITCHYARD_METRICS_PUBLIC": "true", "SWITCHYARD_REDIS_TIMEOUT": "10"}
    with MockUpstream() as upstream, serve_workers(tmp_path, model_config(upstream, budgets=budgets), **env) as w:
        created = httpx.post(w.url + "/v1/admin/keys", json={"team": "t"}, headers=ADMIN, timeout=10)
        key = created.json()["secret"]
        if time.time() % 60 > 45:  # the limit is per calendar minute: never straddle two
            time.sleep(60 - time.time() % 60 + 0.5)
        clients = list(pinned_clients(w.url, 2).values())  # both workers take part, whatever the kernel does
        try:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda i: chat(w.url, i, key, clients[i % 2]), range(40)))
        finally:
            for client in clients:
                client.close()
        assert statuses.count(200) == 12 and statuses.count(429) == 28, statuses
        time.sleep(1.5)
        answered = [requests_total_of(s) + requests_total_of(s, "switchyard_http_errors") for s in w.snapshots()]
        assert len(answered) == 2 and all(answered), "one worker answered everything"
        for client in pinned_clients(w.url, 2).values():  # either worker reports the shared use
            with closing(client):
                client.get("/metrics")  # a scrape shows the Redis values its worker's previous scrape read
                time.sleep(0.2)
                families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
                used = {s.labels["limit"]: s.value for s in families["switchyard_budget_used"].samples}
                assert used == {"requests_per_minute": 12}
