"""Smoke test for bench/adversarial.py on small sizes: the figures it prints, never their values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "adversarial.py"


def test_adversarial_bench_prints_its_figures() -> None:
    families = ["url_scheme_dots", "swift_spaces", "month_days"]
    args = [sys.executable, str(BENCH), "--sizes", "4K,16K", "--detectors", "--json"]
    for family in families:
        args += ["--family", family]
    out = subprocess.run(args, capture_output=True, text=True, timeout=240, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) > len(families), "human-readable lines come before the JSON"
    figures = json.loads(lines[-1])
    assert figures["sizes"] == [4096, 16384]
    assert set(figures["families"]) == set(families)
    for entry in figures["families"].values():
        assert entry["worst_ms_per_kb"] > 0 and set(entry["ms"]) == {"4096", "16384"}
        assert set(entry["detectors"]) >= {"secrets", "financial", "dates", "names"}
    assert figures["worst_ms_per_kb"] >= max(e["worst_ms_per_kb"] for e in figures["families"].values())


def test_help_lists_the_options() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "--sizes" in out.stdout and "--family" in out.stdout
