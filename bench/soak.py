"""Soak: many requests of every kind through one gateway; does it hold its memory, file descriptors and ledger?

    python bench/soak.py --requests 100000 [--concurrency 16] [--workers 1] [--json]

Starts the loopback mock upstream and ``switchyard serve`` (SQLite ledger, admin key, ``--workers N``) as
subprocesses, ingests a small RAG collection (embedded with the local embedding model), then sends
``--requests`` requests from ``--concurrency`` client tasks, request ``i`` of kind ``KINDS[i % len(KINDS)]``:

- ``chat`` / ``stream``: an ordinary answer, whole or streamed;
- ``upstream_5xx`` / ``upstream_5xx_stream``: the upstream answers 503 (the gateway retries, then answers an
  error, or refuses at once while the model's circuit breaker is open);
- ``slow``: the upstream waits ``SLOW_SECONDS`` before its headers;
- ``cancelled``: a slowly streamed answer the client reads until its first event, then closes the connection
  (the gateway records it as 499);
- ``rag_search``: ``POST /v1/rag/search`` over the collection (not a chat call: no ledger row).

Every ``--sample-every`` seconds it reads the RSS (VmRSS) and the open file descriptors (``/proc/PID/fd``) of
the gateway's processes (the parent and every worker) and sums them. Samples taken before ``--warmup`` of the
requests were done are left out: the figures compare the first sample after warm-up with the last one, taken
when the load is over, and give the peak. After the load the gateway is stopped gracefully (SIGTERM) and its
ledger read.

"Answered" is exact: a chat request is answered when the client read the gateway's status line, whatever the
status (200, an upstream error relayed as 502/503, 499 for a client that left mid-stream). Each answered chat
request has one ledger row, so ``ledger_rows == answered_chat`` must hold; ``unanswered`` counts the chat
requests that got no status line (a refused or reset connection), which should be 0. RAG searches are
answered too but are not chat calls and have no ledger row. Prints a summary and, last, one JSON object.
Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

from overhead import HOST, child_env, free_port, started, stop, switchyard_command, tail, wait_ready

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "sy-bench-admin-key-0123456789abcdef"
COLLECTION = "soak"
SLOW_SECONDS = 0.2
DRIP_SECONDS = 0.05  # between the events of a stream the client cancels
STOP_TIMEOUT = 60.0
KINDS = (
    "chat",
    "stream",
    "chat",
    "stream",
    "upstream_5xx",
    "chat",
    "stream",
    "slow",
    "cancelled",
    "rag_search",
    "chat",
    "stream",
    "upstream_5xx_stream",
    "chat",
    "stream",
    "cancelled",
    "rag_search",
    "chat",
    "stream",
    "slow",
)
# kind -> (gateway model, streamed); rag_search has none
CHAT_KINDS = {
    "chat": ("soak-ok", False),
    "stream": ("soak-ok", True),
    "upstream_5xx": ("soak-fail", False),
    "upstream_5xx_stream": ("soak-fail", True),
    "slow": ("soak-slow", False),
    "cancelled": ("soak-drip", True),
}
# gateway model -> (upstream model, the mock's default answer for it)
MODELS = {
    "soak-ok": ("mock-model", {"kind": "ok"}),
    "soak-fail": ("mock-fail", {"kind": "status", "code": 503}),
    "soak-slow": ("mock-slow", {"kind": "ok", "delay": SLOW_SECONDS}),
    "soak-drip": ("mock-drip", {"kind": "ok", "chunk_delay": DRIP_SECONDS}),
}
DOCUMENTS = [
    ("gateway", "A gateway sits between applications and language models and routes each request."),
    ("budget", "Budgets limit what a team may spend per day and how many requests it may send per minute."),
    ("ledger", "Every call lands in a ledger row with its tokens, cost, latency and the model that answered."),
    ("rag", "Local retrieval keeps documents in the building: chunks are embedded and searched in-house."),
    ("breaker", "A circuit breaker stops sending requests to an upstream that keeps failing, for a while."),
    ("stream", "Streamed answers arrive as server-sent events; the client may close the connection early."),
    ("workers", "Several worker processes share one port; their metrics are summed for every scrape."),
    ("erasure", "Erasure removes a data subject's documents and the cached answers that cited them."),
]
QUERIES = ["how are budgets enforced", "what does the ledger record", "closing a stream early", "worker metrics"]


# --- the gateway's processes -------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/PID/task/TID/children."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    done: int  # requests finished when it was taken
    processes: int
    rss_mb: float
    fds: int


def sample(root: int, at: float, done: int) -> Sample:
    pids = process_tree(root)
    return Sample(round(at, 1), done, len(pids), round(sum(map(rss_mb, pids)), 1), sum(map(open_fds, pids)))


# --- the load ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw: statuses per kind, chat requests answered (a status line read) or not."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    answered_chat: int = 0
    unanswered_chat: int = 0
    done: int = 0
    first_errors: list[str] = field(default_factory=list)

    def count(self, kind: str, status: int | None, error: str | None = None) -> None:
        self.done += 1
        if status is not None:
            self.statuses.setdefault(kind, Counter())[status] += 1
        if kind in CHAT_KINDS:
            if status is None:
                self.unanswered_chat += 1
            else:
                self.answered_chat += 1
        if error is not None and len(self.first_errors) < 5:
            self.first_errors.append(f"{kind}: {error}")


def chat_body(i: int, model: str, stream: bool) -> dict[str, Any]:
    words = " ".join(f"w{(i + k) % 97}" for k in range(12))  # echoed back: a dozen stream events
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": f"soak {i}: {words}"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def send_chat(session: aiohttp.ClientSession, url: str, i: int, kind: str) -> tuple[int, str | None]:
    model, stream = CHAT_KINDS[kind]
    async with session.post(url + "/v1/chat/completions", json=chat_body(i, model, stream)) as resp:
        if kind == "cancelled":
            await resp.content.readline()  # the first event (or the error body's first line)
            resp.close()  # the connection goes, not back to the pool: the gateway sees the client leave
            return resp.status, None
        body = await resp.read()
    ok = resp.status == 200 and (not stream or body.rstrip().endswith(b"data: [DONE]"))
    return resp.status, None if ok or kind.startswith("upstream_") else f"{resp.status}: {body[:120]!r}"


async def send_search(session: aiohttp.ClientSession, url: str, i: int) -> tuple[int, str | None]:
    query = {"collections": [COLLECTION], "query": QUERIES[i % len(QUERIES)], "k": 3}
    async with session.post(url + "/v1/rag/search", json=query) as resp:
        body = await resp.read()
    return resp.status, None if resp.status == 200 else f"{resp.status}: {body[:120]!r}"


async def one(session: aiohttp.ClientSession, url: str, i: int, tally: Tally) -> None:
    kind = KINDS[i % len(KINDS)]
    try:
        if kind == "rag_search":
            status, error = await send_search(session, url, i)
        else:
            status, error = await send_chat(session, url, i, kind)
    except (aiohttp.ClientError, TimeoutError) as exc:  # no status line (or the answer was cut short)
        tally.count(kind, None, f"{type(exc).__name__}: {exc}")
        return
    tally.count(kind, status, error)


async def drive(url: str, requests: int, concurrency: int, tally: Tally) -> None:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=2.0)  # below uvicorn's 5 s
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector, timeout=timeout) as session:
        next_index = iter(range(requests))

        async def client() -> None:
            for i in next_index:
                await one(session, "", i, tally)

        await asyncio.gather(*(client() for _ in range(concurrency)))


async def watch(pid: int, every: float, tally: Tally, started_at: float, samples: list[Sample]) -> None:
    while True:
        samples.append(sample(pid, time.monotonic() - started_at, tally.done))
        await asyncio.sleep(every)


async def soak(url: str, pid: int, args: argparse.Namespace) -> tuple[Tally, list[Sample], float]:
    tally, samples = Tally(), []
    started_at = time.monotonic()
    watcher = asyncio.create_task(watch(pid, args.sample_every, tally, started_at, samples))
    progress = asyncio.create_task(report_progress(tally, args.requests, started_at))
    try:
        await drive(url, args.requests, args.concurrency, tally)
    finally:
        watcher.cancel()
        progress.cancel()
        await asyncio.gather(watcher, progress, return_exceptions=True)
    seconds = time.monotonic() - started_at
    await asyncio.sleep(1.0)  # the gateway finishes what the clients left (cancelled streams are settled)
    samples.append(sample(pid, time.monotonic() - started_at, tally.done))
    return tally, samples, seconds


async def report_progress(tally: Tally, requests: int, started_at: float, every: float = 30.0) -> None:
    while True:
        await asyncio.sleep(every)
        elapsed = time.monotonic() - started_at
        note(f"{tally.done}/{requests} requests after {elapsed:.0f} s ({tally.done / elapsed:.0f}/s)")


# --- set-up and figures ----------------------------------------------------------------------------------------


def write_config(path: Path, upstream_url: str) -> None:
    models = [
        {
            "name": name,
            "provider": "openai",
            "base_url": upstream_url + "/v1",
            "upstream_model": upstream_model,
            "locality": "on_prem",
            "price": {"input": 0.5, "output": 1.5},
        }
        for name, (upstream_model, _) in MODELS.items()
    ]
    path.write_text(yaml.safe_dump({"models": models}))


def script_upstream(upstream_url: str) -> None:
    for upstream_model, fault in MODELS.values():
        r = httpx.post(upstream_url + "/_mock/default", json={"fault": fault, "model": upstream_model}, timeout=10)
        r.raise_for_status()


def ingest(url: str) -> int:
    """A small collection, embedded by the gateway's local embedding model; returns its chunk count."""
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        client.post("/v1/rag/collections", json={"name": COLLECTION}).raise_for_status()
        docs = [{"id": doc_id, "text": text} for doc_id, text in DOCUMENTS]
        client.post(f"/v1/rag/collections/{COLLECTION}/documents", json={"documents": docs}).raise_for_status()
        return int(client.get(f"/v1/rag/collections/{COLLECTION}").json()["chunks"])


