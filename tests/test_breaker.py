from __future__ import annotations

from switchyard.breaker import BreakerState, CircuitBreaker
from switchyard.config import BreakerPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_then_half_opens_with_a_single_probe() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerPolicy(failure_threshold=3, cooldown_seconds=10), clock)
    for _ in range(2):
        assert b.acquire()
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.acquire()
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.acquire()
    clock.now = 10
    assert b.state is BreakerState.HALF_OPEN
    assert b.acquire() and not b.acquire()  # one probe at a time
    b.record_failure()  # the probe failed: open again for a full cool-down
    assert b.state is BreakerState.OPEN
    clock.now = 20
    assert b.acquire()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.acquire()


def test_success_resets_the_failure_count() -> None:
    b = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown_seconds=1), Clock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_release_frees_the_probe() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown_seconds=1), clock)
    b.record_failure()
    clock.now = 2
    assert b.acquire()
    b.release()
    assert b.acquire()
