"""Smoke test for scripts/simulate_traffic.py: a small month through the real gateway lands in the
ledger with simulated timestamps, and the report is written. Timings are never asserted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_traffic.py"


def test_simulated_month_goes_through_the_gateway_into_the_ledger(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "240", "--days", "10", "--out", str(tmp_path), "--no-plots"],
        capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ledger_rows"] == 240 == summary["requests"]  # one row per request sent
    assert sum(summary["client_outcomes"].values()) == 240
    assert summary["client_outcomes"].get("ok", 0) >= 200
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        days = conn.execute("SELECT COUNT(DISTINCT day) FROM requests").fetchone()[0]
        teams = {r[0] for r in conn.execute("SELECT DISTINCT team FROM requests")}
        localities = {r[0] for r in conn.execute("SELECT DISTINCT locality FROM requests WHERE locality IS NOT NULL")}
        on_prem_sensitive = conn.execute(
            "SELECT COUNT(*) FROM requests WHERE classes != '' AND locality = 'on_prem'"
        ).fetchone()[0]
        sensitive_out = conn.execute(
            "SELECT COUNT(*) FROM requests WHERE classes != '' AND route IS NOT NULL AND locality != 'on_prem'"
        ).fetchone()[0]
    assert days >= 8  # spread over the simulated days by the gateway's clock, not today
    assert teams == {"support", "engineering", "research", "clinical", "marketing"}
    assert localities == {"us", "on_prem"}
    assert on_prem_sensitive > 0 and sensitive_out == 0  # the routes' residency rules kept them in
    assert summary["savings_usd"] > 0 and 0 < summary["proprietary_request_share"] < 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["total"]["requests"] == 240 and len(report["days"]) == days
    assert (tmp_path / "report.csv").read_text().startswith("section,key,")