def ledger_by_status(db: Path) -> Counter[int]:
    if not db.exists():
        return Counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return Counter({int(s): int(n) for s, n in conn.execute("SELECT status, COUNT(*) FROM requests GROUP BY 1")})
    finally:
        conn.close()


def memory_figures(samples: list[Sample], requests: int, warmup: float) -> dict[str, Any]:
    after = [s for s in samples if s.done >= warmup * requests] or samples[-1:]
    first, last = after[0], after[-1]
    growth = (last.rss_mb - first.rss_mb) / first.rss_mb * 100 if first.rss_mb else None
    return {
        "rss_mb_start": first.rss_mb,
        "rss_mb_end": last.rss_mb,
        "rss_mb_max": max(s.rss_mb for s in after),
        "rss_growth_pct": None if growth is None else round(growth, 2),
        "fds_start": first.fds,
        "fds_end": last.fds,
        "fds_max": max(s.fds for s in after),
        "fd_growth": last.fds - first.fds,
        "processes": last.processes,
        "samples_after_warmup": len(after),
    }


def figures(
    args: argparse.Namespace, tally: Tally, samples: list[Sample], seconds: float, ledger: Counter[int]
) -> dict[str, Any]:
    rows = sum(ledger.values())
    clients: Counter[int] = Counter()
    for kind, counts in tally.statuses.items():
        if kind in CHAT_KINDS:
            clients.update(counts)
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "requests_per_s": round(args.requests / seconds, 1),
        "warmup_share": args.warmup,
        **memory_figures(samples, args.requests, args.warmup),
        "answered_chat": tally.answered_chat,
        "unanswered_chat": tally.unanswered_chat,
        "rag_searches": sum(tally.statuses.get("rag_search", Counter()).values()),
        "ledger_rows": rows,
        "ledger_equals_answered": rows == tally.answered_chat,
        "statuses_by_kind": {k: dict(sorted(c.items())) for k, c in sorted(tally.statuses.items())},
        "client_chat_statuses": dict(sorted(clients.items())),
        "ledger_statuses": dict(sorted(ledger.items())),
        "first_errors": tally.first_errors,
        "samples": [s.__dict__ for s in samples] if args.all_samples else len(samples),
    }


