"""Smoke test for bench/toolcalls.py on a few items of each BFCL category and one embedded item per
category: the keys and that the counts add up, never timings (the full run's figures are in NOTES)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.evals.test_bfcl import DATA, need

BENCH = Path(__file__).resolve().parents[2] / "bench" / "toolcalls.py"
KEYS = {
    "raw_failure_rate",
    "delivered_failure_rate",
    "repairs",
    "escalations",
    "added_cost_fraction",
    "p50_ms",
    "p95_ms",
    "delivered_errors",
    "ast_accuracy",
    "by_category",
    "by_failure",
    "no_guard",
    "embedded",
}
LIMIT = 4


def test_toolcalls_bench_runs_through_the_gateway() -> None:
    need()
    args = ["--data", str(DATA), "--limit", str(LIMIT), "--embedded-limit", "1", "--raw-failure", "0.5", "--json"]
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    f = json.loads(out.stdout.strip().splitlines()[-1])
    assert not KEYS - f.keys(), sorted(KEYS - f.keys())
    categories = f["by_category"]
    assert len(categories) == 7 and f["requests"] + len(f["excluded"]) == 7 * LIMIT
    assert sum(c["requests"] for c in categories.values()) == f["requests"] == f["upstream_first_answers"]
    assert (
        sum(c["raw_failures"] for c in categories.values())
        == f["raw_failures"]
        == sum(k["raw"] for k in f["by_failure"].values())
    )
    assert f["raw_failure_rate"] == pytest.approx(f["raw_failures"] / f["requests"], abs=1e-6)
    assert 0 < f["raw_failures"] < f["requests"]
    assert f["same_first_answers"] is True  # both runs got the same first answers: a fair baseline
    # the ledger holds every measured request of both runs
    assert f["ledger"]["guard"]["rows"] == f["ledger"]["no_guard"]["rows"] == f["requests"]
    assert f["cost_usd"]["no_guard"] > 0 and f["added_cost_fraction"] >= 0
    # without the guard the client gets what the cheap model said: delivered == raw
    assert f["no_guard"]["delivered_failure_rate"] == f["no_guard"]["raw_failure_rate"] == f["raw_failure_rate"]
    assert f["delivered_failures"] >= f["delivered_errors"]
    if f["guard"] == "absent":
        assert f["delivered_failure_rate"] == f["raw_failure_rate"] and f["added_cost_fraction"] == 0
        assert f["repairs"] == f["escalations"] == 0
    else:
        assert f["delivered_failure_rate"] <= f["raw_failure_rate"]
        visible = sum(k["raw"] for k in f["by_failure"].values() if k["schema_visible"])
        assert f["repairs"] + f["escalations"] >= visible - f["delivered_errors"]
    embedded = f["embedded"]
    if "skipped" not in embedded:
        for variant in ("constrained", "guarded", "auto"):
            assert embedded[variant]["requests"] == 2 and set(embedded[variant]["by_category"]) == {
                "simple_python",
                "multiple",
            }
            assert 0 <= embedded[variant]["valid_call_rate"] <= 1
