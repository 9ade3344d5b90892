"""Cost of live metrics on the request path: one ``GatewayMetrics.observe`` per finished request, and
one scrape of ``/metrics`` (the exposition) with the series that traffic created.

    python bench/metrics.py [--records 20000] [--json]

Prints microseconds per observed request (plain and streamed records, across teams, routes, models and
statuses) and milliseconds per scrape. Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import json
import time

from switchyard.config import GatewayConfig, ModelConfig, RouteConfig
from switchyard.observability import GatewayMetrics
from switchyard.store.base import LedgerRecord


def _config(models: int, routes: int) -> GatewayConfig:
    names = [f"model-{i}" for i in range(models)]
    return GatewayConfig(
        models=[ModelConfig(name=n, provider="openai", base_url="http://127.0.0.1:9/v1", locality="us") for n in names],
        routes=[RouteConfig(name=f"route-{i}", models=names[: 1 + i % models]) for i in range(routes)],
    )


def _records(n: int, models: int, routes: int, teams: int) -> list[LedgerRecord]:
    out = []
    for i in range(n):
        route = f"route-{i % routes}" if i % 4 else None
        out.append(
            LedgerRecord(
                id=str(i), ts=0.0, key_id="k", team=f"team-{i % teams}", endpoint="chat",
                requested=route or "model-0", route=route, served_model=f"model-{i % models}", provider="openai",
                locality="us", input_tokens=300 + i % 50, output_tokens=100, cached_tokens=0 if i % 3 else 64,
                cost=0.001, counterfactual_cost=0.004, latency_ms=150.0, ttft_ms=40.0, stream=bool(i % 2),
                status=200 if i % 20 else 502, error_class=None if i % 20 else "UpstreamStatusError",
                fallback_chain=["model-0"], reasons=["residency: pii -> on_prem"] if i % 7 == 0 else [],
            )
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--routes", type=int, default=4)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    metrics = GatewayMetrics(_config(args.models, args.routes))
    records = _records(args.records, args.models, args.routes, args.teams)
    for rec in records[:200]:  # create the series first: steady state is what requests pay
        metrics.observe(rec)
    start = time.perf_counter()
    for rec in records:
        metrics.observe(rec)
    per_record = (time.perf_counter() - start) / len(records)
    scrapes = 20
    start = time.perf_counter()
    for _ in range(scrapes):
        body = metrics.exposition()
    per_scrape = (time.perf_counter() - start) / scrapes
    figures = {
        "records": len(records),
        "observe_us_per_request": round(per_record * 1e6, 2),
        "scrape_ms": round(per_scrape * 1e3, 2),
        "exposition_kb": round(len(body) / 1024, 1),
        "series_lines": sum(1 for line in body.decode().splitlines() if line and not line.startswith("#")),
    }
    for k, v in figures.items():
        print(f"{k:>24}: {v}")
    if args.json:
        print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
