"""``switchyard eval run / report / compare`` as a user runs them, against a real loopback upstream: the
report's JSON and Pareto PNG, compare's exit codes on a planted regression, and a run stopped with
Ctrl-C (SIGINT) that resumes without sending an answered item again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import Fault, MockUpstream

cli = CliRunner(env={"COLUMNS": "200"})


def write_set(path: Path, n: int) -> Path:
    lines = [
        orjson.dumps({"id": f"q{i}", "prompt": f"say token-{i}", "reference": f"token-{i}", "scorer": "contains"})
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def write_config(path: Path, url: str, db: Path) -> Path:
    def model(name: str, upstream: str, price: float) -> dict[str, Any]:
        return {
            "name": name, "provider": "openai", "base_url": url + "/v1", "upstream_model": upstream,
            "locality": "us", "price": {"input": price, "output": price * 4}, "retry": {"max_retries": 0},
        }  # fmt: skip

    cfg = {"server": {"db_path": str(db)}, "models": [model("model-a", "up-a", 2.0), model("model-b", "up-b", 0.2)]}
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def upstream() -> Any:
    with MockUpstream(models=["up-a", "up-b"]) as up:
        up.set_default(Fault.ok("I do not know"), model="up-b")  # the planted regression: b never answers right
        yield up


def invoke(*args: str) -> Any:
    return cli.invoke(app, ["eval", *args], catch_exceptions=False)


def test_run_report_and_compare_gate(tmp_path: Path, upstream: MockUpstream) -> None:
    cfg = str(write_config(tmp_path / "cfg.yaml", upstream.url, tmp_path / "db.sqlite"))
    items = str(write_set(tmp_path / "qa.jsonl", 12))
    r = invoke("run", items, "--models", "model-a", "--name", "base", "--config", cfg)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["answered"] == 12 and summary["failed"] == 0 and summary["run"] == "base"
    assert invoke("run", items, "--models", "model-b", "--name", "swap", "--config", cfg).exit_code == 0
    assert invoke("run", items, "--models", "model-a,model-b", "--name", "both", "--config", cfg).exit_code == 0

    r = invoke("report", "both", "--json", "--plots", str(tmp_path / "plots"), "--config", cfg)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    quality = {t["target"]: t["quality"] for t in report["targets"]}
    assert quality == {"model-a": 1.0, "model-b": 0.0}
    assert report["recommendation"]["target"] == "model-a"
    png = Path(report["plots"][0])
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = invoke("report", "both", "--config", cfg)
    assert text.exit_code == 0 and "recommended: model-a" in text.stdout

    regression = invoke("compare", "base", "swap", "--json", "--config", cfg)
    assert regression.exit_code == 1
    verdict = json.loads(regression.stdout)
    assert verdict["regression"] and verdict["paired"]["losses"] == 12 and verdict["paired"]["wins"] == 0
    same = invoke("compare", "base", "both", "--target-b", "model-a", "--config", cfg)
    assert same.exit_code == 0 and "no regression" in same.stdout
    assert invoke("compare", "base", "nope", "--config", cfg).exit_code == 2
    assert invoke("compare", "base", "both", "--config", cfg).exit_code == 0  # the one shared target: model-a

    # every answer of every run is in the ledger, tagged with its run
    store = SQLiteStore(tmp_path / "db.sqlite")
    ledger = [rec for rec in store.recent(1000) if rec.endpoint == "eval"]
    runs = {name: store.find_eval_run(name) for name in ("base", "swap", "both")}
    assert len(ledger) == 48 and {rec.eval_run for rec in ledger} == {r.id for r in runs.values() if r}
    store.close()
    # `switchyard report` shows the eval spend apart from production spend
    spend = cli.invoke(app, ["report", "--format", "json", "--config", cfg], catch_exceptions=False)
    assert spend.exit_code == 0, spend.output
    evals = json.loads(spend.stdout)["evals"]
    assert evals["requests"] == 48 and evals["runs"] == 3
    assert evals["cost"] == pytest.approx(sum(rec.cost for rec in ledger)) and evals["cost"] > 0
    table = cli.invoke(app, ["report", "--config", cfg], catch_exceptions=False)
    assert "eval runs and shadow calls: 48 requests over 3 run(s)" in table.stdout


def test_bad_input_is_a_clear_error(tmp_path: Path, upstream: MockUpstream) -> None:
    cfg = str(write_config(tmp_path / "cfg.yaml", upstream.url, tmp_path / "db.sqlite"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x", "reference": "y", "scorer": "contains"}\n{"id": "b"}\n')
    r = invoke("run", str(bad), "--models", "model-a", "--config", cfg)
    assert r.exit_code == 2 and "line 2" in r.output
    r = invoke("run", str(write_set(tmp_path / "ok.jsonl", 1)), "--config", cfg)
    assert r.exit_code == 2 and "at least one model" in r.output
    assert invoke("report", "missing", "--config", cfg).exit_code == 2


def test_ctrl_c_stops_and_the_same_command_resumes(tmp_path: Path, upstream: MockUpstream) -> None:
    upstream.set_default(Fault.ok(delay=0.15), model="up-a")
    db = tmp_path / "db.sqlite"
    cfg = str(write_config(tmp_path / "cfg.yaml", upstream.url, db))
    items = str(write_set(tmp_path / "qa.jsonl", 30))
    cmd = [sys.executable, "-m", "switchyard", "eval", "run", items, "--models", "model-a", "--name", "long",
           "--concurrency", "2", "--config", cfg]  # fmt: skip
    env = {**os.environ, "SWITCHYARD_DB_PATH": str(db)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    stored = 0
    while stored < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if db.exists():
            store = SQLiteStore(db)
            run = store.find_eval_run("long")
            stored = len(store.eval_results(run.id)) if run else 0
            store.close()
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    first = json.loads(out.decode().strip().splitlines()[-1])
    assert first["stopped"] and 4 <= first["answered"] < 30 and first["answered"] == first["sent"]
    again = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout.decode().strip().splitlines()[-1])
    assert second["skipped_already_answered"] == first["answered"] and second["answered"] == 30 - first["answered"]
    prompts = [r.body["messages"][-1]["content"] for r in upstream.requests if r.body["model"] == "up-a"]
    assert len(prompts) == len(set(prompts)) == 30  # no item sent twice
    store = SQLiteStore(db)
    run = store.find_eval_run("long")
    assert run is not None
    ok = [rec for rec in store.recent(1000) if rec.eval_run == run.id and rec.status == 200]
    assert len(ok) == 30
    store.close()
