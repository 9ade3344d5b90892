"""Smoke test for bench/rag_store.py on a tiny synthetic collection. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rag_store.py"


def test_rag_store_bench_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--docs", "60", "--queries", "5", "--dim", "8", "--words", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["docs"] == 60 and report["dense"]["p95_ms"] >= report["dense"]["p50_ms"] >= 0
    assert {"bm25s", "fts5", "dense_load_s", "bm25s_build_s", "store_mb"} <= report.keys()
