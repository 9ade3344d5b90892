"""Gateway overhead: the latency switchyard adds in front of a fast upstream, at a fixed arrival rate.

    python bench/overhead.py --rps 300 --seconds 20 [--json]

Starts the loopback mock upstream and the gateway (``switchyard serve``, ledger on, admin key set) as
subprocesses on free 127.0.0.1 ports, then drives the same open-loop request mix (request ``i`` is sent
at ``t0 + i/R`` whatever the earlier ones are doing; by default half streamed, half not) first straight
at the mock upstream, then through the gateway. A warm-up second before each measured window is left
out of the figures. Prints latency percentiles for both, the latency the gateway *adds* (gateway
percentile minus direct percentile, overall and per request type), achieved rate, errors, the gateway's
CPU time per request and its memory, and, after a graceful stop (SIGTERM), the rows in its ledger,
which should equal the requests it served. With ``--json`` the last line is one JSON object.

The load generator is a small HTTP/1.1 keep-alive client on asyncio (uvloop when installed) with
httptools' response parser (both come with ``uvicorn[standard]``): measured on 2 cores at 300 RPS
against the mock it costs ~0.3 ms of CPU per request, aiohttp ~0.7 ms and httpx several ms, and
every CPU cycle the generator takes is one the gateway does not get. Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httptools

HOST = "127.0.0.1"
ADMIN_KEY = "sy-bench-admin-key-0123456789abcdef"
MODEL = "bench-model"
UPSTREAM_MODEL = "mock-model"
PROMPT = "Summarise the benefits of a gateway in front of many language model providers, briefly."
IDLE_REUSE_SECONDS = 2.0  # below uvicorn's 5 s keep-alive timeout: never reuse a socket the server may close
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0  # uvicorn's graceful shutdown is given 30 s by `switchyard serve`


# --- the load generator -------------------------------------------------------------------------------


def request_bytes(port: int, model: str, stream: bool) -> bytes:
    """One complete HTTP/1.1 request, built once and reused for every send."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {ADMIN_KEY}\r\ncontent-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.keep_alive = True
        self.last_used = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.first_byte = 0.0
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transport is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, timeout: float) -> None:
        assert self.transport is not None
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None
        self.last_used = time.perf_counter()


@dataclass(slots=True)
class Sample:
    index: int
    stream: bool
    warmup: bool
    scheduled: float
    start: float = 0.0
    ttfb: float = 0.0
    end: float = 0.0
    error: str | None = None


