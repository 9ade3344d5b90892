"""Ledger rollups: what a batch of records adds to the daily summaries and the per-minute counts.

The store applies these increments in the same transaction as the rows themselves (an upsert that adds
to the existing totals), so the rollups are exactly the sum of the ledger whatever the number of
writers. Three summaries:

- ``usage_daily``: per UTC day, team, route, served model, provider and locality — requests, errors,
  sensitive requests, tokens in / out / cached, cost, counterfactual cost, latency sum. Team budget
  windows (day, month) and every report read this instead of the ledger;
- ``key_daily``: per day and key — requests, tokens, cost (key budgets). Keys are kept out of
  ``usage_daily`` so its size does not grow with the number of keys;
- ``latency_daily``: per day and model, a histogram of successful requests' latency in log-spaced
  buckets (ten a decade): p50 / p95 over any window of days are read from it within one bucket
  (~12%), which plain sums cannot give. Latency is a property of the model and its deployment, so the
  histogram is not split by team or route (that would multiply its size by both);
- ``requests_minutely``: requests and tokens per minute, for the peak request rate (``switchyard tco
  --from-ledger``);
- ``decisions_daily``: per day, team, route, served model and reason code (``switchyard.reasons``),
  the requests routed that way (a request counts once under each of its codes): the dashboard's route
  decisions. Codes are fixed when the record is written; a later change to the rule table applies to
  new records only.

Missing dimensions are stored as ``''`` (SQL NULLs would never match the upsert's key).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..reasons import reason_codes
from .base import DAILY_DIMENSIONS, DailyRollup, LedgerRecord
from .migrations import LATENCY_EDGES_0005

LATENCY_EDGES_MS = LATENCY_EDGES_0005
LATENCY_BUCKETS = len(LATENCY_EDGES_MS) + 1


def latency_bucket(ms: float) -> int:
    return bisect.bisect_right(LATENCY_EDGES_MS, ms)


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The latency range of a bucket, in ms (bucket 0 starts at 0; the last ends at its lower edge x 1.26)."""
    low = 0.0 if bucket == 0 else LATENCY_EDGES_MS[bucket - 1]
    high = LATENCY_EDGES_MS[bucket] if bucket < len(LATENCY_EDGES_MS) else low * 10**0.1
    return low, high


DailyKey = tuple[str, str, str, str, str, str]  # day, team, route, model, provider, locality
KeyDayKey = tuple[str, str]  # day, key_id
LatencyKey = tuple[str, str, int]  # day, model, bucket
DecisionKey = tuple[str, str, str, str, str]  # day, team, route, model, reason code


@dataclass
class Increments:
    # day key -> [requests, errors, sensitive, input, output, cached, cost, counterfactual, latency sum]
    daily: dict[DailyKey, list[float]] = field(default_factory=dict)
    keys: dict[KeyDayKey, list[float]] = field(default_factory=dict)  # [requests, input, output, cost]
    latency: dict[LatencyKey, int] = field(default_factory=dict)
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute -> [requests, input, output]
    decisions: dict[DecisionKey, int] = field(default_factory=dict)

    def daily_rows(self) -> list[tuple[object, ...]]:
        return [
            (*k, int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), *v[6:])
            for k, v in self.daily.items()
        ]

    def key_rows(self) -> list[tuple[object, ...]]:
        return [(*k, int(v[0]), int(v[1]), int(v[2]), v[3]) for k, v in self.keys.items()]

    def latency_rows(self) -> list[tuple[object, ...]]:
        return [(*k, n) for k, n in self.latency.items()]

    def minute_rows(self) -> list[tuple[object, ...]]:
        return [(m, *v) for m, v in self.minutes.items()]

    def decision_rows(self) -> list[tuple[object, ...]]:
        return [(*k, n) for k, n in self.decisions.items()]


