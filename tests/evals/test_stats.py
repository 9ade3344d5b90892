from __future__ import annotations

import math

from switchyard.evals.stats import bootstrap_mean, percentile, sign_test_greater


def test_sign_test_is_the_exact_binomial_tail() -> None:
    assert sign_test_greater(10, 0) == 1 / 1024
    assert sign_test_greater(0, 0) == 1.0
    assert sign_test_greater(5, 5) == sum(math.comb(10, k) for k in range(5, 11)) / 1024
    assert sign_test_greater(0, 7) == 1.0
    # large counts stay exact (big integers), and symmetric around n/2
    assert abs(sign_test_greater(600, 400) - sign_test_greater(400, 600)) > 0.99


def test_bootstrap_interval_of_the_mean() -> None:
    assert bootstrap_mean([1.0] * 20).low == 1.0 and bootstrap_mean([1.0] * 20).high == 1.0
    assert math.isnan(bootstrap_mean([]).low)
    half = [1.0, 0.0] * 50
    ci = bootstrap_mean(half)
    assert ci.low < 0.5 < ci.high
    # the normal approximation's 95% half-width is 1.96 * 0.05 = 0.098
    assert 0.08 < (ci.high - ci.low) / 2 < 0.12
    assert bootstrap_mean(half, seed=3) == bootstrap_mean(half, seed=3)


def test_bootstrap_memory_is_bounded_on_large_sets() -> None:
    ci = bootstrap_mean([float(i % 2) for i in range(200_000)], samples=200)
    assert ci.low < 0.5 < ci.high and ci.high - ci.low < 0.01


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
