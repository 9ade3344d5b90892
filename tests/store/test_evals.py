from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.errors import Conflict
from switchyard.store.evals import EvalResult, EvalRunRecord
from switchyard.store.sqlite import SQLiteStore

from .test_sqlite import record


def run(name: str = "r1") -> EvalRunRecord:
    return EvalRunRecord(
        id=f"id-{name}", name=name, created=1.0, set_name="qa.jsonl", set_digest="d" * 64,
        targets=["cheap", "premium"], team="evals", items=2, meta={"concurrency": 4},
    )  # fmt: skip


def test_runs_and_results_round_trip(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.create_eval_run(run())
    with pytest.raises(Conflict):
        store.create_eval_run(run())
    got = store.find_eval_run("r1")
    assert got == run() and store.find_eval_run("id-r1") == run()
    assert store.find_eval_run("nope") is None
    answered = EvalResult(
        "id-r1", "q1", "cheap", 2.0, request_id="req", served_model="m", answer="B", score=1.0, passed=True,
        input_tokens=10, output_tokens=1, cost=0.001, latency_ms=12.5, extra={"judge_prompt": "v1"},
        tool_calls=[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    )  # fmt: skip
    failed = EvalResult("id-r1", "q2", "cheap", 3.0, error="UpstreamTimeout: slow")
    store.add_eval_results([answered, failed])
    assert store.eval_results("id-r1") == [answered, failed]
    retried = EvalResult("id-r1", "q2", "cheap", 4.0, answer="A", score=0.0, passed=False)
    store.add_eval_results([retried])
    assert store.eval_results("id-r1") == [answered, retried]
    assert [r.name for r in store.eval_runs()] == ["r1"]


def test_the_ledger_keeps_the_eval_run_a_call_answered_for(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    tagged, production = record(1), record(2)
    tagged.eval_run = "id-r1"
    store.write([tagged, production])
    assert store.get("r1").eval_run == "id-r1"  # type: ignore[union-attr]
    assert store.get("r2").eval_run is None  # type: ignore[union-attr]
