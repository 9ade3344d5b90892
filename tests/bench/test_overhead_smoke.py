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
    "rps_offered",
    "rps_achieved",
    "requests",
    "errors",
    "p50_ms",
    "p99_ms",
    "added_p50_ms",
    "added_p99_ms",
    "added_p99_ms_stream",
    "added_p99_ms_nonstream",
    "cpu_ms_per_request",
    "cpu_vs_bare",
    "rss_mb",
    "upstream_cpu_ms_per_request",
    "other_load_cores",
    "loadavg_1m",
}
TARGETS = ("direct", "bare", "switchyard")


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
    """Two rates and a two-step ramp on the three local targets (LiteLLM is never needed here)."""
    done = run_bench(
        *("--rps", "10,20", "--seconds", "1", "--peer", "none", "--json"),
        *("--ramp", "--ramp-start", "10", "--ramp-max", "20", "--ramp-seconds", "1"),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "human-readable lines come before the JSON"
    result = json.loads(lines[-1])
    assert "litellm" not in result
    for target in TARGETS:
        assert set(result[target]) == {"10", "20"}, target
        for rate, entry in result[target].items():
            missing = KEYS - entry.keys()
            assert not missing, f"{target} at {rate}: keys missing from the JSON: {sorted(missing)}"
    for rate, entry in result["switchyard"].items():
        assert entry["errors"] == 0, (rate, entry["first_errors"])
        assert entry["requests"] > 0
    assert set(result["ramp"]) == set(TARGETS)
    for found in result["ramp"].values():
        assert found["steps"] and "max_sustained_rps" in found
    ledger = result["ledger"]
    assert ledger["ledger_rows"] == ledger["gateway_requests"] > 0


def test_search_rate_doubles_then_bisects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH.parent))
    from overhead import search_rate

    tried: list[float] = []

    def below_130(rate: float) -> bool:
        tried.append(rate)
        return rate < 130

    assert search_rate(below_130, 25, 3200, 0.1) == (125, 132)
    assert tried[:4] == [25, 50, 100, 200]
    assert search_rate(lambda rate: True, 25, 100, 0.1) == (100, None)
    assert search_rate(lambda rate: rate <= 5, 25, 100, 0.1)[0] == 5
