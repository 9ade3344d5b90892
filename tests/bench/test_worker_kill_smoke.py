"""Smoke test for bench/worker_kill.py: a short run with one worker killed must report. Timings are never
asserted, nor how many records the kill cost (that is the measurement)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "worker_kill.py"
TIMEOUT = 180


def test_worker_kill_smoke() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), "--seconds", "2", "--concurrency", "4"],
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
        pytest.fail(f"bench/worker_kill.py took longer than {TIMEOUT}s:\n{out}\n{err}")
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) > 1, "a human-readable line comes before the JSON"
    result = json.loads(lines[-1])
    assert result["acknowledged"] > 0 and result["error_answers"] == 0
    assert 0 <= result["lost"] <= result["acknowledged"]
    assert result["ledger_rows"] == result["acknowledged"] - result["lost"]  # every row was acknowledged
    assert result["replaced"] is True  # the parent started a new worker in place of the killed one
