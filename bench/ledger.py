"""Ledger at scale: insert rate and report latency on a generated ledger (default 10M requests).

    python bench/ledger.py                      # 10M rows over 90 days in a temporary file
    python bench/ledger.py --rows 20000 --json  # the smoke test's size

Rows are written through ``SQLiteStore.write`` (ledger rows, one attempt each, and the rollups, in one
transaction per batch) in large batches; then, on the full ledger, the steady-state rate at the ledger
writer's own batch size (500) is measured, and the reports are timed: the monthly report
(``build_report`` over the last 30 days), budget seeding (``spend_by_scope`` from the start of the
month) and ``usage`` for 30 days. ``--compare-scan`` also times the same monthly totals computed from
the ledger's rows, for contrast. Prints what it measured, with one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from switchyard.budgets import month_start
from switchyard.economics.report import ModelInfo, ReportFilters, build_report
from switchyard.pricing import ModelPrice
from switchyard.store.base import AttemptRecord, LedgerRecord
from switchyard.store.sqlite import SQLiteStore, utc_day

DAY = 86400.0
TEAMS = [f"team-{i}" for i in range(12)]
KEYS = [(f"key_{i:04d}", TEAMS[i % len(TEAMS)]) for i in range(60)]  # each key bills to one team
ROUTES = ["auto", "cheap", "premium", "private", None]
# model, provider, locality, $ in, $ out per 1M, proprietary?
MODELS = [
    ("gpt-4o", "openai", "us", 2.5, 10.0, True),
    ("claude-sonnet", "anthropic", "us", 3.0, 15.0, True),
    ("deepseek-v3", "openai", "us", 0.28, 0.42, False),
    ("llama-70b", "openai", "on_prem", 0.12, 0.30, False),
    ("local-chat", "llamacpp", "on_prem", 0.05, 0.15, False),
]


def generate(n: int, start: float, end: float, rng: random.Random) -> list[LedgerRecord]:
    """``n`` requests between ``start`` and ``end``, in time order (as a gateway writes them), with
    random 128-bit ids (as uuid4 gives)."""
    out = []
    step = (end - start) / n
    rand, randrange, bits = rng.random, rng.randrange, rng.getrandbits
    for i in range(n):
        model, provider, locality, pin, pout, _ = MODELS[randrange(5)]
        key, team = KEYS[randrange(60)]
        ts = start + (i + rand()) * step
        ok = rand() > 0.02
        tin, tout = (randrange(50, 4000), randrange(10, 800)) if ok else (0, 0)
        latency = 50 + 2000 * rand() * rand()
        out.append(
            LedgerRecord(
                id=f"{bits(128):032x}", ts=ts, key_id=key, team=team, endpoint="chat", requested="auto",
                route=ROUTES[randrange(5)], served_model=model, provider=provider, locality=locality,
                input_tokens=tin, output_tokens=tout, cost=(tin * pin + tout * pout) / 1e6, latency_ms=latency,
                status=200 if ok else 502, counterfactual_cost=(tin * 2.5 + tout * 10.0) / 1e6,
                attempts=[AttemptRecord(0, ts, model, provider, locality, latency, None, "ok" if ok else "error")],
            )
        )  # fmt: skip
    return out


def timed(fn: object, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="requests to generate")
    ap.add_argument("--days", type=int, default=90, help="days the requests are spread over (ending today)")
    ap.add_argument("--batch", type=int, default=20_000, help="records per transaction while filling")
    ap.add_argument("--db", type=Path, help="ledger file (default: a temporary one, deleted afterwards)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timed report (the median is printed)")
    ap.add_argument("--compare-scan", action="store_true", help="also time the monthly totals from the raw rows")
    ap.add_argument("--json", action="store_true", help="(kept for symmetry; the JSON line is always printed)")
    args = ap.parse_args(argv)

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="sy-bench-ledger-")
        args.db = Path(tmp.name) / "ledger.db"
    rng = random.Random(42)
    now = time.time()
    start = (now // DAY - args.days + 1) * DAY
    store = SQLiteStore(args.db)
    done, write_s, gen_s = 0, 0.0, 0.0
    report_every = max(args.rows // 10, args.batch)
    next_report = report_every
    t_fill = time.perf_counter()
    span = (now - 3600 - start) / args.rows  # seconds between requests; the last hour is for the steady phase
    while done < args.rows:
        n = min(args.batch, args.rows - done)
        t = time.perf_counter()
        batch = generate(n, start + done * span, start + (done + n) * span, rng)
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        store.write(batch)
        write_s += time.perf_counter() - t
        done += n
        if done >= next_report:
            print(f"  {done:>12,} rows  {done / write_s:>10,.0f} inserts/s (write time only)", flush=True)
            next_report += report_every
    fill_s = time.perf_counter() - t_fill
    bulk_rate = done / write_s
    print(f"filled {done:,} requests (+{done:,} attempts) in {fill_s:.1f} s: {bulk_rate:,.0f} inserts/s in "
          f"batches of {args.batch:,} (generating the records took another {gen_s:.1f} s)")  # fmt: skip

    # Steady state at the ledger writer's batch size, on the full ledger.
    steady_n = min(50_000, max(args.rows // 10, 1_000))
    steady = generate(steady_n, now - 3600, now, rng)
    t = time.perf_counter()
    for i in range(0, steady_n, 500):
        store.write(steady[i : i + 500])
    steady_rate = steady_n / (time.perf_counter() - t)
    print(f"steady state: {steady_rate:,.0f} inserts/s in batches of 500 on the {done + steady_n:,}-row ledger")

    models = {
        name: ModelInfo("proprietary" if prop else "open-weight", ModelPrice(pin, pout, pin, "bench"))
        for name, _, _, pin, pout, prop in MODELS
    }
    month = ReportFilters(since_day=utc_day(now - 29 * DAY), until_day=utc_day(now))
    report = build_report(store, models, month)
    report_s = timed(lambda: build_report(store, models, month), args.repeat)
    team_s = timed(
        lambda: build_report(store, models, ReportFilters(month.since_day, month.until_day, "team-3")), args.repeat
    )
    budget_s = timed(lambda: store.spend_by_scope(month_start(now)), args.repeat)
    usage_s = timed(lambda: store.usage(now - 30 * DAY), args.repeat)
    print(f"monthly report ({report.total.requests:,} requests, ${report.total.cost:,.2f}, saved "
          f"${report.total.savings:,.2f}): {report_s * 1000:.1f} ms (median of {args.repeat})")  # fmt: skip
    print(f"monthly report for one team: {team_s * 1000:.1f} ms")
    print(f"budget seeding (spend by team and key since the 1st of the month): {budget_s * 1000:.1f} ms")
    print(f"usage for 30 days (with a leading part-day read from the ledger): {usage_s * 1000:.1f} ms")
    scan_s = None
    if args.compare_scan:

        def scan() -> None:
            store._query(
                "SELECT team, route, served_model, SUM(cost), SUM(input_tokens), SUM(output_tokens), COUNT(*) "
                "FROM requests WHERE ts >= ? GROUP BY 1, 2, 3",
                ((now // DAY - 29) * DAY,),
            )

        scan_s = timed(scan, 1)
        print(f"for contrast, the same month's totals scanned from the rows: {scan_s * 1000:.0f} ms")
    store.close()
    size_mb = sum(p.stat().st_size for p in args.db.parent.glob(args.db.name + "*")) / 1e6
    print(f"ledger file: {size_mb:,.0f} MB")
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps({
        "rows": done, "batch": args.batch, "bulk_inserts_per_s": round(bulk_rate), "fill_seconds": round(fill_s, 1),
        "steady_inserts_per_s_batch_500": round(steady_rate), "monthly_report_ms": round(report_s * 1000, 2),
        "monthly_report_team_ms": round(team_s * 1000, 2), "budget_seed_ms": round(budget_s * 1000, 2),
        "usage_30d_ms": round(usage_s * 1000, 2), "scan_ms": None if scan_s is None else round(scan_s * 1000),
        "report_requests": report.total.requests, "db_mb": round(size_mb),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