class Pool:
    """Keep-alive connections to one address; opens more when all are busy (open loop)."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.all: set[Connection] = set()
        self.opened = 0
        self.retries = 0
        self.slots = asyncio.Semaphore(limit)

    async def _connection(self) -> tuple[Connection, bool]:
        now = time.perf_counter()
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and now - conn.last_used < IDLE_REUSE_SECONDS:
                return conn, True
            conn.close()
            self.all.discard(conn)
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(loop.create_connection(Connection, HOST, self.port), 10)
        self.opened += 1
        self.all.add(conn)
        return conn, False

    async def send(self, request: bytes, sample: Sample, stream: bool, timeout: float) -> None:
        async with self.slots:
            for attempt in range(2):
                conn, reused = await self._connection()
                try:
                    await conn.exchange(request, timeout)
                except (OSError, httptools.HttpParserError) as exc:
                    self.all.discard(conn)
                    conn.close()
                    # A reused socket the server closed just before our request arrived: retry once.
                    if reused and not conn.first_byte and attempt == 0:
                        self.retries += 1
                        continue
                    sample.error = f"{type(exc).__name__}: {exc}"
                    return
                except TimeoutError:
                    self.all.discard(conn)
                    conn.close()
                    sample.error = "timeout"
                    return
                sample.end = conn.last_used
                sample.ttfb = conn.first_byte
                sample.error = check_response(conn.status, b"".join(conn.body), stream)
                if conn.keep_alive and not conn.closed:
                    self.idle.append(conn)
                else:
                    self.all.discard(conn)
                    conn.close()
                return

    def close(self) -> None:
        for conn in self.all:
            conn.close()
        self.all.clear()
        self.idle.clear()


def check_response(status: int, body: bytes, stream: bool) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    if stream and not body.rstrip().endswith(b"data: [DONE]"):
        return "stream did not end with [DONE]"
    if not stream and b'"choices"' not in body:
        return "response has no choices"
    return None


def is_stream(i: int, share: float) -> bool:
    """Spread streamed requests evenly: request i streams when the running share crosses an integer."""
    return int((i + 1) * share) > int(i * share)


@dataclass(frozen=True)
class Load:
    rps: float
    seconds: float
    warmup: float
    stream_share: float
    concurrency_limit: int
    timeout: float


@dataclass
class Phase:
    name: str
    samples: list[Sample]
    window: float
    opened: int
    retries: int
    lag_ms: list[float] = field(default_factory=list)


async def drive(name: str, port: int, model: str, load: Load) -> Phase:
    """Send requests open-loop: request i at t0 + i/rps, never waiting for earlier answers."""
    pool = Pool(port, load.concurrency_limit)
    requests = {s: request_bytes(port, model, s) for s in (False, True)}
    rps, timeout = load.rps, load.timeout
    total = max(round((load.warmup + load.seconds) * rps), 1)
    n_warm = round(load.warmup * rps)
    samples: list[Sample] = []
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter() + 0.05

    async def one(sample: Sample) -> None:
        sample.start = time.perf_counter()
        try:
            await pool.send(requests[sample.stream], sample, sample.stream, timeout)
        except Exception as exc:  # a load-generator bug must show as an error, not end the run
            sample.error = f"{type(exc).__name__}: {exc}"

    try:
        for i in range(total):
            scheduled = t0 + i / rps
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sample = Sample(i, is_stream(i, load.stream_share), i < n_warm, scheduled)
            samples.append(sample)
            tasks.append(asyncio.create_task(one(sample)))
        if tasks:
            await asyncio.wait(tasks, timeout=timeout + 15)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pool.close()
    for s in samples:
        if not s.end and s.error is None:
            s.error = "not finished"
    measured = [s for s in samples if not s.warmup]
    first = min((s.start for s in measured), default=0.0)
    last = max((s.end for s in measured), default=0.0)
    lag = [(s.start - s.scheduled) * 1000 for s in measured]
    return Phase(name, samples, max(last - first, 1e-9), pool.opened, pool.retries, lag)


def run_phase(name: str, port: int, model: str, load: Load) -> Phase:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(drive(name, port, model, load))
    return uvloop.run(drive(name, port, model, load))


# --- statistics -----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks; None for no data."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


PCTS = (50, 95, 99)
KINDS: dict[str, Callable[[Sample], bool]] = {
    "": lambda s: True,
    "_stream": lambda s: s.stream,
    "_nonstream": lambda s: not s.stream,
}


def phase_stats(phase: Phase) -> dict[str, Any]:
    measured = [s for s in phase.samples if not s.warmup]
    ok = [s for s in measured if s.error is None]
    out: dict[str, Any] = {
        "requests": len(measured),
        "errors": sum(1 for s in phase.samples if s.error is not None),
        "rps_achieved": round(len(ok) / phase.window, 1),
        "connections": phase.opened,
        "reconnects": phase.retries,
        "loadgen_lag_p99_ms": _ms(percentile(phase.lag_ms, 99)),
    }
    for suffix, keep in KINDS.items():
        lat = [(s.end - s.start) * 1000 for s in ok if keep(s)]
        for p in PCTS:
            out[f"p{p}_ms{suffix}"] = _ms(percentile(lat, p))
    ttfb = [(s.ttfb - s.start) * 1000 for s in ok if s.stream]
    for p in PCTS:
        out[f"ttfb_p{p}_ms_stream"] = _ms(percentile(ttfb, p))
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def first_errors(phase: Phase, n: int = 3) -> list[str]:
    return [f"{phase.name} #{s.index}: {s.error}" for s in phase.samples if s.error is not None][:n]


# --- the processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def switchyard_command() -> list[str]:
    """``python -m switchyard`` with this interpreter when the package has a ``__main__``, else the
    ``switchyard`` console script installed next to this interpreter (or on PATH)."""
    if importlib.util.find_spec("switchyard.__main__") is not None:
        return [sys.executable, "-m", "switchyard"]
    beside = Path(sys.executable).parent / "switchyard"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("switchyard")
    if found is None:
        raise SystemExit("overhead: the `switchyard` package is not installed (pip install -e .)")
    return [found]


def child_env(**extra: str) -> dict[str, str]:
    """The environment without inherited switchyard settings or proxies: everything stays on loopback."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SWITCHYARD_") and k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env["NO_PROXY"] = env["no_proxy"] = f"{HOST},localhost"
    env.update(extra)
    return env


