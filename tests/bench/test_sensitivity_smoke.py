"""Smoke tests for bench/sensitivity.py on tiny generated inputs. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sensitivity.py"
SHARED_PII = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pii"
KEYS = {"docs", "doc_recall", "doc_precision", "span_recall", "span_precision", "span_f2", "fp_rate", "ms_per_kb"}


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240, check=False)


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "human-readable lines come before the JSON"
    result: dict[str, Any] = json.loads(lines[-1])
    assert result.keys() >= KEYS, f"missing keys: {sorted(KEYS - result.keys())}"
    for key in KEYS - {"docs", "ms_per_kb"}:
        assert result[key] is None or 0.0 <= result[key] <= 1.0, (key, result[key])
    return result


def span(text: str, value: str) -> dict[str, Any]:
    start = text.index(value)
    return {"start": start, "end": start + len(value), "label": "PHI"}


def test_spans_jsonl(tmp_path: Path) -> None:
    notes = [
        "PT SEEN BY DR GREENBERG. WIFE MARY CALLED AT 617-555-0142, ADMITTED 2/13.",
        "Please email maria.lopez@example.com about the refund.",
        "NEURO: A&OX3, MAE. RESP: LS CLEAR. PLAN: CONT TO MONITOR.",
    ]
    records = [
        {"text": notes[0], "spans": [span(notes[0], v) for v in ("GREENBERG", "MARY", "617-555-0142", "2/13")]},
        {"text": notes[1], "spans": [span(notes[1], "maria.lopez@example.com")]},
        {"text": notes[2], "spans": []},
    ]
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = result_of(run_bench("--format", "spans-jsonl", str(path), "--json"))
    assert result["docs"] == 3
    assert result["doc_recall"] == 1.0
    assert result["span_recall"] > 0.5
    assert result["fp_rate"] == 0.0


def test_conll(tmp_path: Path) -> None:
    sentences = [
        [
            ("Germline", "O"),
            ("mutations", "O"),
            ("in", "O"),
            ("BRCA1", "O"),
            ("cause", "O"),
            ("breast", "B-Disease"),
            ("cancer", "I-Disease"),
            (".", "O"),
        ],
        [("Wilson", "B-Disease"), ("disease", "I-Disease"), ("is", "O"), ("inherited", "O"), (".", "O")],
    ]
    path = tmp_path / "tiny.tsv"
    path.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in s) for s in sentences) + "\n")
    result = result_of(run_bench("--format", "conll", str(path), "--json"))
    assert result["docs"] == 2
    assert result["doc_recall"] is None  # no personal data in the file
    assert result["fp_rate"] == 0.0


def test_missing_file_exits_2(tmp_path: Path) -> None:
    done = run_bench("--format", "presidio", str(tmp_path / "absent.json"), "--json")
    assert done.returncode == 2
    assert "not found" in done.stderr


def test_shared_pii_data() -> None:
    if not SHARED_PII.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_PII}")
    synth = result_of(
        run_bench(
            "--format", "presidio", str(SHARED_PII / "presidio_synth_dataset_v2.json"), "--limit", "300", "--json"
        )
    )
    assert synth["docs"] == 300
    assert synth["span_f2"] > 0.5 and synth["doc_recall"] > 0.7
    ncbi = result_of(
        run_bench("--format", "conll", str(SHARED_PII / "ncbi_disease_devel.tsv"), "--limit", "300", "--json")
    )
    assert ncbi["fp_rate"] < 0.1
