"""Smoke test for bench/cascade_frontier.py on the real CSVs with pairs only: keys and the budget honoured,
never timings (the full figures are in NOTES)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.evals.test_routerbench import ARC, WINOGRANDE, need

ROOT = Path(__file__).resolve().parents[2]


def test_cascade_frontier_selects_within_the_budget() -> None:
    need(ARC, WINOGRANDE)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cascade_frontier.py"), "--data", f"{ARC},{WINOGRANDE}",
         "--max-size", "2", "--budget", "0.3", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["reference"] not in figures["cheap_models"]
    chosen = figures["chosen_on_train"]
    assert set(chosen["policies"]) == set(figures["frontier"]) == {"arc-challenge", "winogrande"}
    assert chosen["train"]["cost_fraction"] <= 0.3
    assert figures["best_on_test_within_budget"]["test"]["cost_fraction"] <= 0.3
    # the test-side pick is an upper bound for the family: at least as good on test as the honest one
    assert figures["best_on_test_within_budget"]["test"]["quality_kept"] >= chosen["test"]["quality_kept"]
    for task in figures["frontier"].values():
        costs = [p["train"]["cost_fraction"] for p in task]
        assert costs == sorted(costs) and task[-1]["train"]["quality_kept"] >= task[0]["train"]["quality_kept"]
