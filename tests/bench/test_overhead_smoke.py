"""Smoke test for bench/overhead.py: a tiny run must work end to end. Timings are never asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "overhead.py"
TIMEOUT = 180

KEYS = {
    "rps_target",
    "rps_achieved",
    "seconds",
    "requests",
    "errors",
    "direct_p50_ms",
    "direct_p99_ms",
    "gateway_p50_ms",
    "gateway_p99_ms",
    "added_p50_ms",
    "added_p99_ms",
    "added_p99_ms_stream",
    "added_p99_ms_nonstream",
    "gateway_rss_mb",
    "gateway_peak_rss_mb",
    "gateway_requests",
    "ledger_rows",
}


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the benchmark in its own process group, so a timeout can stop what it started too."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"bench/overhead.py took longer than {TIMEOUT}s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_overhead_smoke() -> None:
    done = run_bench("--rps", "20", "--seconds", "1", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "human-readable lines come before the JSON"
    result = json.loads(lines[-1])
    missing = KEYS - result.keys()
    assert not missing, f"keys missing from the JSON: {sorted(missing)}"
    assert result["errors"] == 0, result["first_errors"]
    assert result["requests"] > 0
    assert result["ledger_rows"] == result["gateway_requests"]