def note(msg: str) -> None:
    print(f"[soak] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    mock_port, gw_port = free_port(), free_port()
    mock_url, url = f"http://{HOST}:{mock_port}", f"http://{HOST}:{gw_port}"
    db, config = workdir / "ledger.db", workdir / "switchyard.yaml"
    write_config(config, mock_url)
    src = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    models = [arg for upstream_model, _ in MODELS.values() for arg in ("--model", upstream_model)]
    mock_cmd = [sys.executable, "-m", "switchyard.testing.mock_upstream", "--host", HOST, "--port", str(mock_port)]
    gw_cmd = [*switchyard_command(), "serve", "--config", str(config), "--host", HOST, "--port", str(gw_port)]
    gw_env = child_env(
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_DB_PATH=str(db), SWITCHYARD_LOG_LEVEL="warning", HF_HUB_OFFLINE="1"
    )
    with started([*mock_cmd, *models], workdir / "mock_upstream.log", child_env(**src)) as mock:
        wait_ready(mock, mock_port, "/v1/models", workdir / "mock_upstream.log")
        script_upstream(mock_url)
        gw_log = workdir / "gateway.log"
        with started([*gw_cmd, "--workers", str(args.workers)], gw_log, gw_env | src) as gw:
            wait_ready(gw, gw_port, "/readyz", gw_log)
            note(f"gateway pid {gw.pid} ({args.workers} worker(s)) on :{gw_port}; ingesting the RAG collection")
            chunks = ingest(url)
            note(f"{chunks} chunks; {args.requests} requests at concurrency {args.concurrency}")
            tally, samples, seconds = asyncio.run(soak(url, gw.pid, args))
            note("stopping the gateway (SIGTERM) and reading its ledger")
            exit_code = stop(gw, signal.SIGTERM, timeout=STOP_TIMEOUT)
            if exit_code not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal after a graceful stop
                note(f"the gateway exited with {exit_code}:\n{tail(gw_log)}")
    return figures(args, tally, samples, seconds, ledger_by_status(db)) | {
        "rag_chunks": chunks,
        "gateway_exit_code": exit_code,
    }


def summary(result: dict[str, Any]) -> str:
    return (
        f"{result['requests']} requests in {result['seconds']} s ({result['requests_per_s']}/s), "
        f"{result['workers']} worker(s): RSS {result['rss_mb_start']} -> {result['rss_mb_end']} MB after warm-up "
        f"({result['rss_growth_pct']}%, max {result['rss_mb_max']}), fds {result['fds_start']} -> "
        f"{result['fds_end']}; ledger rows {result['ledger_rows']} vs answered chat requests "
        f"{result['answered_chat']} ({result['unanswered_chat']} unanswered)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1, help="switchyard serve --workers")
    ap.add_argument("--warmup", type=float, default=0.1, help="share of the requests before the first sample")
    ap.add_argument("--sample-every", type=float, default=3.0, help="seconds between RSS/fd samples")
    ap.add_argument("--all-samples", action="store_true", help="put every sample in the JSON")
    ap.add_argument("--json", action="store_true", help="only the JSON line")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sy-soak-") as tmp:
        result = run(args, Path(tmp))
    if not args.json:
        print(summary(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
