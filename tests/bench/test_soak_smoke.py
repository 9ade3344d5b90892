"""Smoke test for bench/soak.py: a tiny run of every request kind must report, with one ledger row per
answered chat request. Timings and memory figures are never asserted (they are the measurement)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "soak.py"
TIMEOUT = 240
KEYS = {
    "requests",
    "seconds",
    "rss_mb_start",
    "rss_mb_end",
    "rss_mb_max",
    "rss_growth_pct",
    "fds_start",
    "fds_end",
    "fd_growth",
    "answered_chat",
    "unanswered_chat",
    "rag_searches",
    "ledger_rows",
    "ledger_statuses",
    "statuses_by_kind",
}


def test_soak_smoke() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), "--requests", "120", "--concurrency", "4", "--sample-every", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,  # a timeout stops what it started too
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"bench/soak.py took longer than {TIMEOUT}s:\n{out}\n{err}")
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) > 1, "a human-readable line comes before the JSON"
    result = json.loads(lines[-1])
    assert result.keys() >= KEYS, KEYS - result.keys()
    assert set(result["statuses_by_kind"]) == {
        "chat",
        "stream",
        "slow",
        "upstream_5xx",
        "upstream_5xx_stream",
        "cancelled",
        "rag_search",
    }
    assert result["unanswered_chat"] == 0 and result["first_errors"] == [], result["first_errors"]
    assert result["answered_chat"] + result["rag_searches"] == 120
    assert result["ledger_rows"] == result["answered_chat"]  # one row per answered chat request
    assert result["ledger_statuses"].get("499", 0) > 0  # the cancelled streams were recorded as such
    assert result["rss_mb_start"] > 0 and result["fds_start"] > 0
