"""Smoke test for bench/fuzz.py with a handful of cases per operation: its figures, never a verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.config import embedded_embedding_model_path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "fuzz.py"
KEYS = {
    "cases",
    "cases_per_pass",
    "server_errors_5xx",
    "schema_violations",
    "request_disagreements",
    "auth_findings",
    "failures_by_check",
    "failing_operations",
    "first_failing_case",
    "seconds",
}


@pytest.mark.skipif(embedded_embedding_model_path() is None, reason="the embedded embedding model is not installed")
@pytest.mark.timeout(600)
def test_fuzz_bench_runs_the_three_passes_and_prints_its_figures() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = [sys.executable, str(BENCH), "--cases", "1", "--max-examples", "1", "--max-passes", "1", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) >= KEYS
    assert set(figures["cases_per_pass"]) == {"no_key", "wrong_key", "key#1"}
    assert figures["cases"] == sum(figures["cases_per_pass"].values()) > 0
    assert isinstance(figures["server_errors_5xx"], int) and isinstance(figures["schema_violations"], int)
