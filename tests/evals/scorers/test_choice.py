"""choice: reading the chosen label from free text, by the documented precedence."""

from __future__ import annotations

import pytest

from switchyard.evals import ScorerError, default_registry, extract_choice
from switchyard.evals.scorers import ChoiceReader, parse_choices

from ..helpers import grade, make_item


@pytest.mark.parametrize(
    ("text", "label", "rule"),
    [
        # the brief's forms
        ("B", "B", "line"),
        ("(b)", "B", "line"),
        ("B)", "B", "line"),
        ("The answer is B.", "B", "statement"),
        ("Answer: **C**", "C", "statement"),
        ("I think the correct option is (D) because it is the only prime.", "D", "statement"),
        # "A" as an article, "I" as a pronoun
        ("A good question... The answer is C", "C", "statement"),
        ("A good question. I'd go with C.", "C", "statement"),
        ("A tricky one. I think C.", "C", "mention"),
        ("A is correct.", "A", "mention"),
        ("A because the others are wrong.", "A", "mention"),
        ("the answer is a good one: (c)", "C", "bracketed"),  # lower-case "a" after "answer is" is a word
        ("The answer is a.", "A", "statement"),
        # markdown, unicode, spacing
        ("**B**", "B", "line"),
        ("`C`", "C", "line"),
        ("The answer is **(d)**.", "D", "statement"),
        ("\uff23", "C", "line"),  # full-width C
        ("\u24b7", "B", "line"),  # circled B
        ("The\u00a0answer\u00a0is\u2003B", "B", "statement"),
        ("Answer:\n\nB", "B", "line"),
        ("Answer : option C", "C", "statement"),
        ("The answer is: Option B) London", "B", "statement"),
        ("C) Paris, because it is the capital.", "C", "leading"),
        ("(B) 42", "B", "leading"),
        # several letters mentioned
        ("Option A is tempting, but the answer is (c).", "C", "statement"),
        ("The answer is B. Actually, no: the answer is D.", "D", "statement"),  # the last statement counts
        ("A) Paris\nB) London\nC) Rome\n\nC", "C", "line"),  # a restated option list, then the answer
        ("A) Paris\nB) London\nThe one I pick is [B].", "B", "bracketed"),
        ("Not (A), so (B).", None, "ambiguous"),
        ("It's not A or B, it's C", None, "ambiguous"),
        ("I'm not sure.", None, "none"),
        ("The answer is Albert Einstein.", None, "none"),  # a word starting with A is no label
        ("", None, "none"),
    ],
)
def test_read_choice(text: str, label: str | None, rule: str) -> None:
    got = ChoiceReader().read(text)
    assert (got.label, got.rule) == (label, rule)


def test_configurable_labels() -> None:
    assert parse_choices("A-E") == ("A", "B", "C", "D", "E")
    assert parse_choices("abcde") == ("A", "B", "C", "D", "E")
    assert parse_choices("1,2") == ("1", "2")
    assert parse_choices("1-4") == ("1", "2", "3", "4")
    assert parse_choices(["yes", "no"]) == ("YES", "NO")
    for bad in ("A", "A,A", "D-A", "A-3", "?!"):
        with pytest.raises(ValueError):
            parse_choices(bad)
    assert extract_choice("The answer is E.", "A-E") == "E"
    assert extract_choice("The answer is E.", "A-D") is None
    assert extract_choice("The answer is 2.", "1,2") == "2"
    assert extract_choice("2", "1,2") == "2"
    assert extract_choice("Between 1 and 2 I choose 1", "1,2") == "1"


async def test_choice_scores_against_one_or_several_references() -> None:
    good = await grade("choice", "C", "Answer: **C**")
    assert (good.value, good.passed, good.meta["extracted"], good.meta["rule"]) == (1.0, True, "C", "statement")
    assert (await grade("choice", "c", "(C)")).passed  # a lower-case reference
    assert (await grade("choice", ["B", "D"], "The answer is D.")).passed
    wrong = await grade("choice", "B", "The answer is C.")
    assert not wrong.passed and wrong.detail == "chose C (statement); expected B"
    ambiguous = await grade("choice", "C", "It's not A or B, it's C")
    assert not ambiguous.passed and ambiguous.detail == "several labels (A, B, C) in the answer; expected C"
    assert (await grade({"name": "choice", "choices": "A-E"}, "E", "e)")).passed
    assert (await grade({"name": "choice", "choices": "1,2"}, 2, "Option 2 is right; the answer is 2")).passed


def test_choice_references_and_args_are_checked() -> None:
    reg = default_registry()
    item = make_item("choice", "E")
    with pytest.raises(ScorerError, match=r"choice reference 'E' is not one of the labels A, B, C, D") as exc:
        reg.check(item.scorer, item)
    assert exc.value.field == "reference"
    reg.check(
        make_item({"name": "choice", "choices": "A-E"}, "E").scorer,
        make_item({"name": "choice", "choices": "A-E"}, "E"),
    )
    with pytest.raises(ScorerError, match="choices"):
        reg.check(make_item({"name": "choice", "choices": "A"}).scorer)


@pytest.mark.timeout(60)  # a guard, not a timing claim: these take milliseconds; quadratic would take hours
def test_reading_is_linear_on_hostile_text() -> None:
    """Long runs of spaces after "answer is", of brackets or of labels must not make the reader quadratic."""
    reader = ChoiceReader()
    hostile = ("answer is" + " " * 200_000 + "x", "(A" * 100_000, "answer" + " :" * 100_000, "A " * 100_000)
    assert [reader.read(text).label for text in hostile] == [None, "A", None, "A"]
