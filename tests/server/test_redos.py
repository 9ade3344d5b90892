"""The ReDoS exploit against a real server: crafted chats must not stall the gateway for everyone.

A gateway with residency rules (so the shipped detector reads every request) is served by uvicorn on
127.0.0.1 in a child process -- a regex that holds the GIL for minutes freezes that process, not this
one, so the test can see the stall and fail instead of freezing with it. One client posts the crafted
families of bench/adversarial.py (the "a." * n + "://" of the finding at ~1 MB, every other family at
256 KB, and one text over the scan limit) while a second keeps asking small questions; every small one
must be answered within LIVENESS seconds (a liveness bound, not a benchmark), every crafted one answered
or refused. Before the detectors were made linear the first crafted request held the GIL for minutes.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from switchyard.config import GatewayConfig, RouteConfig, RoutePolicy
from switchyard.sensitivity.detector import MAX_SCAN_CHARS
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY, free_port
from tests.server.configs import openai_model

BENCH = Path(__file__).resolve().parents[2] / "bench" / "adversarial.py"
LIVENESS = 2.0  # seconds a small request may take while the crafted ones are read
RULES = {"secret": ["on_prem"], "health": ["on_prem"], "financial": ["on_prem"], "pii": ["on_prem", "us"]}
ON_PREM = {c: ["on_prem"] for c in RULES}
SERVER = """
import sys
from pathlib import Path

import uvicorn

from switchyard.config import GatewayConfig, Settings
from switchyard.gateway import Gateway
from switchyard.server.app import create_app

config_path, db_path, admin_key, port = sys.argv[1:5]
config = GatewayConfig.model_validate_json(Path(config_path).read_text())
gateway = Gateway(Settings(db_path=Path(db_path), admin_key=admin_key), config, environ={})
uvicorn.run(create_app(gateway=gateway), host="127.0.0.1", port=int(port), log_level="warning")
"""


def families() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("adversarial_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FAMILIES)


@contextmanager
def gateway_process(config: GatewayConfig, workdir: Path) -> Iterator[str]:
    """The gateway served by uvicorn in a child process (same interpreter and PYTHONPATH)."""
    (workdir / "config.json").write_text(config.model_dump_json())
    port = free_port()
    args = [str(workdir / "config.json"), str(workdir / "ledger.db"), ADMIN_KEY, str(port)]
    with (workdir / "server.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError("the gateway exited: " + (workdir / "server.log").read_text()[-2000:])
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the gateway did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=30)


def chat(client: httpx.Client, model: str, text: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", json=body)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, MockUpstream, MockUpstream]]:
    with MockUpstream() as onprem, MockUpstream() as external:
        config = GatewayConfig(
            models=[
                openai_model("external", external.url),
                openai_model("local", onprem.url, locality="on_prem"),
            ],
            routes=[
                RouteConfig(name="auto", models=["external", "local"], policy=RoutePolicy(residency=RULES)),
                RouteConfig(name="cloud", models=["external"], policy=RoutePolicy(residency=RULES)),
            ],
        )
        with gateway_process(config, tmp_path) as url:
            yield url, onprem, external


@pytest.mark.timeout(600)
def test_crafted_requests_do_not_stall_the_gateway(gateway: tuple[str, MockUpstream, MockUpstream]) -> None:
    url, _, external = gateway
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        # the detector's word lists load in the background at start-up: wait for a real answer
        first = chat(client, "auto", "Pt admitted to the ICU with chest pain; Dr. Maria Garcia, call 617-555-0142")
        assert first.status_code == 200 and first.headers["x-switchyard-model"] == "local"

    crafted = families()
    attacks = [("url_scheme_dots", 1_000_000)] + [(name, 256 * 1024) for name in sorted(crafted)]
    answers: dict[tuple[str, int], int | str] = {}
    reading: list[tuple[str, int]] = []  # the crafted request in flight
    latencies: list[float] = []
    stalled = threading.Event()
    finished = threading.Event()

    def attack() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
            for name, size in attacks:
                if stalled.is_set():
                    break
                reading.append((name, size))
                try:
                    answers[(name, size)] = chat(c, "auto", crafted[name](size)).status_code
                except httpx.HTTPError as exc:
                    answers[(name, size)] = type(exc).__name__
        finished.set()

    def probe() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=LIVENESS * 5) as c:
            while not finished.is_set():
                t0 = time.monotonic()
                try:
                    ok = chat(c, "auto", "What is the capital of France?").status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.monotonic() - t0 if ok else math.inf)
                if latencies[-1] > LIVENESS:
                    stalled.set()
                    finished.set()
                time.sleep(0.05)

    threads = [threading.Thread(target=attack, daemon=True), threading.Thread(target=probe, daemon=True)]
    for t in threads:
        t.start()
    finished.wait(timeout=480)
    assert not stalled.is_set(), f"a small request waited {max(latencies):.1f} s while reading {reading[-1:]}"
    assert len(answers) == len(attacks), f"crafted requests still unanswered: {attacks[len(answers) :][:3]}"
    assert {a for a in answers.values()} <= {200, 403}, answers
    assert len(latencies) >= 5 and max(latencies) <= LIVENESS

    # over the scan limit: not read, taken as every class -- kept in the perimeter, or refused
    over = crafted["url_scheme_dots"](MAX_SCAN_CHARS + 1024)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        kept = chat(client, "auto", over)
        assert kept.status_code == 200 and kept.headers["x-switchyard-model"] == "local"
        assert "over the" in kept.headers["x-switchyard-reason"]
        refused = chat(client, "cloud", over)
        assert refused.status_code == 403 and "residency_violation" in refused.text
    assert all(len(r.raw) < MAX_SCAN_CHARS for r in external.requests)


@pytest.mark.timeout(120)
def test_oversize_request_is_not_pseudonymized_out(tmp_path: Path) -> None:
    """A route that would send a masked copy outside keeps over-size text in the perimeter instead:
    text that was not read cannot be masked."""
    with MockUpstream() as onprem, MockUpstream() as external:
        config = GatewayConfig(
            models=[openai_model("external", external.url), openai_model("local", onprem.url, locality="on_prem")],
            routes=[
                RouteConfig(
                    name="masked", models=["external"], policy=RoutePolicy(residency=ON_PREM, pseudonymize=True)
                ),
            ],
        )
        with gateway_process(config, tmp_path) as url:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                small = chat(client, "masked", "Please email maria.lopez@example.com about it")
                assert small.status_code == 200  # under the limit: masked and sent
                over = chat(client, "masked", "maria.lopez@example.com " + "x" * MAX_SCAN_CHARS)
                assert over.status_code == 403
        assert len(external.requests) == 1 and "maria.lopez" not in external.requests[0].raw.decode()
