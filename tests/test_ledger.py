"""The batching ledger writer, and the promise that no acknowledged request is lost on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from switchyard.ledger import LedgerWriter
from switchyard.store.base import LedgerRecord
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY, free_port
from tests.store.test_sqlite import record


class FlakyStore:
    """Fails its first write, then stores in memory."""

    def __init__(self) -> None:
        self.rows: list[LedgerRecord] = []
        self.calls = 0

    def write(self, records: Sequence[LedgerRecord]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise OSError("disk full")
        self.rows.extend(records)


async def test_writer_batches_and_flushes_on_close(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    writer = LedgerWriter(store, flush_interval=10, batch_size=100)
    writer.start()
    for i in range(250):
        writer.record(record(i))
    await asyncio.sleep(0.2)  # a full batch wakes the writer long before the 10 s interval
    assert writer.written == 250 and writer.backlog == 0
    for i in range(250, 260):
        writer.record(record(i))
    await asyncio.sleep(0.1)
    assert writer.backlog == 10  # a partial batch waits for the interval...
    await writer.aclose()  # ...or for shutdown
    assert writer.written == 260 and len(store.recent(1000)) == 260


async def test_failed_write_is_retried_not_lost() -> None:
    store = FlakyStore()
    writer = LedgerWriter(store, flush_interval=0.01, batch_size=10)  # type: ignore[arg-type]
    writer.start()
    for i in range(5):
        writer.record(record(i))
    await asyncio.sleep(0.1)
    await writer.aclose()
    assert writer.failed_batches == 1 and sorted(r.id for r in store.rows) == [f"r{i}" for i in range(5)]


def test_sigterm_keeps_every_acknowledged_request(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        upstream.set_default(Fault.slow(0.5))
        cfg = {
            "models": [
                {
                    "name": "m",
                    "provider": "openai",
                    "base_url": upstream.url + "/v1",
                    "upstream_model": "mock-model",
                    "locality": "us",
                    "price": {"input": 1, "output": 1},
                }
            ]
        }
        cfg_path = tmp_path / "cfg.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        db = tmp_path / "ledger.db"
        port = free_port()
        env = {
            **os.environ,
            "SWITCHYARD_ADMIN_KEY": ADMIN_KEY,
            "SWITCHYARD_DB_PATH": str(db),
            "SWITCHYARD_LEDGER_FLUSH_INTERVAL": "30",  # nothing is written before shutdown
        }
        switchyard = Path(sys.executable).parent / "switchyard"
        proc = subprocess.Popen(
            [str(switchyard), "serve", "--config", str(cfg_path), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "gateway did not start"
                time.sleep(0.1)

            def call(i: int) -> int:
                try:
                    r = httpx.post(
                        url + "/v1/chat/completions",
                        json={
                            "model": "m",
                            "messages": [{"role": "user", "content": f"req {i}"}],
                            "stream": i % 2 == 0,
                        },
                        headers={"authorization": f"Bearer {ADMIN_KEY}"},
                        timeout=20,
                    )
                    return r.status_code
                except httpx.TransportError:
                    return 0

            with ThreadPoolExecutor(20) as pool:
                futures = [pool.submit(call, i) for i in range(20)]
                deadline = time.monotonic() + 10
                while len(upstream.requests) < 20 and time.monotonic() < deadline:
                    time.sleep(0.01)  # wait until all are in flight at the upstream
                proc.send_signal(signal.SIGTERM)
                statuses = [f.result() for f in futures]
            # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is a clean exit.
            assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
    acknowledged = statuses.count(200)
    assert acknowledged == 20, (
        statuses,
        proc.stderr.read().decode()[-1500:].replace("\n", " | ") if proc.stderr else "",
    )
    store = SQLiteStore(db)
    rows = store.recent(1000)
    assert len([r for r in rows if r.status == 200]) == acknowledged


def test_request_ids_are_unique_and_time_ordered() -> None:
    from switchyard.ledger import new_request_id

    ids = [new_request_id(1_780_000_000.0 + i / 10) for i in range(2000)]
    assert len(set(ids)) == 2000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids == sorted(ids)  # later requests sort after earlier ones (100 ms apart here)
    same_ms = {new_request_id(1_780_000_000.0) for _ in range(1000)}
    assert len(same_ms) == 1000  # 80 random bits tell apart requests of the same millisecond
