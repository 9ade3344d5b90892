"""RouterBench through the gateway: 11 models' recorded answers replayed by a loopback upstream, eval runs
through the call core, and what routing buys against the most accurate model.

    python bench/routerbench.py --train CSV[,CSV...] --test CSV[,CSV...] [--target-quality 0.95] [--json]

Builds eval sets from the CSVs (reference = the choice letters of the answers RouterBench scored correct;
prompts with no correct answer dropped). When ``--test`` names the same files as ``--train``, the test side
is the items whose prompt hash falls under ``--test-fraction`` and the train side the rest. Starts the
replay upstream (``switchyard.testing.ReplayUpstream``) and a gateway with the 11 models, priced per token
so that the ledger reproduces RouterBench's billed costs, then runs ``eval run`` over train and test.

Prints one JSON object (the last line with ``--json``):
- ``models``: per model, test accuracy (the ``choice`` scorer), ledger cost on test and the CSV's cost;
- ``scorer_agreement``: share of (item, model) pairs where the ``choice`` scorer agrees with RouterBench;
- ``best_on_train``: the most accurate model on train — the reference of ``quality_kept`` (test quality
  over its test quality) and ``cost_fraction`` (test cost over its test cost);
- ``recommendation``: ``eval report``'s pick on train (cheapest within ``(1 - target) x`` the best
  quality), scored on test;
- ``router`` and ``cascade``: the N-model router fit from the train run and the agreement cascade, routed
  through the gateway on test;
- ``oracle``: the cheapest correct model per test prompt;
- each of the above pooled and per task (``by_task``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.config import GatewayConfig, ModelConfig, Price, Settings
from switchyard.evals.report import Recommendation, build_report
from switchyard.evals.routerbench import RouterBench, load, split, write_jsonl
from switchyard.evals.runner import EvalRunner, RunPlan
from switchyard.evals.scorers import Scoring
from switchyard.evals.sets import EvalSet, load_eval_set
from switchyard.gateway import Gateway
from switchyard.store.evals import EvalResult
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import ReplayUpstream
from switchyard.types import Principal

PRINCIPAL = Principal(key_id="bench", team="bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True, help="RouterBench CSVs to train on, comma-separated")
    ap.add_argument("--test", required=True, help="RouterBench CSVs to test on, comma-separated")
    ap.add_argument("--target-quality", type=float, default=0.95, help="share of the best model's quality to keep")
    ap.add_argument("--test-fraction", type=float, default=0.2, help="test share when --test repeats --train")
    ap.add_argument("--concurrency", type=int, default=16, help="eval calls in flight")
    ap.add_argument("--limit", type=int, default=None, help="at most this many items per side (smoke runs)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object on the last line")
    return ap.parse_args(argv)


def _paths(value: str) -> list[Path]:
    return [Path(p) for p in value.split(",") if p]


@dataclass(frozen=True)
class Sides:
    bench: RouterBench  # every row read, train and test
    train: list[dict[str, Any]]
    test: list[dict[str, Any]]


def read_sides(train: Sequence[Path], test: Sequence[Path], fraction: float, limit: int | None) -> Sides:
    if sorted(map(str, train)) == sorted(map(str, test)):
        bench = load(train)
        train_items, test_items = split(bench.items, fraction)
    else:
        bench = load([*train, *test])
        train_ids = {i["id"] for i in load(train).items}
        train_items = [i for i in bench.items if i["id"] in train_ids]
        test_items = [i for i in bench.items if i["id"] not in train_ids]
    if limit is not None:
        train_items, test_items = train_items[:limit], test_items[:limit]
    return Sides(bench, train_items, test_items)


def gateway_config(bench: RouterBench, url: str) -> GatewayConfig:
    fits = bench.fit_prices()
    models = [
        ModelConfig(
            name=m,
            provider="openai",
            base_url=url + "/v1",
            upstream_model=m,
            locality="us",
            price=Price(input=fits[m].price.input, output=fits[m].price.output),
            retry={"max_retries": 0},  # type: ignore[arg-type]
            timeouts={"connect": 5, "first_token": 60, "total": 120},  # type: ignore[arg-type]
            max_concurrency=64,
        )
        for m in bench.models
    ]
    return GatewayConfig(models=models)


async def run_sets(
    gw: Gateway, sets: Mapping[str, EvalSet], targets: Sequence[str], concurrency: int
) -> dict[str, list[EvalResult]]:
    out: dict[str, list[EvalResult]] = {}
    for name, eval_set in sets.items():
        runner = EvalRunner(gw.chat, PRINCIPAL, gw.store, lambda _run: Scoring(), flush_ledger=gw.ledger.flush)
        outcome = await runner.run(eval_set, RunPlan(name, tuple(targets), concurrency=concurrency, retries=1))
        out[name] = gw.store.eval_results(outcome.run.id)
    return out


def _quality(results: Iterable[EvalResult]) -> dict[str, dict[str, float]]:
    """target -> item -> score (0 for a failure)."""
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for r in results:
        table[r.target][r.item_id] = float(r.score or 0.0) if r.answered else 0.0
    return table


def _cost(results: Iterable[EvalResult]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for r in results:
        table[r.target][r.item_id] = r.cost
    return table


def policy_figures(
    choice: Mapping[str, str],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    reference: str,
    groups: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """A per-item choice of model scored against ``reference`` (a model) pooled and per group of items."""

    def figures(ids: Sequence[str]) -> dict[str, Any]:
        q = sum(quality[choice[i]][i] for i in ids)
        c = sum(cost[choice[i]][i] for i in ids)
        q_ref = sum(quality[reference][i] for i in ids)
        c_ref = sum(cost[reference][i] for i in ids)
        return {
            "items": len(ids),
            "accuracy": q / len(ids) if ids else None,
            "cost": c,
            "quality_kept": q / q_ref if q_ref else None,
            "cost_fraction": c / c_ref if c_ref else None,
        }

    out = figures(groups["all"])
    out["by_task"] = {g: figures(ids) for g, ids in groups.items() if g != "all"}
    return out


@dataclass(frozen=True)
class CascadePlan:
    """An agreement cascade: ``pair`` asked at once, ``escalate`` answers when their letters differ."""

    pair: tuple[str, str]
    escalate: str
    train_quality_kept: float
    train_cost_fraction: float


def choose_cascade(
    ids: Sequence[str],
    letters: Mapping[str, Mapping[str, str | None]],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    best: str,
    target: float,
    z: float = 1.645,
) -> CascadePlan:
    """The cheapest (pair, escalation) on the train items whose quality kept, less ``z`` standard errors of
    the paired per-item difference (a one-sided 95% bound), still reaches ``target``; the best model alone
    when none does."""
    import numpy as np

    models = list(quality)
    best_q = np.array([quality[best][i] for i in ids])
    best_c = sum(cost[best][i] for i in ids)
    top: CascadePlan | None = None
    top_cost = best_c
    for a_i, a in enumerate(models):
        for b in models[a_i + 1 :]:
            agree = np.array([letters[a][i] is not None and letters[a][i] == letters[b][i] for i in ids])
            cheap = a if sum(cost[a][i] for i in ids) <= sum(cost[b][i] for i in ids) else b
            pair_q = np.array([quality[cheap][i] for i in ids])
            pair_c = np.array([cost[a][i] + cost[b][i] for i in ids])
            for e in models:
                q = np.where(agree, pair_q, np.array([quality[e][i] for i in ids]))
                c = float(np.sum(pair_c + np.where(agree, 0.0, np.array([cost[e][i] for i in ids]))))
                if c >= top_cost:
                    continue
                diff = q - target * best_q
                bound = diff.mean() - z * diff.std(ddof=1) / np.sqrt(len(ids))
                if bound >= 0:
                    top_cost = c
                    top = CascadePlan((a, b), e, float(q.sum() / best_q.sum()), c / best_c)
    return top or CascadePlan((best, best), best, 1.0, 1.0)


def oracle_choice(
    ids: Iterable[str],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    reference: str,
) -> dict[str, str]:
    """The cheapest model that answers the item correctly (the reference model when none does)."""
    out = {}
    for i in ids:
        right = [m for m in quality if quality[m].get(i, 0.0) >= 1.0]
        out[i] = min(right, key=lambda m: cost[m][i]) if right else reference
    return out


def ledger_costs(db: Path, run_name: str) -> dict[str, float]:
    store = SQLiteStore(db)
    try:
        run = store.find_eval_run(run_name)
        assert run is not None
        rows = store._query(
            "SELECT served_model, SUM(cost) FROM requests WHERE eval_run = ? AND status = 200 GROUP BY 1", (run.id,)
        )
    finally:
        store.close()
    return {m: c for m, c in rows}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    sides = read_sides(_paths(args.train), _paths(args.test), args.test_fraction, args.limit)
    bench = sides.bench
    rows = {r.id: r for r in bench.rows}
    with tempfile.TemporaryDirectory(prefix="routerbench-") as tmp:
        work = Path(tmp)
        write_jsonl(sides.train, work / "train.jsonl")
        write_jsonl(sides.test, work / "test.jsonl")
        sets = {"train": load_eval_set(work / "train.jsonl"), "test": load_eval_set(work / "test.jsonl")}
        db = work / "gateway.db"
        with ReplayUpstream(bench.recordings(), record=False) as upstream:
            settings = Settings(db_path=db, ledger_flush_interval=0.05)
            gw = Gateway(settings, gateway_config(bench, upstream.url), environ={})

            async def main() -> tuple[dict[str, list[EvalResult]], Recommendation]:
                await gw.start(warm=False)
                try:
                    results = await run_sets(gw, sets, bench.models, args.concurrency)
                    return results, recommendation(gw, results["train"], sets["train"], args.target_quality)
                finally:
                    await gw.aclose()

            results, rec = asyncio.run(main())
        ledger_test = ledger_costs(db, "test")

    q_train, c_train = _quality(results["train"]), _cost(results["train"])
    q_test, c_test = _quality(results["test"]), _cost(results["test"])
    train_ids = [i.id for i in sets["train"]]
    test_ids = [i.id for i in sets["test"]]
    best = max(bench.models, key=lambda m: (sum(q_train[m].values()), -sum(c_train[m].values())))
    groups: dict[str, list[str]] = defaultdict(list)
    groups["all"] = test_ids
    for i in test_ids:
        groups[rows[i].eval_name].append(i)

    models = {
        m: {
            "test_accuracy": sum(q_test[m].values()) / len(test_ids),
            "train_accuracy": sum(q_train[m].values()) / len(train_ids),
            "ledger_cost_test": ledger_test.get(m, 0.0),
            "csv_cost_test": sum(rows[i].costs[m] for i in test_ids),
        }
        for m in bench.models
    }
    agree = total = 0
    for r in [*results["train"], *results["test"]]:
        total += 1
        agree += int(bool(r.passed) == bool(rows[r.item_id].scores[r.target]))
    figures: dict[str, Any] = {
        "n_train": len(train_ids),
        "n_test": len(test_ids),
        "target_quality": args.target_quality,
        "models": models,
        "scorer_agreement": agree / total,
        "best_on_train": best,
        "recommendation": {
            "model": rec.target,
            "margin": rec.margin,
            **policy_figures({i: rec.target for i in test_ids}, q_test, c_test, best, groups),
        },
        "oracle": policy_figures(oracle_choice(test_ids, q_test, c_test, best), q_test, c_test, best, groups),
        "ledger_matches_csv": max(
            abs(v["ledger_cost_test"] - v["csv_cost_test"]) / v["csv_cost_test"]
            for v in models.values()
            if v["csv_cost_test"]
        ),
        "dropped_rows": dict(bench.dropped),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return figures


def recommendation(gw: Gateway, results: list[EvalResult], eval_set: EvalSet, target: float) -> Recommendation:
    """``eval report``'s pick on the train run, its margin the quality the target gives up."""
    run = gw.store.find_eval_run("train")
    assert run is not None
    ids = [i.id for i in eval_set]
    best = max(build_report(run, results, ids).targets, key=lambda t: t.quality)
    rec = build_report(run, results, ids, margin=(1 - target) * best.quality).recommendation
    assert rec is not None
    return rec


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [p for p in [*_paths(args.train), *_paths(args.test)] if not p.is_file()]
    if missing:
        print(f"missing CSV: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
