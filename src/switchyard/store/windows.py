"""Sliding time windows over daily rollups: which whole UTC days the rollups answer for, and which
stretches of ledger rows to add or subtract at the edges.

A window ``[since, until)`` rarely starts or ends at midnight (the dashboard's "last 30 days" ends now).
Its whole days come from the rollups. A part-day at an edge is read from the ledger's rows over the
``ts`` index in one of two ways, whichever has fewer rows: the part itself, or the whole day from the
rollups minus the rest of that day. "The last 24 hours" at 23:00 thus reads one hour of rows for today
(the hour left is empty, so today is its rollup minus nothing) and one hour of yesterday's rows; a
window's work is at most half a day of rows per edge, whatever the ledger's size. Row counts for the
choice come from ``requests_minutely`` (a guess to the minute; the answer is exact either way).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

DAY = 86400.0
Stretch = tuple[float, float]  # [lo, hi) in epoch seconds


@functools.lru_cache(maxsize=64)
def _day_of(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86400, UTC).strftime("%Y-%m-%d")


def utc_day(ts: float) -> str:
    """The UTC day of a timestamp, ``YYYY-MM-DD`` (the rollups' ``day``)."""
    return _day_of(int(ts // 86400))


@dataclass(frozen=True, slots=True)
class WindowPlan:
    days: tuple[float, float] | None  # [first midnight, last midnight) of the days read from the rollups
    add: tuple[Stretch, ...] = ()  # stretches of rows to add
    subtract: tuple[Stretch, ...] = ()  # stretches of rows to take away (the rest of a rollup day)


def plan_window(since: float, until: float, rows_between: Callable[[float, float], int]) -> WindowPlan:
    """How to read ``[since, until)``; ``rows_between(lo, hi)`` estimates the ledger rows in a stretch."""
    if until <= since:
        return WindowPlan(None)
    first = -(-since // DAY) * DAY  # the first midnight at or after since
    last = until // DAY * DAY  # the last midnight at or before until
    edges: list[tuple[float, float, float]] = []  # (the day's midnight, lo, hi)
    if first <= last:
        days = (first, last) if first < last else None
        if since < first:
            edges.append((first - DAY, since, first))
        if last < until:
            edges.append((last, last, until))
    else:  # inside one day
        days = None
        edges.append((last, since, until))
    add: list[Stretch] = []
    subtract: list[Stretch] = []
    for midnight, lo, hi in edges:
        rest = [(a, b) for a, b in ((midnight, lo), (hi, midnight + DAY)) if a < b]
        if sum(rows_between(a, b) for a, b in rest) < rows_between(lo, hi):
            subtract += rest
            # the edge days touch the whole days, so the days read from the rollups stay one range
            days = (min(days[0], midnight), max(days[1], midnight + DAY)) if days else (midnight, midnight + DAY)
        else:
            add.append((lo, hi))
    return WindowPlan(days, tuple(add), tuple(subtract))
