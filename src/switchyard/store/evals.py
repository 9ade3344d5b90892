"""What an eval run keeps (issue 12): the run, and per item and target its answer, score, tokens, cost,
latency and error. Behind the same seam as the ledger: the SQLite store implements it, a server store
will too. Answers are the team's own eval data, kept here on purpose (unlike the ledger, which never
holds content)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .base import RollupFilter


@dataclass(slots=True)
class EvalRunRecord:
    id: str
    name: str
    created: float
    set_name: str
    set_digest: str  # sha256 of the eval set's bytes: a resumed run must be over the same set
    targets: list[str]  # models or routes, as the requests named them
    team: str
    items: int  # items in the set
    kind: str = "run"  # "run", or "shadow" for answers sampled from live traffic
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EvalResult:
    """One item answered (or failed) by one target."""

    run_id: str
    item_id: str
    target: str
    ts: float
    request_id: str | None = None  # the ledger record of the call that gave this answer
    served_model: str | None = None  # the model that answered (a route picks one)
    answer: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    score: float | None = None
    passed: bool | None = None
    detail: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    error: str | None = None  # the error class and message when the call failed after its retries
    extra: dict[str, Any] = field(default_factory=dict)  # scorer metadata (judge prompt version, ...)

    @property
    def answered(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class EvalSpend:
    """What eval runs and shadow calls cost over a report's days: part of the ledger's totals, shown apart
    from production spend."""

    requests: int
    cost: float
    runs: int


class EvalStore(Protocol):
    def create_eval_run(self, run: EvalRunRecord) -> None:
        """Raises ``Conflict`` when a run of that name exists."""

    def find_eval_run(self, name_or_id: str) -> EvalRunRecord | None: ...

    def eval_runs(self, limit: int = 100) -> list[EvalRunRecord]: ...

    def add_eval_results(self, results: Sequence[EvalResult]) -> None:
        """Insert results; a result for an (item, target) already present replaces it (a failure is
        retried by a resumed run, an answer never is: the runner does not send it again)."""

    def eval_results(self, run_id: str) -> list[EvalResult]: ...

    def eval_spend(self, f: RollupFilter) -> EvalSpend:
        """Calls made for eval runs (endpoint ``eval``) and shadows (``shadow``) within the filter."""
