"""A TCO workload measured from the ledger's rollups: tokens per month, input share, peak request rate."""

from __future__ import annotations

from datetime import date

from ..store.base import LedgerRollups, RollupFilter
from ..store.sqlite import utc_day
from .tco import Workload

DAY = 86400.0
MONTH_DAYS = 30


def measure_workload(store: LedgerRollups, days: int, now: float) -> Workload | None:
    """The workload of the last ``days`` UTC days (today included), scaled to a 30-day month over the
    days that have traffic; the peak is the busiest minute's requests / 60. None when the window is empty."""
    since = (now // DAY - (days - 1)) * DAY
    rows = store.daily(RollupFilter(since_day=utc_day(since), until_day=utc_day(now)))
    active = sorted({r.day for r in rows if r.requests})
    if not active:
        return None
    tokens_in = sum(r.input_tokens for r in rows)
    tokens_out = sum(r.output_tokens for r in rows)
    requests = sum(r.requests for r in rows)
    tokens = tokens_in + tokens_out
    span = (date.fromisoformat(active[-1]) - date.fromisoformat(active[0])).days + 1
    peak = store.peak_minute_requests(since, now)
    return Workload(
        tokens_per_month=tokens * MONTH_DAYS / span,
        input_share=tokens_in / tokens if tokens else 0.8,
        peak_rps=peak / 60,
        tokens_per_request=max(tokens / requests, 1.0),
        source=f"ledger, {active[0]} to {active[-1]} ({span} days, {requests:,} requests, busiest minute {peak})",
    )
