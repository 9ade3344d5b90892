"""numeric: the final number of a free-text answer, with tolerances."""

from __future__ import annotations

import pytest

from switchyard.evals import ScorerError, default_registry, extract_final_number

from ..helpers import grade, make_item


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42.0),
        ("The answer is 1,234.5", 1234.5),
        ("The answer is 1,234.5.", 1234.5),  # a trailing period ends the sentence
        ("So the total is 1,234,567 dollars.", 1234567.0),
        ("It drops to -17 degrees.", -17.0),
        ("The result is \u221212.", -12.0),  # Unicode minus sign
        ("**Answer:** -0.5", -0.5),
        ("\uff11\uff12\uff13", 123.0),  # full-width digits
        ("\u0663\u0664", 34.0),  # Arabic-Indic digits
        ("1\u200b234", 1234.0),  # an invisible zero-width space inside a number is dropped
        ("It costs $1,000,000.", 1_000_000.0),
        ("About 3.0e3 grams", 3000.0),
        ("Between 3-4 hours, so 4", 4.0),  # "3-4" is a range, not minus four
        ("GPT-4", 4.0),
        ("The answer is 5 (because 2+3=5, not 6)", 5.0),  # an answer statement beats the last number
        ("#### 72", 72.0),
        ("\\boxed{18} is it, checked with 9*2", 18.0),
        ("Final answer: 8. Check: 2+2+2+2=8", 8.0),
        ("no numbers here", None),
        ("It is .5", 0.5),
    ],
)
def test_extract_final_number(text: str, number: float | None) -> None:
    assert extract_final_number(text) == number


async def test_numeric_scores_with_tolerance() -> None:
    assert (await grade("numeric", 1234.5, "The answer is 1,234.5.")).passed
    assert (await grade("numeric", "1,234.5", "1234.5")).passed  # a numeric string reference
    assert (await grade("numeric", -3, "It is \u22123.")).passed
    assert not (await grade("numeric", 100, "about 101")).passed
    assert (await grade({"name": "numeric", "abs_tol": 1}, 100, "about 101")).passed
    assert (await grade({"name": "numeric", "rel_tol": 0.02}, 100, "about 101.5")).passed
    assert not (await grade({"name": "numeric", "rel_tol": 0.01}, 100, "about 101.5")).passed
    assert (await grade("numeric", [3, 4], "four? no: 4")).passed
    score = await grade("numeric", 12, "I think it is 13.")
    assert not score.passed and score.meta["extracted"] == 13.0 and score.detail == "read 13; expected 12"
    none = await grade("numeric", 12, "twelve")
    assert not none.passed and none.detail == "no number in the answer; expected 12"


def test_numeric_reference_and_args_are_checked() -> None:
    reg = default_registry()
    for bad in ("twelve", True, {"n": 1}, None):
        item = make_item("numeric", bad)
        with pytest.raises(ScorerError, match=r"reference|needs") as exc:
            reg.check(item.scorer, item)
        assert exc.value.field == "reference"
    with pytest.raises(ScorerError, match="abs_tol"):
        reg.check(make_item({"name": "numeric", "abs_tol": -1}).scorer)
    with pytest.raises(ScorerError, match="tolerance"):
        reg.check(make_item({"name": "numeric", "tolerance": 1}).scorer)  # misspelt: refused, not ignored
