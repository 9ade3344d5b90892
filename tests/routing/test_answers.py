"""Answer features for the learned verifier."""

from __future__ import annotations

from switchyard.routing.answers import ANSWER_FEATURES, answer_features, arithmetic_checks, final_answer


def test_arithmetic_checks() -> None:
    assert arithmetic_checks("so <<2*3=6>>6 and <<10/4=2.5>>2.5") == (2, 0)
    assert arithmetic_checks("so <<2*3=7>>7") == (0, 1)
    assert arithmetic_checks("total 4 + 5 = 9, then 9 x 2 = 19") == (1, 1)
    assert arithmetic_checks("<<__import__('os')=1>>") == (0, 0)  # never evaluated
    assert arithmetic_checks("<<1/0=1>> and 3 / 0 = 2") == (0, 0)


def test_final_answer() -> None:
    assert final_answer("steps...\n#### 1,234") == 1234.0
    assert final_answer("The answer is $-5") == -5.0
    assert final_answer("we get 3 then 4.5") == 4.5
    assert final_answer("no numbers") is None


def test_features_row() -> None:
    row = answer_features("Tom has 3 apples and buys 4.", "3 + 4 = <<3+4=7>>7\n#### 7")
    assert len(row) == len(ANSWER_FEATURES)
    named = dict(zip(ANSWER_FEATURES, row, strict=True))
    assert named["final_marker"] == 1.0 and named["final_integer"] == 1.0
    assert named["prompt_number_coverage"] == 1.0 and named["any_check_failed"] == 0.0
    hedged = dict(zip(ANSWER_FEATURES, answer_features("Tom has 3 apples.", "However, I cannot tell."), strict=True))
    assert hedged["final_missing"] == 1.0 and hedged["hedges"] >= 2
