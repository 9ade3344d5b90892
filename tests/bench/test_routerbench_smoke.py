"""Smoke test for bench/routerbench.py on a few items per side of the real CSVs: keys and sanity, never
timings (the full run's figures are in NOTES)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.evals.test_routerbench import ARC, WINOGRANDE, need

ROOT = Path(__file__).resolve().parents[2]


def test_routerbench_bench_runs_through_the_gateway() -> None:
    need(ARC, WINOGRANDE)
    csvs = f"{ARC},{WINOGRANDE}"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "routerbench.py"), "--train", csvs, "--test", csvs, "--limit", "40", "--json"],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["n_train"] == 40 and figures["n_test"] == 40 and len(figures["models"]) == 11
    # the ledger's costs are RouterBench's billed costs, and the choice scorer reads answers as RouterBench did
    assert figures["ledger_matches_csv"] < 1e-9
    assert figures["scorer_agreement"] > 0.95
    assert figures["recommendation"]["model"] in figures["models"]
    assert figures["oracle"]["cost_fraction"] <= 1.0 and figures["oracle"]["accuracy"] == 1.0
    # the cascade went through the gateway's routes: one plan per task, figures pooled and per task
    cascade = figures["cascade"]
    assert set(cascade["plans"]) == set(cascade["by_task"]) and cascade["items"] == 40
    assert cascade["cost_fraction"] > 0.0 and cascade["cost"] > 0
    # so did the N-model router fit on the train run, with its own held-out estimate
    router = figures["router"]
    assert router["items"] == 40 and sum(router["choices_on_test"].values()) == 40
    assert set(router["choices_on_test"]) <= set(figures["models"])
    held = router["held_out_on_train"]
    assert held is None or held["quality_kept_interval"][0] <= held["quality_kept"] <= held["quality_kept_interval"][1]
