"""Smoke test for bench/rag_store.py on a tiny synthetic collection. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rag_store.py"


@pytest.mark.parametrize("store", ["sqlite", "postgres", "postgres-bytea"])
def test_rag_store_bench_prints_its_figures(store: str, request: pytest.FixtureRequest) -> None:
    args = ["--docs", "60", "--queries", "5", "--dim", "8", "--words", "20", "--k", "10"]
    args += ["--store", store.split("-")[0]]
    if store.startswith("postgres"):
        args += ["--postgres-dsn", request.getfixturevalue("postgres_dsn")]
    if store == "postgres-bytea":
        args += ["--no-pgvector"]
    out = subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert (
        report["store"] == store.split("-")[0]
        and report["docs"] == 60
        and report["dense"]["p95_ms"] >= report["dense"]["p50_ms"] >= 0
    )
    assert {"bm25s", "store_lexical", "dense_load_s", "bm25s_build_s", "store_mb"} <= report.keys()
    if store == "postgres" and report["vectors"] == "pgvector":  # the server has the extension
        assert report["store_dense"]["p95_ms"] >= report["store_dense"]["p50_ms"] >= 0
        assert 0 <= report["store_dense"]["recall_at_k"] <= 1
    else:
        assert report["store_dense"] is None and report["vectors"] in ("sqlite", "bytea")
