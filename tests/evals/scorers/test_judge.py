"""judge: rubric ratings and pairwise comparison with position swapping, through a fake async judge."""

from __future__ import annotations

import pytest

from switchyard.evals import (
    JUDGE_PROMPT_VERSION,
    Answer,
    ScorerDeps,
    ScorerError,
    Scoring,
    default_registry,
    judge_pair,
)
from switchyard.evals.scorers import parse_preference, parse_rating

from ..helpers import grade, make_item


class FakeJudge:
    """Answers every call with ``reply(user_message)`` and keeps the messages it was sent."""

    def __init__(self, reply: object) -> None:
        self.reply = reply
        self.sent: list[list[dict[str, str]]] = []

    async def __call__(self, messages: list[dict[str, str]]) -> str:
        self.sent.append(messages)
        reply = self.reply
        return reply(messages[-1]["content"]) if callable(reply) else str(reply)


def answers_in(prompt: str) -> tuple[str, str]:
    a = prompt.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)[0]
    b = prompt.split("[Answer B]\n", 1)[1].split("\n\n[Criteria]", 1)[0]
    return a, b


def knows_paris(prompt: str) -> str:
    """A consistent judge: prefers whichever answer says Paris, wherever it stands."""
    a, b = answers_in(prompt)
    if ("Paris" in a) == ("Paris" in b):
        return "Both are equally good. [[C]]"
    return "A is right. [[A]]" if "Paris" in a else "B is right. [[B]]"


@pytest.mark.parametrize(
    ("said", "value"),
    [
        ("Correct and complete. Rating: [[8]]", 0.8),
        ("Rating: 7/10", 0.7),
        ("**Rating:** 9", 0.9),
        ("Score: 4 out of 5", 0.8),  # the judge's own denominator
        ("[[ 6.5 ]]", 0.65),
        ("7", 0.7),
        ("Rating: [[3]] - it misses the point. (I considered 8/10 first.)", 0.3),  # brackets win
        ("I would give it 8/10.", 0.8),
        ("Rating: [[15]]", None),  # out of range
        ("I cannot decide.", None),
        ("", None),
    ],
)
def test_parse_rating(said: str, value: float | None) -> None:
    got = parse_rating(said, 10)
    assert got == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize(
    ("said", "preference"),
    [
        ("[[A]]", "A"),
        ("Explanation... [[B]]", "B"),
        ("[[C]]", "tie"),
        ("Verdict: Assistant B", "B"),
        ("My final verdict is: **[[A]]**", "A"),
        ("The better answer is (B).", "B"),
        ("Answer A is better than answer B.", "A"),
        ("B", "B"),
        ("It's a tie.", "tie"),
        ("Both are equally helpful.", "tie"),
        ("Hard to say.", None),
        ("A bit of both.", None),  # "A" as an article is no verdict
    ],
)
def test_parse_preference(said: str, preference: str | None) -> None:
    assert parse_preference(said) == preference


async def test_rubric_scores_and_records_the_prompt_version() -> None:
    judge = FakeJudge("Correct. Rating: [[8]]")
    score = await grade(
        {"name": "judge", "rubric": "Must name the city."},
        "Paris",
        "It is Paris.",
        deps=ScorerDeps(judge=judge),
        prompt="Capital of France?",
    )
    assert (score.value, score.passed) == (pytest.approx(0.8), True)
    assert score.meta["judge_prompt_version"] == JUDGE_PROMPT_VERSION and score.meta["rating"] == pytest.approx(8)
    assert JUDGE_PROMPT_VERSION in (score.detail or "")
    (sent,) = judge.sent
    assert [m["role"] for m in sent] == ["system", "user"]
    prompt = sent[1]["content"]
    for part in (
        "user: Capital of France?",
        "[Reference answer]\nParis",
        "It is Paris.",
        "Must name the city.",
        "0 (worst) to 10",
    ):
        assert part in prompt
    low = await grade({"name": "judge", "threshold": 0.9}, None, "x", deps=ScorerDeps(judge=FakeJudge("Rating: 8/10")))
    assert not low.passed and low.value == pytest.approx(0.8)
    five = await grade({"name": "judge", "scale": 5}, None, "x", deps=ScorerDeps(judge=FakeJudge("[[4]]")))
    assert five.value == pytest.approx(0.8)


