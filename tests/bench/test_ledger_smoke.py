"""Smoke test for bench/ledger.py: a tiny ledger must be filled and reported on. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ledger.py"


def test_ledger_bench_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "6000", "--days", "40", "--batch", "2000", "--repeat", "1",
         "--compare-scan", "--db", str(tmp_path / "l.db")],
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("monthly report") for line in lines), done.stdout
    result = json.loads(lines[-1])
    assert result["history_rows"] == 6000
    timed = result["rows"] - 6000  # written through SQLiteStore.write in the last hour
    assert timed > 0
    # the last 30 of the 40 days of history, plus the timed writes: most but not all of the requests
    assert 6000 * 25 / 40 + timed < result["report_requests"] < result["rows"]
    for key in ("bulk_inserts_per_s", "steady_inserts_per_s_batch_500", "monthly_report_ms", "budget_seed_ms",
                "usage_30d_ms", "dashboard_30d_ms", "usage_30d_team_ms", "dashboard_30d_team_ms", "scan_ms"):  # fmt: skip
        assert result[key] > 0, key
    # the dashboard's sliding 30 days: most of the history's last 30 days and every timed write
    assert 6000 * 25 / 40 + timed < result["dashboard_requests"] < result["rows"]
