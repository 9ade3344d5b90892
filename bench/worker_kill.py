"""What SIGKILL of one worker loses: `switchyard serve --workers N` under load, one worker killed mid-load.

Every answered request (status 200, acknowledged to its client) carries its ledger id (x-request-id). The
ledger writer queues records and writes them every ``--flush-interval`` seconds (the shipped default is
0.1 s), so a worker killed with SIGKILL loses the records it had queued and not yet written: the requests
it answered in the last flush interval (plus the write in progress). Requests in flight in the killed worker
are cut (their clients see a dropped connection, not an answer: not acknowledged, so not counted as lost).
The parent replaces the dead worker; after the load, SIGTERM stops the rest gracefully (nothing lost there).

Prints the figures, JSON last: acknowledged, lost (acknowledged but not in the ledger), how long before the
kill the oldest lost request was answered (``lost_window_ms``, compare with the flush interval), the
answer rate, the requests cut in flight, whether the worker was replaced.

    python bench/worker_kill.py --workers 2 --seconds 6 --concurrency 16 --flush-interval 0.1
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

from overhead import HOST, child_env, free_port, stop, switchyard_command, tail
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import MockUpstream

ADMIN_KEY = "sy-bench-admin-key-0123456789abcdef"


def worker_pids(url: str, workers: int, tries: int = 400) -> set[int]:
    seen: set[int] = set()
    for _ in range(tries):
        try:
            seen.add(int(httpx.get(url + "/readyz", timeout=5).json()["worker"]))
        except (httpx.TransportError, ValueError, KeyError):
            time.sleep(0.05)
        if len(seen) >= workers:
            break
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=6.0, help="load duration; the kill comes at its middle")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--flush-interval", type=float, default=0.1, help="SWITCHYARD_LEDGER_FLUSH_INTERVAL")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, MockUpstream() as upstream:
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
        cfg_path, db, log = Path(tmp) / "cfg.yaml", Path(tmp) / "ledger.db", Path(tmp) / "gateway.log"
        cfg_path.write_text(yaml.safe_dump(cfg))
        port = free_port()
        url = f"http://{HOST}:{port}"
        env = child_env(
            SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
            SWITCHYARD_DB_PATH=str(db),
            SWITCHYARD_LEDGER_FLUSH_INTERVAL=str(args.flush_interval),
            SWITCHYARD_LOG_LEVEL="warning",
        )
        command = [*switchyard_command(), "serve", "--config", str(cfg_path), "--host", HOST, "--port", str(port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*command, "--workers", str(args.workers)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            pids = worker_pids(url, args.workers)
            if len(pids) < args.workers:
                raise SystemExit(f"worker_kill: only workers {sorted(pids)} answered:\n{tail(log)}")
            victim = min(pids)
            acked: list[tuple[str, float]] = []  # (request id, answered at)
            cut = errors = 0
            lock = threading.Lock()
            start = time.monotonic()
            end = start + args.seconds

            headers = {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}

            def load(n: int) -> None:
                nonlocal cut, errors
                i = 0
                while time.monotonic() < end:
                    i += 1
                    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"load {n}-{i}"}]})
                    conn = http.client.HTTPConnection(HOST, port, timeout=30)  # a fresh connection: any worker
                    try:
                        conn.request("POST", "/v1/chat/completions", body, headers)
                        r = conn.getresponse()
                        r.read()
                    except OSError:  # reset, refused, or the answer cut short
                        with lock:
                            cut += 1
                        continue
                    finally:
                        conn.close()
                    with lock:
                        if r.status == 200:
                            acked.append((r.headers["x-request-id"], time.monotonic()))
                        else:
                            errors += 1

            threads = [threading.Thread(target=load, args=(n,)) for n in range(args.concurrency)]
            for t in threads:
                t.start()
            time.sleep(args.seconds / 2)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            for t in threads:
                t.join()
            after = worker_pids(url, args.workers, tries=100)
            stop(proc, signal.SIGTERM, timeout=60)
        finally:
            stop(proc, signal.SIGKILL, timeout=5)
        ids = {r.id for r in SQLiteStore(db).recent(1_000_000)}
    lost = [(rid, at) for rid, at in acked if rid not in ids]
    window = max((killed_at - at for _, at in lost), default=0.0)
    rate = len(acked) / args.seconds
    result = {
        "workers": args.workers,
        "flush_interval_s": args.flush_interval,
        "concurrency": args.concurrency,
        "acknowledged": len(acked),
        "answers_per_s": round(rate, 1),
        "lost": len(lost),
        "lost_window_ms": round(window * 1000, 1),
        # the machine's answers in one flush interval: the order of what one worker's kill can cost (the
        # window is the interval plus the write in progress and the event loop's delay, and the kernel may
        # give the killed worker more than its share of the connections)
        "answers_per_flush_interval": round(rate * args.flush_interval, 1),
        "cut_in_flight": cut,
        "error_answers": errors,
        "ledger_rows": len(ids),
        "replaced": victim not in after and len(after) >= args.workers,
    }
    print(
        f"{len(acked)} acknowledged at {rate:.0f}/s over {args.workers} workers; SIGKILL of one lost {len(lost)} "
        f"(answered up to {window * 1000:.0f} ms before the kill; flush interval {args.flush_interval * 1000:.0f} ms); "
        f"{cut} cut in flight"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