async def test_a_judge_answer_that_cannot_be_read_is_a_failed_score() -> None:
    judge = FakeJudge("As an AI, I would rather not grade this.")
    score = await grade("judge", "Paris", "Paris", deps=ScorerDeps(judge=judge))
    assert (score.value, score.passed, score.meta["unparsed"]) == (0.0, False, True)
    assert score.detail is not None and score.detail.startswith("judge verdict not understood: 'As an AI")
    assert score.meta["judge_prompt_version"] == JUDGE_PROMPT_VERSION


async def test_pairwise_a_judge_that_always_prefers_position_a_gives_a_tie() -> None:
    judge = FakeJudge("Answer A is clearly better. [[A]]")
    score = await grade({"name": "judge", "mode": "pairwise"}, "Paris", "Lyon", deps=ScorerDeps(judge=judge))
    assert (score.value, score.passed, score.meta["winner"]) == (0.5, True, "tie")
    assert score.meta["preferences"] == ["A", "A"]
    first, second = (answers_in(m[-1]["content"]) for m in judge.sent)
    assert first == (second[1], second[0])  # the same two answers, positions swapped


async def test_pairwise_wins_and_losses_need_both_orders() -> None:
    deps = ScorerDeps(judge=FakeJudge(knows_paris))
    spec = {"name": "judge", "mode": "pairwise"}
    win = await grade(spec, "I think Lyon.", "Paris.", deps=deps)
    assert (win.value, win.passed, win.meta["winner"]) == (1.0, True, "first")
    loss = await grade(spec, "Paris.", "Lyon.", deps=deps)
    assert (loss.value, loss.passed, loss.meta["winner"]) == (0.0, False, "second")
    assert "loses to the reference" in (loss.detail or "")
    tie = await grade(spec, "Paris!", "Paris.", deps=deps)
    assert tie.value == 0.5


async def test_pairwise_with_a_judge_that_answers_in_another_format() -> None:
    def verbose(prompt: str) -> str:
        a, _b = answers_in(prompt)
        return "Verdict: Assistant A" if "Paris" in a else "**Winner:** Assistant B"

    score = await grade(
        {"name": "judge", "mode": "pairwise"}, "Lyon", "Paris", deps=ScorerDeps(judge=FakeJudge(verbose))
    )
    assert score.meta["winner"] == "first" and score.value == 1.0


async def test_pairwise_unreadable_verdict_is_a_failed_score() -> None:
    def half(prompt: str) -> str:
        a, _b = answers_in(prompt)
        return "[[A]]" if a == "Paris" else "Let me think about it."

    score = await grade({"name": "judge", "mode": "pairwise"}, "Lyon", "Paris", deps=ScorerDeps(judge=FakeJudge(half)))
    assert (score.value, score.passed, score.meta["unparsed"]) == (0.0, False, True)
    assert "'Let me think about it.'" in (score.detail or "")


async def test_judge_pair_between_two_models_answers() -> None:
    item = make_item("exact", prompt="Capital of France?")
    verdict = await judge_pair(FakeJudge(knows_paris), item, Answer("Lyon"), Answer("Paris"))
    assert verdict.winner == "second" and verdict.preferences == ("B", "A")


async def test_judge_needs_a_client_and_pairwise_needs_a_reference() -> None:
    item = make_item("judge", "Paris")
    with pytest.raises(ScorerError, match="needs a judge client"):
        await Scoring().score(item, Answer("Paris"))
    for bad in (None, 3, ""):
        pairwise = make_item({"name": "judge", "mode": "pairwise"}, bad)
        with pytest.raises(ScorerError, match="reference answer") as exc:
            default_registry().check(pairwise.scorer, pairwise)
        assert exc.value.field == "reference"
    default_registry().check(make_item("judge").scorer, make_item("judge"))  # a rubric needs no reference


async def test_judge_client_errors_pass_through() -> None:
    class Down(Exception):
        pass

    async def failing(messages: list[dict[str, str]]) -> str:
        raise Down("judge unreachable")

    with pytest.raises(Down):
        await grade("judge", None, "x", deps=ScorerDeps(judge=failing))


@pytest.mark.timeout(60)  # a guard, not a timing claim
def test_verdict_parsing_is_linear_on_hostile_text() -> None:
    for text in ("rating" + " " * 200_000 + "x", "[[" * 100_000, "1/" * 100_000 + "x", "verdict " * 50_000):
        parse_rating(text, 10)
        parse_preference(text)
