from __future__ import annotations

import pytest

from switchyard.errors import InvalidRequest
from switchyard.evals.compare import compare

from .test_report import IDS, answers, run


def test_a_planted_regression_is_caught() -> None:
    a, b = run(["gpt"], "base"), run(["llama"], "swap")
    c = compare(a, answers("gpt", 100, 0.01, run_id="base"), b, answers("llama", 80, 0.001, run_id="swap"))
    assert c.regression and c.paired.losses == 20 and c.paired.wins == 0
    assert c.paired.drop == pytest.approx(0.2) and c.paired.p_worse == 2.0**-20
    assert c.quality_a == 1.0 and c.quality_b == 0.8 and "regression" in c.verdict


def test_a_drop_within_the_threshold_passes() -> None:
    a, b = run(["gpt"], "base"), run(["llama"], "swap")
    c = compare(a, answers("gpt", 100, 0.01), b, answers("llama", 99, 0.001), max_drop=0.01)
    assert not c.regression and c.verdict.startswith("no regression")


def test_a_drop_that_chance_explains_passes() -> None:
    small = IDS[:10]
    a = run(["gpt"], "base")
    b = run(["llama"], "swap")
    a.meta["item_ids"] = b.meta["item_ids"] = small
    ra = [r for r in answers("gpt", 100, 0.01) if r.item_id in small]
    rb = [r for r in answers("llama", 7, 0.001) if r.item_id in small]  # 3 of 10 lost: p = 1/8
    c = compare(a, ra, b, rb, max_drop=0.01)
    assert c.paired.drop == pytest.approx(0.3) and c.paired.p_worse == 0.125
    assert not c.regression and c.verdict.startswith("no significant regression")


def test_targets_must_be_named_when_ambiguous() -> None:
    a, b = run(["x", "y"], "a"), run(["y", "z"], "b")
    ra = answers("x", 50, 0.0) + answers("y", 50, 0.0)
    rb = answers("y", 40, 0.0) + answers("z", 50, 0.0)
    assert compare(a, ra, b, rb).target_a == "y"  # the one target both share
    c = compare(a, ra, b, rb, target_a="x", target_b="z")
    assert (c.target_a, c.target_b) == ("x", "z") and c.paired.drop == 0.0
    with pytest.raises(InvalidRequest) as err:
        compare(a, ra, b, rb, target_a="nope")
    assert err.value.param == "target-a"
    c2 = run(["p", "q"], "c")
    with pytest.raises(InvalidRequest):
        compare(a, ra, c2, [])
