"""The scorer registry and the Scoring entry point."""

from __future__ import annotations

import pytest

from switchyard.evals import Answer, Score, ScorerDeps, ScorerError, ScorerKind, Scoring, default_registry
from switchyard.evals.scorers import Args, sync_kind

from ..helpers import make_item

BUILT_IN = [
    "choice",
    "contains",
    "embedding",
    "exact",
    "json_schema",
    "judge",
    "normalized",
    "numeric",
    "regex",
    "tool_call",
]


def test_built_in_scorers_are_registered_by_name() -> None:
    assert default_registry().names() == BUILT_IN


def test_unknown_scorers_and_arguments_are_refused() -> None:
    reg = default_registry()
    with pytest.raises(ScorerError, match=r"unknown scorer 'fuzzy' \(known: choice, contains,") as exc:
        reg.check(make_item("fuzzy").scorer)
    assert exc.value.field == "scorer"
    with pytest.raises(ScorerError, match=r"bad arguments for scorer 'exact': stirp: Extra inputs are not permitted"):
        reg.check(make_item({"name": "exact", "stirp": False}).scorer)
    with pytest.raises(ScorerError, match=r"bad arguments for scorer 'contains': require"):
        reg.check(make_item({"name": "contains", "require": "most"}).scorer)


class LengthArgs(Args):
    max_chars: int = 10


def _length(args: LengthArgs, item: object, answer: Answer) -> Score:
    return Score.of(len(answer.text) <= args.max_chars)


async def test_a_teams_own_scorer_registers_like_the_built_ins() -> None:
    reg = default_registry()
    reg.register(sync_kind("short", LengthArgs, _length, summary="at most max_chars characters"))
    scoring = Scoring(registry=reg)
    assert (await scoring.score(make_item({"name": "short", "max_chars": 5}), Answer("hi"))).passed
    assert not (await scoring.score(make_item("short"), Answer("far too long an answer"))).passed


async def test_each_distinct_spec_is_built_once() -> None:
    built: list[int] = []

    class Counting:
        async def score(self, item: object, answer: Answer) -> Score:
            return Score.of(True)

    def build(args: Args, deps: ScorerDeps) -> Counting:
        built.append(1)
        return Counting()

    reg = default_registry()
    reg.register(ScorerKind("counting", Args, build))
    scoring = Scoring(registry=reg)
    for _ in range(3):
        await scoring.score(make_item("counting"), Answer())
        await scoring.score(make_item({"name": "counting"}), Answer())  # the same spec, written differently
    assert built == [1]


def test_score_values_are_bounded() -> None:
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            Score(bad, False)
    assert Score.of(True).value == 1.0 and Score(1, True).value == 1.0
