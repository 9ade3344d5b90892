"""The processes of bench/overhead.py: starting and stopping them, and what /proc says they use.

CPU is read from ``/proc/<pid>/task/*/schedstat`` summed over a process and its descendants (the workers
of ``serve --workers N``), memory from ``VmRSS`` / ``VmHWM`` likewise summed, and the machine's other load
as the busy CPU time of ``/proc/stat`` less ours, beside the 1-minute load average: on a shared machine
every figure is printed with the load it was measured under.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0  # uvicorn's graceful shutdown is given 30 s by `switchyard serve`


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


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the workers of ``serve --workers N``), from
    ``/proc/<pid>/task/*/children``; a process that has gone is left out."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_sched_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting for one) of ``pid`` and its descendants."""
    run = wait = 0.0
    for member in descendants(pid):
        used, waited = proc_sched_seconds(member)
        run, wait = run + used, wait + waited
    return run, wait


def tree_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` and its descendants, summed (each worker holds its own copy)."""
    total: dict[str, float] = {}
    for member in descendants(pid):
        for key, value in proc_memory_mb(member).items():
            total[key] = round(total.get(key, 0.0) + value, 1)
    return total


def load_average() -> float | None:
    """The machine's 1-minute load average (our processes included)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used during one window by each of our processes (with their descendants), and by
    everything else on the machine; the load average at the end of the window."""

    wall: float
    procs: dict[str, float]
    waits: dict[str, float]
    others: float
    loadavg: float | None

    def per_request(self, name: str, requests: int, *, wait: bool = False) -> float:
        used = (self.waits if wait else self.procs).get(name, 0.0)
        return round(used * 1000 / max(requests, 1), 3)

    def cores(self, name: str) -> float:
        return round(self.procs.get(name, 0.0) / max(self.wall, 1e-9), 3)

    @property
    def other_cores(self) -> float:
        return round(self.others / max(self.wall, 1e-9), 3)


@contextlib.contextmanager
def cpu_meter(pids: dict[str, int]) -> Iterator[list[CpuUse]]:
    """Measures the CPU our processes and the rest of the machine use while the block runs: the
    other sessions, builds or tests on a shared machine make figures noisy, so they are reported."""
    box: list[CpuUse] = []
    wall, machine = time.monotonic(), machine_busy_seconds()
    before = {name: tree_sched_seconds(pid) for name, pid in pids.items()}
    yield box
    after = {name: tree_sched_seconds(pid) for name, pid in pids.items()}
    used = {name: after[name][0] - before[name][0] for name in pids}
    waits = {name: after[name][1] - before[name][1] for name in pids}
    others = max(machine_busy_seconds() - machine - sum(used.values()), 0.0)
    box.append(CpuUse(time.monotonic() - wall, used, waits, others, load_average()))


def wait_quiet(pid: int, *, below: float = 0.05, step: float = 0.5, longest: float = 30.0) -> float:
    """Wait until ``pid`` (with its descendants) uses less than ``below`` of a core over ``step`` seconds,
    so the backlog of an overloaded window is not measured in the next one; returns the seconds waited."""
    started_at = time.monotonic()
    last = tree_sched_seconds(pid)[0]
    while time.monotonic() - started_at < longest:
        time.sleep(step)
        now = tree_sched_seconds(pid)[0]
        if now - last < below * step:
            break
        last = now
    return time.monotonic() - started_at


@contextlib.contextmanager
def started(cmd: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        yield proc
    finally:
        stop(proc, timeout=STOP_TIMEOUT)
