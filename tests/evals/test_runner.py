"""Eval runs through the gateway's call core against a real loopback upstream: every pair answered,
scored and stored, each call in the ledger tagged with the run; resume never sends an answered item
again; retryable failures are retried, the rest stored as failures and tried again on resume."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from switchyard.config import GatewayConfig, Settings
from switchyard.errors import InvalidRequest
from switchyard.evals.runner import EVAL_ENDPOINT, EvalRunner, RunPlan
from switchyard.evals.scorers import Scoring
from switchyard.evals.sets import EvalSet, parse_eval_set
from switchyard.gateway import Gateway
from switchyard.store.evals import EvalRunRecord
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import Fault, MockUpstream
from switchyard.types import Principal
from tests.server.configs import openai_model

TEAM = Principal(key_id="key-evals", team="evals")


def eval_set(n: int = 6, name: str = "qa") -> EvalSet:
    lines = [
        orjson.dumps({"id": f"q{i}", "prompt": f"say token-{i}", "reference": f"token-{i}", "scorer": "contains"})
        for i in range(n)
    ]
    return parse_eval_set(lines, name=name)


@pytest.fixture
def upstream() -> Any:
    with MockUpstream(models=["up-a", "up-b"]) as up:
        yield up


@pytest.fixture
async def gateway(tmp_path: Path, upstream: MockUpstream) -> AsyncIterator[Gateway]:
    config = GatewayConfig(
        models=[
            openai_model("model-a", upstream.url, "up-a", retry={"max_retries": 0}),
            openai_model("model-b", upstream.url, "up-b", retry={"max_retries": 0}),
        ]
    )
    gw = Gateway(Settings(db_path=tmp_path / "gw.db", ledger_flush_interval=0.02), config, environ={})
    await gw.start(warm=False)
    yield gw
    await gw.aclose()


def runner(gw: Gateway, **kw: Any) -> EvalRunner:
    return EvalRunner(gw.chat, TEAM, gw.store, lambda _run: Scoring(), flush_ledger=gw.ledger.flush, **kw)


def ledger_of(gw: Gateway, run: EvalRunRecord) -> list[Any]:
    assert isinstance(gw.store, SQLiteStore)
    return [r for r in gw.store.recent(10_000) if r.eval_run == run.id]


async def test_every_item_to_every_target_scored_stored_and_in_the_ledger(gateway: Gateway) -> None:
    items = eval_set()
    outcome = await runner(gateway).run(items, RunPlan("first", ("model-a", "model-b"), concurrency=3))
    assert (outcome.sent, outcome.answered, outcome.failed, outcome.skipped, outcome.stopped) == (12, 12, 0, 0, False)
    results = gateway.store.eval_results(outcome.run.id)
    assert len(results) == 12 and all(r.passed and r.score == 1.0 for r in results)  # the mock echoes the prompt
    ledger = {r.id: r for r in ledger_of(gateway, outcome.run)}
    assert len(ledger) == 12 and all(r.endpoint == EVAL_ENDPOINT and r.team == "evals" for r in ledger.values())
    for r in results:
        rec = ledger[r.request_id]  # type: ignore[index]
        assert rec.served_model == r.target == r.served_model
        assert (rec.input_tokens, rec.output_tokens) == (r.input_tokens, r.output_tokens)
        assert rec.cost == pytest.approx(r.cost) and r.cost > 0
    run = gateway.store.find_eval_run("first")
    assert run is not None and run.meta["item_ids"] == [f"q{i}" for i in range(6)] and run.meta["params"] == {}


async def test_a_stopped_run_resumes_without_sending_an_answered_item_again(
    gateway: Gateway, upstream: MockUpstream
) -> None:
    items = eval_set(10)
    upstream.set_default(Fault.ok(delay=0.05))
    plan = RunPlan("resumable", ("model-a", "model-b"), concurrency=3)
    first = runner(gateway)
    first.progress = lambda done, _total: first.stop() if done >= 5 else None
    one = await first.run(items, plan)
    assert one.stopped and 5 <= one.answered < 20 and one.answered == one.sent  # in-flight calls finished
    two = await runner(gateway).run(items, plan)
    assert not two.stopped and two.skipped == one.answered and two.sent == 20 - one.answered
    # the upstream saw each (item, model) exactly once, and the ledger has one answer per pair
    sent = [(r.body["model"], r.body["messages"][-1]["content"]) for r in upstream.requests]
    assert len(sent) == len(set(sent)) == 20
    ok = [r for r in ledger_of(gateway, one.run) if r.status == 200]
    assert len(ok) == 20
    assert {r.request_id for r in gateway.store.eval_results(one.run.id)} == {r.id for r in ok}


async def test_retryable_failures_are_retried_and_the_rest_tried_again_on_resume(
    gateway: Gateway, upstream: MockUpstream
) -> None:
    items = eval_set(2)
    upstream.script([Fault.status(500)], model="up-a")  # retried by the runner, then answered
    upstream.script([Fault.status(400, "no")], model="up-b")  # not retryable: a stored failure
    plan = RunPlan("retries", ("model-a", "model-b"), concurrency=1, retries=1)
    one = await runner(gateway).run(items, plan)
    assert (one.answered, one.failed) == (3, 1)
    failed = [r for r in gateway.store.eval_results(one.run.id) if not r.answered]
    assert len(failed) == 1 and failed[0].target == "model-b" and "UpstreamStatusError" in (failed[0].error or "")
    two = await runner(gateway).run(items, plan)
    assert (two.sent, two.answered, two.skipped) == (1, 1, 3)
    assert all(r.answered for r in gateway.store.eval_results(one.run.id))


async def test_a_run_resumes_only_over_the_same_set_and_targets(gateway: Gateway) -> None:
    await runner(gateway).run(eval_set(2), RunPlan("fixed", ("model-a",)))
    with pytest.raises(InvalidRequest) as err:
        await runner(gateway).run(eval_set(3), RunPlan("fixed", ("model-a",)))
    assert err.value.param == "name"
    with pytest.raises(InvalidRequest) as err:
        await runner(gateway).run(eval_set(2), RunPlan("fixed", ("model-b",)))
    assert err.value.param == "models"


def test_plans_are_checked() -> None:
    for bad in (dict(targets=()), dict(targets=("a", "a")), dict(targets=("a",), concurrency=0)):
        with pytest.raises(InvalidRequest):
            RunPlan("x", **bad)  # type: ignore[arg-type]


async def test_a_judge_is_called_through_the_gateway_and_billed_to_the_run(
    gateway: Gateway, upstream: MockUpstream
) -> None:
    from switchyard.evals.runner import gateway_judge
    from switchyard.evals.scorers import ScorerDeps

    line = {"id": "j1", "prompt": "write a haiku", "scorer": {"name": "judge", "rubric": "is it a haiku?"}}
    items = parse_eval_set([orjson.dumps(line)], name="judged")
    upstream.set_default(Fault.ok("Rating: 8/10"), model="up-b")  # the judge

    def scoring(run: EvalRunRecord) -> Scoring:
        return Scoring(ScorerDeps(judge=gateway_judge(gateway.chat, TEAM, "model-b", run.id)))

    runner_ = EvalRunner(gateway.chat, TEAM, gateway.store, scoring, flush_ledger=gateway.ledger.flush)
    outcome = await runner_.run(items, RunPlan("judged", ("model-a",)))
    (result,) = gateway.store.eval_results(outcome.run.id)
    assert result.score == pytest.approx(0.8) and result.passed
    await gateway.ledger.flush()
    calls = ledger_of(gateway, outcome.run)
    assert sorted(r.served_model for r in calls) == ["model-a", "model-b"]  # the answer and its judging
    judged = [r for r in upstream.requests if r.body["model"] == "up-b"]
    assert len(judged) == 1 and "write a haiku" in str(judged[0].body["messages"])


async def test_a_run_records_where_its_set_is(tmp_path: Path, gateway: Gateway) -> None:
    """`switchyard router fit --from-run` reads the prompts from there (checked against the run's sha256)."""
    from switchyard.evals.sets import load_eval_set

    path = tmp_path / "qa.jsonl"
    lines = [
        orjson.dumps({"id": f"q{i}", "prompt": f"say token-{i}", "reference": "x", "scorer": "contains"})
        for i in range(2)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    run, _ = await runner(gateway).open_run(load_eval_set(path), RunPlan("with-path", ("model-a",)))
    assert run.meta["set_path"] == str(path.resolve())
    run, _ = await runner(gateway).open_run(eval_set(2), RunPlan("from-lines", ("model-a",)))
    assert run.meta["set_path"] is None
