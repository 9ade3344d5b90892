"""Smoke test for bench/vector_engines.py: a tiny run, numpy engine only. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "vector_engines.py"


def test_vector_engines_bench_prints_its_figures() -> None:
    args = ["--sizes", "300", "--queries", "10", "--engines", "numpy"]
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert (report["k"], report["queries"], report["dim"]) == (100, 10, 384)
    runs = report["runs"]
    assert runs and {r["engine"] for r in runs} <= {"numpy", "numpy-1thread"}
    assert "numpy" in {r["engine"] for r in runs}
    for run in runs:
        assert (run["dataset"], run["n"], run["status"]) == ("random-300", 300, "ok")
        assert run["recall_at_k"] == 1.0  # brute force is exact
        assert run["matrix_bytes"] == 300 * 384 * 4 and run["disk_bytes"] > run["matrix_bytes"]
        assert run["query_p95_ms"] >= run["query_p50_ms"] > 0 and run["insert_s"] > 0


def test_vector_engines_bench_rejects_an_unknown_engine() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300", "--engines", "numpy,faiss"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "--engines: unknown faiss" in out.stderr