def increments(records: Iterable[LedgerRecord], day_of: dict[str, str]) -> Increments:
    """Sum ``records`` by rollup key; ``day_of`` maps each record id to its UTC day."""
    inc = Increments()
    for r in records:
        day = day_of[r.id]
        team, route = r.team or "", r.route or ""
        model = r.served_model or r.requested
        key = (day, team, route, model, r.provider or "", r.locality or "")
        row = inc.daily.get(key)
        if row is None:
            row = inc.daily[key] = [0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0]
        error = r.status >= 400
        row[0] += 1
        row[1] += error
        row[2] += bool(r.classes)
        row[3] += r.input_tokens
        row[4] += r.output_tokens
        row[5] += r.cached_tokens
        row[6] += r.cost
        row[7] += r.counterfactual_cost
        row[8] += r.latency_ms
        if r.key_id is not None:
            kkey = (day, r.key_id)
            k = inc.keys.get(kkey)
            if k is None:
                k = inc.keys[kkey] = [0, 0, 0, 0.0]
            k[0] += 1
            k[1] += r.input_tokens
            k[2] += r.output_tokens
            k[3] += r.cost
        if not error and r.served_model is not None:
            lkey = (day, r.served_model, latency_bucket(r.latency_ms))
            inc.latency[lkey] = inc.latency.get(lkey, 0) + 1
        minute = int(r.ts // 60)
        m = inc.minutes.get(minute)
        if m is None:
            m = inc.minutes[minute] = [0, 0, 0]
        m[0] += 1
        m[1] += r.input_tokens
        m[2] += r.output_tokens
        served = r.served_model or ""
        for code in reason_codes(r.reasons, route=r.route, fallback_chain=r.fallback_chain):
            dkey = (day, team, route, served, code)
            inc.decisions[dkey] = inc.decisions.get(dkey, 0) + 1
    return inc


def check_group_by(group_by: Sequence[str]) -> None:
    """``group_by`` must be a non-empty subset of :data:`~switchyard.store.base.DAILY_DIMENSIONS`."""
    unknown = set(group_by) - set(DAILY_DIMENSIONS)
    if unknown or not group_by:
        raise ValueError(f"group_by: unknown dimensions {sorted(unknown)} (known: {DAILY_DIMENSIONS})")


def daily_rollup(key: tuple[str, ...], sums: Sequence[float]) -> DailyRollup:
    """A :class:`DailyRollup` from its six dimensions and nine sums (as a window read adds them up)."""
    day, team, route, model, provider, locality = key
    requests, errors, sensitive, input_tokens, output_tokens, cached = (int(x) for x in sums[:6])
    return DailyRollup(
        day, team, route, model, provider, locality, requests, errors, sensitive, input_tokens, output_tokens,
        cached, float(sums[6]), float(sums[7]), float(sums[8]),
    )  # fmt: skip


UPSERT_DAILY = """
    INSERT INTO usage_daily (day, team, route, model, provider, locality, requests, errors, sensitive,
        input_tokens, output_tokens, cached_tokens, cost, counterfactual_cost, latency_ms_sum)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT (day, team, route, model, provider, locality) DO UPDATE SET
        requests = requests + excluded.requests, errors = errors + excluded.errors,
        sensitive = sensitive + excluded.sensitive, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cached_tokens = cached_tokens + excluded.cached_tokens, cost = cost + excluded.cost,
        counterfactual_cost = counterfactual_cost + excluded.counterfactual_cost,
        latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum
"""
UPSERT_KEY = """
    INSERT INTO key_daily (day, key_id, requests, input_tokens, output_tokens, cost) VALUES (?,?,?,?,?,?)
    ON CONFLICT (day, key_id) DO UPDATE SET requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
        cost = cost + excluded.cost
"""
UPSERT_LATENCY = """
    INSERT INTO latency_daily (day, model, bucket, requests) VALUES (?,?,?,?)
    ON CONFLICT (day, model, bucket) DO UPDATE SET requests = requests + excluded.requests
"""
UPSERT_MINUTE = """
    INSERT INTO requests_minutely (minute, requests, input_tokens, output_tokens) VALUES (?,?,?,?)
    ON CONFLICT (minute) DO UPDATE SET requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens
"""
UPSERT_DECISION = """
    INSERT INTO decisions_daily (day, team, route, model, reason, requests) VALUES (?,?,?,?,?,?)
    ON CONFLICT (day, team, route, model, reason) DO UPDATE SET requests = requests + excluded.requests
"""
