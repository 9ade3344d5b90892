"""Smoke test for bench/metrics.py on a small input: the figures it prints, never their values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "metrics.py"


def test_metrics_bench_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--records", "500", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["records"] == 500
    assert figures["observe_us_per_request"] > 0 and figures["scrape_ms"] > 0
    assert figures["series_lines"] > 100
