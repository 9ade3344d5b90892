"""Store protocols: one per concern. SQLite is the embedded default; a PostgreSQL implementation of the
same protocols serves replicas. Methods are synchronous (they run in worker threads, never on the event
loop) so one implementation works for the server, the CLI and the tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class AttemptRecord:
    seq: int
    ts: float
    model: str
    provider: str
    locality: str
    latency_ms: float
    ttft_ms: float | None
    status: str  # "ok" or "error"
    error_class: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    check: str | None = None  # the output guard's verdict: "valid", "invalid: <kind>", None when unchecked


@dataclass(slots=True)
class LedgerRecord:
    """One request. Never holds prompt or response content."""

    id: str
    ts: float
    key_id: str | None
    team: str | None
    endpoint: str
    requested: str
    route: str | None
    served_model: str | None
    provider: str | None
    locality: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    tokens_estimated: bool = False
    cost: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    status: int = 200
    error_class: str | None = None
    fallback_chain: list[str] = field(default_factory=list)
    stream: bool = False
    attempts: list[AttemptRecord] = field(default_factory=list)
    # What the route's premium model would have cost for the same tokens.
    counterfactual_cost: float = 0.0
    reasons: list[str] = field(default_factory=list)  # the policies' decision trail
    classes: list[str] = field(default_factory=list)  # sensitivity classes found (never the content)
    eval_run: str | None = None  # the eval run this call answered for (evals/), None for production traffic
    # What the output guard delivered: "valid", "repaired", "escalated", "failed"; None when unchecked.
    guard: str | None = None


@dataclass(slots=True)
class UsageRow:
    day: str
    team: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float
    errors: int


@dataclass(frozen=True, slots=True)
class RollupFilter:
    """Whole UTC days ``since_day``..``until_day`` (inclusive, ``YYYY-MM-DD``; None = unbounded), and
    optionally one team and one route (``""`` selects records without one)."""

    since_day: str | None = None
    until_day: str | None = None
    team: str | None = None
    route: str | None = None


DAILY_DIMENSIONS = ("day", "team", "route", "model", "provider", "locality")


@dataclass(slots=True)
class DailyRollup:
    """One day's totals for a (team, route, model, provider, locality); keys are summed together."""

    day: str
    team: str
    route: str
    model: str
    provider: str
    locality: str
    requests: int
    errors: int
    sensitive: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float
    counterfactual_cost: float
    latency_ms_sum: float


@dataclass(slots=True)
class DecisionCount:
    """Requests by route, model and reason code (``switchyard.reasons``); a request counts once under
    each of its codes. Missing route or model is ``""``; ``day`` is ``""`` when not grouped by day."""

    day: str
    route: str
    model: str
    reason: str
    requests: int


@dataclass(slots=True)
class LatencyCount:
    model: str
    bucket: int  # see store/rollups.py for the bucket bounds
    requests: int


@dataclass(slots=True)
class KeyRecord:
    id: str
    team: str
    name: str
    prefix: str
    secret_hash: str
    roles: tuple[str, ...]
    created: float
    revoked: bool = False


class LedgerStore(Protocol):
    def write(self, records: Sequence[LedgerRecord]) -> None: ...

    def usage(self, since: float | None = None, *, team: str | None = None) -> list[UsageRow]:
        """Spend per day, team and model since ``since``; of ``team`` only when given (None: every team)."""
        ...

    def spend_by_scope(self, since: float) -> dict[str, float]: ...

    def get(self, request_id: str) -> LedgerRecord | None: ...

    def recent(self, limit: int = 100) -> list[LedgerRecord]: ...


class LedgerRollups(Protocol):
    """Reads of the ledger's rollups: bounded by days and small, whatever the ledger's size."""

    def daily(self, f: RollupFilter, group_by: Sequence[str] = DAILY_DIMENSIONS) -> list[DailyRollup]: ...

    def latency_histogram(self, f: RollupFilter) -> list[LatencyCount]:
        """Per model and bucket over the filter's days (latency is not split by team or route)."""
        ...

    def peak_minute_requests(self, since: float, until: float) -> int: ...


class LedgerWindows(Protocol):
    """Reads over a sliding time window ``[since, until)`` (what the dashboard shows): whole UTC days
    come from the rollups, the part-days at the edges from the ledger's ``ts`` index, so the work is at
    most a day of rows per edge whatever the ledger's size.

    ``team`` narrows every read to that team's requests, in the query itself (a reader who may see one
    team never gets the others' rows); None reads every team, for the admin only."""

    def usage_window(
        self, since: float, until: float, group_by: Sequence[str] = DAILY_DIMENSIONS, *, team: str | None = None
    ) -> list[DailyRollup]:
        """Rollups of the window grouped by ``group_by`` (a subset of :data:`DAILY_DIMENSIONS`; the
        others come back as ``""``), groups without requests left out."""
        ...

    def decisions_window(self, since: float, until: float, *, team: str | None = None) -> list[DecisionCount]:
        """Requests per route, model and reason code over the window (``day`` is ``""``)."""
        ...

    def recent_errors(
        self, since: float, until: float, limit: int = 15, *, team: str | None = None
    ) -> list[LedgerRecord]:
        """The window's failed requests (status >= 400), newest first."""
        ...


class KeyStore(Protocol):
    def add_key(self, key: KeyRecord) -> None: ...

    def find_key(self, secret_hash: str) -> KeyRecord | None: ...

    def list_keys(self) -> list[KeyRecord]: ...

    def revoke_key(self, key_id: str) -> bool: ...
