"""Pairwise judging of a two-target run (a shadow run: production vs. candidate on live prompts): each
item's answers judged in both orders, scores written back, then ``compare`` over the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.errors import InvalidRequest
from switchyard.evals.compare import compare
from switchyard.evals.judging import judge_run
from switchyard.store.evals import EvalResult, EvalRunRecord
from switchyard.store.sqlite import SQLiteStore

RUN = EvalRunRecord("r1", "shadow-assist-cand", 0.0, "live:assist", "live", ["assist", "cand"], "apps", 0, "shadow")


def shadow_store(tmp_path: Path, candidate_good: set[int], n: int = 12) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.create_eval_run(RUN)
    rows = []
    for i in range(n):
        messages = [{"role": "user", "content": f"question {i}"}]
        rows.append(EvalResult("r1", f"req{i}", "assist", 1.0, answer=f"good answer {i}", extra={"messages": messages}))
        text = f"good answer {i}" if i in candidate_good else f"poor answer {i}"
        rows.append(EvalResult("r1", f"req{i}", "cand", 1.0, answer=text))
    rows.append(EvalResult("r1", "req-failed", "assist", 1.0, answer="x", extra={"messages": messages}))
    rows.append(EvalResult("r1", "req-failed", "cand", 1.0, error="UpstreamTimeout: slow"))
    store.add_eval_results(rows)
    return store


def fair_judge(calls: list[str]):  # type: ignore[no-untyped-def]
    """Prefers the answer that says "good"; a tie when both or neither do."""

    async def ask(messages: list[dict[str, str]]) -> str:
        text = messages[-1]["content"]
        calls.append(text)
        a = text.split("[Answer A]")[1].split("[Answer B]")[0]
        b = text.split("[Answer B]")[1].split("[Criteria]")[0]
        if ("good" in a) == ("good" in b):
            return "Both fine. [[C]]"
        return "Clearly better. [[A]]" if "good" in a else "B is right. [[B]]"

    return ask


async def test_a_worse_candidate_is_judged_and_compare_catches_it(tmp_path: Path) -> None:
    store = shadow_store(tmp_path, candidate_good={0, 1, 2})
    calls: list[str] = []
    outcome = await judge_run(RUN, store, fair_judge(calls))
    assert (outcome.judged, outcome.first_wins, outcome.second_wins, outcome.ties) == (12, 9, 0, 3)
    assert outcome.skipped == 1 and len(calls) == 24  # both orders, the failed pair not judged
    assert any("question 3" in c for c in calls)  # the prompt reached the judge
    results = store.eval_results("r1")
    cand = {r.item_id: r.score for r in results if r.target == "cand"}
    assert cand["req0"] == 0.5 and cand["req5"] == 0.0
    c = compare(RUN, results, RUN, results, target_a="assist", target_b="cand")
    assert c.regression and c.paired.losses == 9 and c.paired.ties == 4


async def test_a_position_biased_judge_only_ties(tmp_path: Path) -> None:
    store = shadow_store(tmp_path, candidate_good=set())

    async def always_a(_messages: list[dict[str, str]]) -> str:
        return "[[A]]"

    outcome = await judge_run(RUN, store, always_a)
    assert outcome.ties == 12 and outcome.first_wins == outcome.second_wins == 0


async def test_only_two_target_runs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    three = EvalRunRecord("r3", "three", 0.0, "s", "d", ["a", "b", "c"], "t", 1)
    store.create_eval_run(three)
    with pytest.raises(InvalidRequest):
        await judge_run(three, store, fair_judge([]))
