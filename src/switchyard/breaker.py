"""A circuit breaker per deployment: after N consecutive failures the deployment is skipped for a
cool-down; then one probe request is let through (half-open) and its outcome closes or re-opens it."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from .config import BreakerPolicy


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.policy.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return self._state

    def available(self) -> bool:
        """Whether a request may be sent now (without claiming the half-open probe)."""
        state = self.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._probe_in_flight)

    def acquire(self) -> bool:
        """Claim the right to send one request. In half-open state only one caller gets it."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._probe_in_flight = False
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self._probe_in_flight = False
        if self._state is BreakerState.HALF_OPEN:
            self._trip()
            return
        self._failures += 1
        if self._failures >= self.policy.failure_threshold:
            self._trip()

    def release(self) -> None:
        """The claimed request ended without a verdict (e.g. the client went away)."""
        self._probe_in_flight = False

    def _trip(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._failures = 0