def http_status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, path: str, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while http_status(port, path) != 200:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log.stem} not ready on port {port} after {timeout:.0f}s:\n{tail(log)}")
        time.sleep(0.1)


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Signal, wait up to ``timeout``, then kill: never blocks longer than that (plus 5 s)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    return proc.returncode


def proc_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) from /proc, in MB."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def proc_sched_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one), summed over the process's threads,
    from /proc/<pid>/task/*/schedstat (nanoseconds); falls back to /proc/<pid>/stat ticks, no wait."""
    run = wait = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                fields = (task / "schedstat").read_text().split()
                run, wait = run + int(fields[0]), wait + int(fields[1])
    except OSError:
        return 0.0, 0.0
    if run:
        return run / 1e9, wait / 1e9
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 0.0
    return 0.0, 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user / nice
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used during one phase by each of our processes, and by everything else."""

    wall: float
    procs: dict[str, float]
    waits: dict[str, float]
    others: float

    def per_request(self, name: str, requests: int, *, wait: bool = False) -> float:
        used = (self.waits if wait else self.procs).get(name, 0.0)
        return round(used * 1000 / max(requests, 1), 3)


@contextlib.contextmanager
def cpu_meter(pids: dict[str, int]) -> Iterator[list[CpuUse]]:
    """Measures the CPU our processes and the rest of the machine use while the block runs: the
    other sessions, builds or tests on a shared machine make figures noisy, so they are reported."""
    box: list[CpuUse] = []
    wall, machine = time.monotonic(), machine_busy_seconds()
    before = {name: proc_sched_seconds(pid) for name, pid in pids.items()}
    yield box
    after = {name: proc_sched_seconds(pid) for name, pid in pids.items()}
    used = {name: after[name][0] - before[name][0] for name in pids}
    waits = {name: after[name][1] - before[name][1] for name in pids}
    others = max(machine_busy_seconds() - machine - sum(used.values()), 0.0)
    box.append(CpuUse(time.monotonic() - wall, used, waits, others))


def ledger_rows(db: Path) -> int | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    finally:
        conn.close()


def write_config(path: Path, upstream_port: int) -> None:
    path.write_text(
        f"""models:
  - name: {MODEL}
    provider: openai
    base_url: http://{HOST}:{upstream_port}/v1
    upstream_model: {UPSTREAM_MODEL}
    locality: on_prem
    price: {{input: 0.5, output: 1.5}}
"""
    )


@contextlib.contextmanager
def started(cmd: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        yield proc
    finally:
        stop(proc, timeout=STOP_TIMEOUT)


# --- the run -----------------------------------------------------------------------------------------------


def note(msg: str) -> None:
    print(f"[overhead] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    mock_port = args.port_base or free_port()
    gw_port = args.port_base + 1 if args.port_base else free_port()
    db = workdir / "ledger.db"
    config = workdir / "switchyard.yaml"
    write_config(config, mock_port)
    mock_cmd = [sys.executable, "-m", "switchyard.testing.mock_upstream", "--host", HOST, "--port", str(mock_port)]
    gw_cmd = [*switchyard_command(), "serve", "--config", str(config), "--host", HOST, "--port", str(gw_port)]
    gw_env = child_env(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_DB_PATH=str(db), SWITCHYARD_LOG_LEVEL="warning")
    load = Load(args.rps, args.seconds, args.warmup, args.stream_share, args.concurrency_limit, args.timeout)
    with started(mock_cmd, workdir / "mock_upstream.log", child_env()) as mock:
        wait_ready(mock, mock_port, "/v1/models", workdir / "mock_upstream.log")
        with started(gw_cmd, workdir / "gateway.log", gw_env) as gw:
            wait_ready(gw, gw_port, "/readyz", workdir / "gateway.log")
            note(f"mock upstream pid {mock.pid} on :{mock_port}, gateway pid {gw.pid} on :{gw_port}")
            pids = {"loadgen": os.getpid(), "upstream": mock.pid, "gateway": gw.pid}
            note(f"direct: {args.rps:g} RPS for {args.warmup:g}+{args.seconds:g} s")
            with cpu_meter(pids) as direct_cpu:
                direct = run_phase("direct", mock_port, UPSTREAM_MODEL, load)
            note(f"gateway: {args.rps:g} RPS for {args.warmup:g}+{args.seconds:g} s")
            with cpu_meter(pids) as gateway_cpu:
                through = run_phase("gateway", gw_port, MODEL, load)
            memory = proc_memory_mb(gw.pid)
            note("stopping the gateway (SIGTERM) and reading its ledger")
            stop_started = time.monotonic()
            gw_exit = stop(gw, timeout=STOP_TIMEOUT)
            stop_seconds = time.monotonic() - stop_started
    result = report(args, direct, through, direct_cpu[0], gateway_cpu[0], memory)
    return result | {
        "ledger_rows": ledger_rows(db),
        "gateway_exit_code": gw_exit,
        "gateway_stop_s": round(stop_seconds, 2),
    }


def report(
    args: argparse.Namespace,
    direct: Phase,
    through: Phase,
    direct_cpu: CpuUse,
    gateway_cpu: CpuUse,
    memory: dict[str, float],
) -> dict[str, Any]:
    d, g = phase_stats(direct), phase_stats(through)
    out: dict[str, Any] = {
        "rps_target": args.rps,
        "rps_achieved": g["rps_achieved"],
        "rps_achieved_direct": d["rps_achieved"],
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "stream_share": args.stream_share,
        "requests": g["requests"],
        "requests_direct": d["requests"],
        "errors": d["errors"] + g["errors"],
        "errors_direct": d["errors"],
        "errors_gateway": g["errors"],
        "gateway_requests": len(through.samples),
    }
    for key in [k for k in g if k.startswith(("p", "ttfb_"))]:
        out[f"direct_{key}"] = d[key]
        out[f"gateway_{key}"] = g[key]
        if d[key] is not None and g[key] is not None:
            out[f"added_{key}"] = round(g[key] - d[key], 3)
    n_direct, n_gw = len(direct.samples), len(through.samples)
    out |= {
        "gateway_rss_mb": memory.get("VmRSS"),
        "gateway_peak_rss_mb": memory.get("VmHWM"),
        "gateway_cpu_ms_per_request": gateway_cpu.per_request("gateway", n_gw),
        "gateway_cpu_cores": round(gateway_cpu.procs["gateway"] / gateway_cpu.wall, 3),
        "gateway_cpu_wait_ms_per_request": gateway_cpu.per_request("gateway", n_gw, wait=True),
        "upstream_cpu_ms_per_request_direct": direct_cpu.per_request("upstream", n_direct),
        "upstream_cpu_ms_per_request_gateway": gateway_cpu.per_request("upstream", n_gw),
        "cpu_count": os.cpu_count(),
        "other_load_cores_direct": round(direct_cpu.others / direct_cpu.wall, 3),
        "other_load_cores_gateway": round(gateway_cpu.others / gateway_cpu.wall, 3),
    }
    for phase, stats, cpu, n in (("direct", d, direct_cpu, n_direct), ("gateway", g, gateway_cpu, n_gw)):
        for key in ("connections", "reconnects", "loadgen_lag_p99_ms"):
            out[f"{phase}_{key}"] = stats[key]
        out[f"{phase}_loadgen_cpu_ms_per_request"] = cpu.per_request("loadgen", n)
    out["first_errors"] = first_errors(direct) + first_errors(through)
    return out


def human(r: dict[str, Any]) -> list[str]:
    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:8.2f}"

    lines = [
        f"target {r['rps_target']:g} RPS for {r['seconds']:g} s (+{r['warmup_seconds']:g} s warm-up), "
        f"{r['stream_share']:.0%} streamed; achieved {r['rps_achieved_direct']:g} RPS direct, "
        f"{r['rps_achieved']:g} RPS through the gateway",
        f"requests measured: {r['requests_direct']} direct, {r['requests']} gateway; errors: {r['errors']} "
        f"(direct {r['errors_direct']}, gateway {r['errors_gateway']})",
        f"{'latency ms':<32} {'p50':>8} {'p95':>8} {'p99':>8}",
    ]
    for label, suffix in (("all", ""), ("non-streamed", "_nonstream"), ("streamed (last byte)", "_stream")):
        for who in ("direct", "gateway", "added"):
            row = " ".join(f(r.get(f"{who}_p{p}_ms{suffix}")) for p in PCTS)
            lines.append(f"  {label + ' ' + who:<30} {row}")
    for who in ("direct", "gateway", "added"):
        row = " ".join(f(r.get(f"{who}_ttfb_p{p}_ms_stream")) for p in PCTS)
        lines.append(f"  {'streamed TTFB ' + who:<30} {row}")
    lines += [
        f"gateway CPU: {r['gateway_cpu_ms_per_request']:.2f} ms per request ({r['gateway_cpu_cores']:.0%} of a core), "
        f"{r['gateway_cpu_wait_ms_per_request']:.2f} ms per request runnable but waiting for a core; "
        f"load generator: {r['gateway_loadgen_cpu_ms_per_request']:.2f} ms per request, "
        f"send lag p99 {r['gateway_loadgen_lag_p99_ms']} ms",
        f"gateway RSS: {r['gateway_rss_mb']} MB now, {r['gateway_peak_rss_mb']} MB peak (VmHWM)",
        f"ledger rows after SIGTERM: {r['ledger_rows']} for {r['gateway_requests']} gateway requests "
        f"(incl. warm-up); gateway exit code {r['gateway_exit_code']}, stopped in {r['gateway_stop_s']} s",
    ]
    others = max(r["other_load_cores_direct"], r["other_load_cores_gateway"])
    lines.append(
        f"other processes on this machine used {r['other_load_cores_direct']:.2f} / {r['other_load_cores_gateway']:.2f} "
        f"of {r['cpu_count']} cores during the direct / gateway phase"
        + (": the figures are noisy" if others > 0.25 else "")
    )
    lines += [f"error: {e}" for e in r["first_errors"]]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Latency switchyard adds over a fast loopback upstream.")
    parser.add_argument("--rps", type=float, required=True, help="arrival rate, requests per second")
    parser.add_argument("--seconds", type=float, required=True, help="measured seconds per phase")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    parser.add_argument("--stream-share", type=float, default=0.5, help="fraction of streamed requests (0..1)")
    parser.add_argument("--concurrency-limit", type=int, default=512, help="most requests in flight at once")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent first and left out (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    parser.add_argument("--port-base", type=int, default=0, help="use this port and the next (default: free ports)")
    parser.add_argument("--keep-dir", action="store_true", help="keep the temp dir (config, logs, ledger)")
    args = parser.parse_args(argv)
    if args.rps <= 0 or args.seconds <= 0 or not 0 <= args.stream_share <= 1 or args.concurrency_limit < 1:
        parser.error("--rps and --seconds must be positive, --stream-share within 0..1, --concurrency-limit >= 1")
    return args


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does: through the finally blocks that stop the subprocesses."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    try:
        result = run(args, workdir)
    except RuntimeError as exc:
        print(f"overhead: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("overhead: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_dir:
            note(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in human(result):
        print(line)
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
