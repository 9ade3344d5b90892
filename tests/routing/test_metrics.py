"""Router metrics on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from switchyard.routing import metrics

C = np.array([True, False, True, False])  # cheap right
P = np.array([True, True, False, True])  # premium right
CHEAP_COST = np.array([1.0, 1.0, 1.0, 1.0])
PREMIUM_COST = np.array([10.0, 20.0, 30.0, 40.0])


def test_quality_and_cost() -> None:
    premium = np.array([False, True, False, True])
    assert metrics.quality(premium, C, P) == 1.0
    assert metrics.quality_kept(premium, C, P) == pytest.approx(1.0 / 0.75)
    assert metrics.routed_cost(premium, CHEAP_COST, PREMIUM_COST) == 62.0
    assert metrics.routed_cost(premium, CHEAP_COST, PREMIUM_COST, cascade=True) == 64.0
    assert metrics.cost_fraction(62.0, PREMIUM_COST) == pytest.approx(0.62)


def test_oracle_uses_premium_only_where_it_alone_is_right() -> None:
    # Target 1.0 of premium quality (0.75): the oracle needs premium on one of the two prompts only
    # premium gets right (cheap's extra right answer on prompt 2 makes up for the other) and keeps
    # the cheaper one (prompt 1).
    chosen = metrics.oracle_premium(C, P, CHEAP_COST, PREMIUM_COST, 1.0)
    assert chosen.tolist() == [False, True, False, False]
    assert metrics.oracle_cost_fraction(C, P, CHEAP_COST, PREMIUM_COST, 1.0) == pytest.approx(23 / 100)
    everything = metrics.oracle_premium(C, P, CHEAP_COST, PREMIUM_COST, 2.0)
    assert everything.tolist() == [False, True, False, True]  # the target is unreachable: all it can


def test_random_baseline_interpolates_between_cheap_and_premium() -> None:
    c = np.array([True, False, False, False])
    p = np.array([True, True, True, False])
    # weak 0.25, strong 0.75: 0.9 * 0.75 = 0.675 needs (0.675 - 0.25) / 0.5 = 0.85 of the prompts on premium
    expected = (0.85 * PREMIUM_COST.sum() + 0.15 * CHEAP_COST.sum()) / PREMIUM_COST.sum()
    assert metrics.random_cost_fraction(c, p, CHEAP_COST, PREMIUM_COST, 0.9) == pytest.approx(expected)
    assert metrics.random_cost_fraction(p, c, CHEAP_COST, PREMIUM_COST, 0.9) == pytest.approx(0.04)


def test_apgr_and_cpt() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    c = rng.random(n) < 0.5
    p = c | (rng.random(n) < 0.6)
    perfect = (p & ~c).astype(float)  # premium-only prompts first
    worst = -perfect
    share = float((p & ~c).mean())
    # perfect ranking: accuracy climbs linearly over the premium-only share of calls, then stays
    assert metrics.apgr(perfect, c, p) == pytest.approx(1 - share / 2, abs=1e-3)
    assert metrics.apgr(worst, c, p) == pytest.approx(share / 2, abs=1e-3)
    randoms = [metrics.apgr(rng.random(n), c, p) for _ in range(5)]
    assert abs(np.mean(randoms) - 0.5) < 0.05
    gain = float(p.mean() - c.mean())
    # ranking perfectly, half the gap is recovered after half the premium-only prompts
    assert metrics.cpt(perfect, c, p, 0.5) == pytest.approx(gain / 2, abs=2 / n)
    assert metrics.cpt(worst, c, p, 0.5) > 0.5
    assert math.isnan(metrics.apgr(perfect, c, c))


def test_call_curve_ends() -> None:
    x, acc = metrics.call_curve(np.array([0.3, 0.1, 0.2, 0.0]), C, P)
    assert x[0] == 0 and x[-1] == 1
    assert acc[0] == pytest.approx(C.mean()) and acc[-1] == pytest.approx(P.mean())
