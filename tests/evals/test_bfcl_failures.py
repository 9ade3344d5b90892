"""The scripted failures on real BFCL items: every kind a schema can see is refused by the tool's schema,
every kind is wrong by BFCL's rules, and the draws are reproducible."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from switchyard.evals import bfcl
from switchyard.evals.bfcl import Call, Item, check, schema_problem
from switchyard.evals.bfcl_failures import (
    PROSE_REPLY,
    SCHEMA_VISIBLE,
    Failure,
    Scripted,
    applicable,
    correct_answer,
    corrupt,
    draw,
)
from tests.evals.test_bfcl import DATA, WEATHER, WEATHER_TRUTH, item, need

SAMPLE = 25  # items per category


@pytest.fixture(scope="module")
def sample() -> list[Item]:
    need()
    items = [i for c in bfcl.available_categories(DATA) for i in bfcl.load(DATA, c, limit=SAMPLE)]
    return [i for i in items if schema_problem(i, correct_answer(i).calls, required=i.wants_call) is None]


def test_each_failure_is_wrong_and_each_schema_visible_one_is_refused(sample: list[Item]) -> None:
    seen: Counter[Failure] = Counter()
    for it in sample:
        answer = correct_answer(it)
        assert check(it, answer.calls).correct, it.id
        for kind in applicable(it, answer):
            for seed in range(3):
                bad = corrupt(it, answer, kind, random.Random(seed))
                assert bad.failure is kind
                assert not check(it, bad.calls).correct, (it.id, kind, bad)
                problem = schema_problem(it, bad.calls, required=it.wants_call)
                assert (problem is not None) is (kind in SCHEMA_VISIBLE), (it.id, kind, bad)
                seen[kind] += 1
    assert set(seen) == set(Failure)


def test_irrelevance_answers_in_prose_and_fails_by_calling(tmp_path: Path) -> None:
    it = item(tmp_path, "irrelevance", [WEATHER], None)
    answer = correct_answer(it)
    assert answer == Scripted(PROSE_REPLY, ())
    assert applicable(it, answer) == [Failure.CALL_ON_IRRELEVANCE]
    (made,) = corrupt(it, answer, Failure.CALL_ON_IRRELEVANCE, random.Random(0)).calls
    assert made.name == "weather_get" and json.loads(made.arguments) == {"city": "What now?"}


def test_kinds_that_do_not_apply(tmp_path: Path) -> None:
    fn = {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "any"}}}}
    it = item(tmp_path, "simple_python", [fn], [{"f": {"x": ["a"]}}])
    answer = correct_answer(it)
    # x has no type to get wrong and is not required
    assert Failure.WRONG_TYPE not in applicable(it, answer) and Failure.MISSING_REQUIRED not in applicable(it, answer)
    with pytest.raises(ValueError, match="does not apply"):
        corrupt(it, answer, Failure.MISSING_REQUIRED, random.Random(0))


def test_each_failure_in_detail(tmp_path: Path) -> None:
    it = item(tmp_path, "simple_python", [WEATHER], [WEATHER_TRUTH])
    answer = correct_answer(it)
    rng = random.Random(3)

    def args(kind: Failure) -> str:
        (c,) = corrupt(it, answer, kind, rng).calls
        return c.arguments

    assert "city" not in json.loads(args(Failure.MISSING_REQUIRED))
    assert json.loads(args(Failure.EXTRA_ARGUMENT))["verbose"] == "auto"
    with pytest.raises(ValueError):
        json.loads(args(Failure.MALFORMED_JSON))
    wrong = json.loads(args(Failure.WRONG_TYPE))
    assert any(type(wrong[k]) is not type(v) for k, v in json.loads(answer.calls[0].arguments).items())
    assert corrupt(it, answer, Failure.UNKNOWN_FUNCTION, rng).calls[0].name == "weather_get_v2"
    prose = corrupt(it, answer, Failure.PROSE, rng)
    assert prose.calls == () and "weather.get(" in prose.text


def test_draws_are_reproducible_and_at_the_rate(sample: list[Item]) -> None:
    def failures(rate: float, attempt: int) -> list[Failure | None]:
        return [draw(i, random.Random(f"0|cheap|{i.id}|{attempt}"), rate).failure for i in sample]

    assert failures(0.2, 0) == failures(0.2, 0)
    assert failures(0.2, 0) != failures(0.2, 1)  # a repair gets a fresh draw
    assert all(f is None for f in failures(0.0, 0)) and all(f is not None for f in failures(1.0, 0))
    share = sum(f is not None for f in failures(0.2, 0)) / len(sample)
    assert 0.1 < share < 0.3, share


def test_a_parallel_answer_has_one_call_corrupted(sample: list[Item]) -> None:
    it = next(i for i in sample if i.category == "parallel" and len(i.ground_truth) > 1)
    answer = correct_answer(it)
    bad = corrupt(it, answer, Failure.EXTRA_ARGUMENT, random.Random(1))
    assert sum(a != b for a, b in zip(answer.calls, bad.calls, strict=True)) == 1
    assert isinstance(bad.calls[0], Call)
