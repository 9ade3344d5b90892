"""The machine's /metrics from per-worker snapshots: the merge equals one registry that saw everything."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from switchyard.observability import GatewayMetrics
from switchyard.observability.shared_metrics import SharedMetrics
from tests.observability.test_metrics import _config, _record

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parsed(text: bytes) -> Samples:
    out: Samples = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


RECORDS = [
    {},
    {"stream": False, "status": 502, "error_class": "UpstreamConnectError", "served_model": "b"},
    {"team": "t2", "latency_ms": 4000.0, "input_tokens": 7},
    {"team": "late-team", "route": None, "served_model": "b", "ttft_ms": 2.0},
]


def test_the_merge_equals_one_registry_that_saw_every_request(tmp_path: Path) -> None:
    whole, mine, other = (GatewayMetrics(_config()) for _ in range(3))
    for i, kw in enumerate(RECORDS * 3):
        rec = _record(**kw)
        whole.observe(rec)
        (mine if i % 3 else other).observe(rec)
    whole.observe_error_response(401, "AuthenticationFailed")
    other.observe_error_response(401, "AuthenticationFailed")
    # the other worker's snapshot, as it would have written it (another pid, still alive: this one)
    SharedMetrics(other, tmp_path).write()
    snap = tmp_path / f"worker-{os.getpid()}.metrics.json"
    snap.rename(tmp_path / "worker-1.metrics.json")
    shared = SharedMetrics(mine, tmp_path)
    assert parsed(shared.exposition()) == parsed(whole.exposition())


def test_a_dead_workers_counts_stay_and_its_backlog_goes(tmp_path: Path) -> None:
    dead = GatewayMetrics(_config(), backlog=lambda: 5)
    dead.observe(_record())
    SharedMetrics(dead, tmp_path).write()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    data = json.loads((tmp_path / f"worker-{os.getpid()}.metrics.json").read_text())
    (tmp_path / f"worker-{os.getpid()}.metrics.json").unlink()
    (tmp_path / "worker-dead.metrics.json").write_text(json.dumps({**data, "pid": int(gone.stdout)}))
    alive = GatewayMetrics(_config(), backlog=lambda: 2)
    alive.observe(_record())
    out = parsed(SharedMetrics(alive, tmp_path).exposition())
    lab = (("model", "a"), ("route", "auto"), ("status", "200"), ("team", "t1"))
    assert out[("switchyard_requests_total", lab)] == 2
    assert out[("switchyard_ledger_backlog", ())] == 2


def test_snapshots_are_written_periodically_and_at_close(tmp_path: Path) -> None:
    metrics = GatewayMetrics(_config())

    async def run() -> None:
        shared = SharedMetrics(metrics, tmp_path / "dir", interval=0.05)
        shared.start()
        metrics.observe(_record())
        await asyncio.sleep(0.2)
        assert '"switchyard_requests_total"' in shared.path.read_text()
        metrics.observe(_record())
        await shared.aclose()
        assert json.loads(shared.path.read_text())["families"][0]["samples"][0][2] == 2

    asyncio.run(run())
