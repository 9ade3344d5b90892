"""The walkthrough of docs/evals.md, as a user runs it: the example set against the embedded local-chat
model and two models replayed from recordings, the report with its Pareto PNG, and a model swap that
`eval compare` stops (exit code 1) because the cheaper model loses quality."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.testing import Recording, ReplayUpstream
from tests.conftest import need_embedded_chat

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "evals"
cli = CliRunner(env={"COLUMNS": "200"})


def test_the_example_walkthrough(tmp_path: Path) -> None:
    need_embedded_chat()
    recordings = Recording.load(EXAMPLES / "recordings.jsonl")
    with ReplayUpstream(recordings) as replay:
        cfg = yaml.safe_load((EXAMPLES / "replay.yaml").read_text())
        cfg["server"]["db_path"] = str(tmp_path / "evals.db")
        for model in cfg["models"]:
            if model.get("base_url"):
                model["base_url"] = replay.url + "/v1"
        config = tmp_path / "replay.yaml"
        config.write_text(yaml.safe_dump(cfg))
        sample = str(EXAMPLES / "sample.jsonl")

        def run(*args: str) -> dict[str, object]:
            r = cli.invoke(app, ["eval", "run", sample, *args, "--config", str(config)], catch_exceptions=False)
            assert r.exit_code == 0, r.output
            out: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
            return out

        first = run("--models", "local-chat,premium-model,budget-model", "--max-tokens", "32", "--name", "demo")
        assert first["answered"] == 60 and first["failed"] == 0
        r = cli.invoke(app, ["eval", "report", "demo", "--json", "--plots", str(tmp_path), "--config", str(config)])
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout)
        quality = {t["target"]: t["quality"] for t in report["targets"]}
        assert quality["premium-model"] == 1.0 and quality["budget-model"] == 0.7
        assert 0.0 <= quality["local-chat"] <= 1.0  # SmolLM2-135M: 0.6 when measured (docs/evals.md)
        assert report["recommendation"]["target"] == "premium-model"
        assert Path(report["plots"][0]).read_bytes()[:4] == b"\x89PNG"

        run("--models", "premium-model", "--name", "base")
        run("--models", "budget-model", "--name", "swap")
        gate = cli.invoke(app, ["eval", "compare", "base", "swap", "--config", str(config)])
        assert gate.exit_code == 1 and "regression" in gate.stdout and "6 worse" in gate.stdout
        same = cli.invoke(
            app, ["eval", "compare", "base", "demo", "--target-b", "premium-model", "--config", str(config)]
        )
        assert same.exit_code == 0
