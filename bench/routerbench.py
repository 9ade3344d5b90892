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
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from switchyard.config import AgreementPolicy, GatewayConfig, ModelConfig, Price, RouteConfig, RoutePolicy, Settings
from switchyard.evals.report import Recommendation, build_report
from switchyard.evals.routerbench import RouterBench, load, split, write_jsonl
from switchyard.evals.runner import EvalRunner, RunPlan
from switchyard.evals.scorers import Scoring, extract_choice
from switchyard.evals.sets import EvalSet, load_eval_set
from switchyard.gateway import Gateway
from switchyard.pricing import resolve_price
from switchyard.routing import fit_from_results
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
    """One task's policy: a single model (``pair`` empty), or an agreement cascade where ``pair`` is asked at
    once and ``escalate`` answers when their letters differ."""

    model: str  # the single model, or the escalation model of a cascade
    pair: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{'+'.join(self.pair)}->{self.model}" if self.pair else self.model


def _plan_scores(
    plan: CascadePlan,
    ids: Sequence[str],
    letters: Mapping[str, Mapping[str, str | None]],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    order: Mapping[str, float],
) -> tuple[list[float], float]:
    """Per-item quality and total cost of a plan over recorded answers (what the gateway would do)."""
    if not plan.pair:
        return [quality[plan.model][i] for i in ids], sum(cost[plan.model][i] for i in ids)
    cheapest = min(plan.pair, key=lambda m: order[m])
    q: list[float] = []
    total = 0.0
    for i in ids:
        said = [letters[m][i] for m in plan.pair]
        total += sum(cost[m][i] for m in plan.pair)
        if said[0] is not None and all(x == said[0] for x in said):
            q.append(quality[cheapest][i])
        else:
            q.append(quality[plan.model][i])
            total += cost[plan.model][i]
    return q, total


def choose_cascades(
    tasks: Mapping[str, Sequence[str]],
    letters: Mapping[str, Mapping[str, str | None]],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    order: Mapping[str, float],
    best: str,
    target: float,
    z: float = 1.645,
) -> dict[str, CascadePlan]:
    """Per task a single model or an agreement cascade (a pair, escalating to a model pricier than both, as
    the gateway's cascade orders them), chosen together on the train items: the cheapest combination whose
    pooled quality kept, less ``z`` standard errors of the paired per-item difference (a one-sided 95%
    bound), reaches ``target``. The best model everywhere when nothing cheaper does."""
    import itertools

    import numpy as np

    models = list(quality)
    fronts: dict[str, list[tuple[CascadePlan, np.ndarray, float]]] = {}
    for task, ids in tasks.items():
        plans = [CascadePlan(m) for m in models]
        for a, b in itertools.combinations(models, 2):
            plans += [CascadePlan(e, (a, b)) for e in models if order[e] > max(order[a], order[b])]
        scored = []
        for plan in plans:
            q, c = _plan_scores(plan, ids, letters, quality, cost, order)
            scored.append((plan, np.array(q), c))
        scored.sort(key=lambda x: (x[2], -x[1].sum()))
        front, top = [], -1.0
        for entry in scored:  # keep what no cheaper plan beats on quality
            if entry[1].sum() > top:
                front.append(entry)
                top = float(entry[1].sum())
        fronts[task] = front
    names = list(tasks)
    best_q = np.concatenate([np.array([quality[best][i] for i in tasks[t]]) for t in names])
    chosen: dict[str, CascadePlan] = {t: CascadePlan(best) for t in names}
    chosen_cost = float("inf")
    for combo in itertools.product(*(fronts[t] for t in names)):
        c = sum(entry[2] for entry in combo)
        if c >= chosen_cost:
            continue
        diff = np.concatenate([entry[1] for entry in combo]) - target * best_q
        if diff.mean() - z * diff.std(ddof=1) / np.sqrt(len(diff)) >= 0:
            chosen, chosen_cost = {t: entry[0] for t, entry in zip(names, combo, strict=True)}, c
    return chosen


def oracle_choice(
    ids: Iterable[str],
    quality: Mapping[str, Mapping[str, float]],
    cost: Mapping[str, Mapping[str, float]],
    reference: str,
    models: Sequence[str],
) -> dict[str, str]:
    """The cheapest model that answers the item correctly (the reference model when none does)."""
    out = {}
    for i in ids:
        right = [m for m in models if quality[m].get(i, 0.0) >= 1.0]
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


def routed_config(
    base: GatewayConfig, plans: Mapping[str, CascadePlan], choices: Mapping[str, str], router: Path, target: float
) -> GatewayConfig:
    """The models, the route ``router`` (every model, the N-model router fit on the train run), and the
    cascade routes (``cascade_config``)."""
    cascades = cascade_config(base, plans, choices)
    route = RouteConfig(
        name="router",
        models=[m.name for m in base.models],
        policy=RoutePolicy(strategy="router", router=str(router), target_quality=target),
    )
    return GatewayConfig(models=base.models, routes=[route, *cascades.routes])


def cascade_config(base: GatewayConfig, plans: Mapping[str, CascadePlan], choices: Mapping[str, str]) -> GatewayConfig:
    """The models plus, per task whose plan is a cascade, a route ``cascade-<task>`` with the agreement
    verifier comparing the choice letter."""
    routes = [
        RouteConfig(
            name=f"cascade-{task}",
            models=[*plan.pair, plan.model],
            policy=RoutePolicy(
                strategy="cascade",
                agreement=AgreementPolicy(quorum=len(plan.pair), compare="choice", choices=choices[task]),
            ),
        )
        for task, plan in plans.items()
        if plan.pair
    ]
    return GatewayConfig(models=base.models, routes=routes)


def _letters(results: Iterable[EvalResult], eval_set: EvalSet) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = defaultdict(dict)
    for r in results:
        item = eval_set.get(r.item_id)
        assert item is not None
        out[r.target][r.item_id] = extract_choice(r.answer or "", list(item.scorer.args["choices"]))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    sides = read_sides(_paths(args.train), _paths(args.test), args.test_fraction, args.limit)
    bench = sides.bench
    rows = {r.id: r for r in bench.rows}

    def tasks_of(ids: Sequence[str]) -> dict[str, list[str]]:
        return {t: [i for i in ids if rows[i].eval_name == t] for t in sorted({rows[i].eval_name for i in ids})}

    with tempfile.TemporaryDirectory(prefix="routerbench-") as tmp:
        work = Path(tmp)
        write_jsonl(sides.train, work / "train.jsonl")
        write_jsonl(sides.test, work / "test.jsonl")
        sets = {"train": load_eval_set(work / "train.jsonl"), "test": load_eval_set(work / "test.jsonl")}
        train_ids = [i.id for i in sets["train"]]
        test_ids = [i.id for i in sets["test"]]
        db = work / "gateway.db"
        settings = Settings(db_path=db, ledger_flush_interval=0.05)
        with ReplayUpstream(bench.recordings(), record=False) as upstream:
            models_only = gateway_config(bench, upstream.url)

            async def every_model() -> tuple[dict[str, list[EvalResult]], Recommendation]:
                gw = Gateway(settings, models_only, environ={})
                await gw.start(warm=False)
                try:
                    results = await run_sets(gw, sets, bench.models, args.concurrency)
                    return results, recommendation(gw, results["train"], sets["train"], args.target_quality)
                finally:
                    await gw.aclose()

            results, rec = asyncio.run(every_model())
            q_train, c_train = _quality(results["train"]), _cost(results["train"])
            best = max(bench.models, key=lambda m: (sum(q_train[m].values()), -sum(c_train[m].values())))
            order = {m.name: resolve_price(m).blended() for m in models_only.models}
            plans = choose_cascades(
                tasks_of(train_ids), _letters(results["train"], sets["train"]), q_train, c_train, order, best,
                args.target_quality,
            )  # fmt: skip
            choices = {
                t: "".join(sorted({c for i in ids for c in sets["test"].get(i).scorer.args["choices"]}))  # type: ignore[union-attr]
                for t, ids in tasks_of(test_ids).items()
            }
            prompts = {item.id: item.prompt for item in sets["train"]}
            router = fit_from_results(prompts, q_train, c_train, args.target_quality)
            router.save(work / "router")
            routed = routed_config(models_only, plans, choices, work / "router", args.target_quality)

            async def through_routes() -> list[EvalResult]:
                gw = Gateway(settings, routed, environ={})
                await gw.start(warm=False)
                out: list[EvalResult] = []
                try:
                    for task, ids in tasks_of(test_ids).items():
                        plan = plans[task]
                        target = f"cascade-{task}" if plan.pair else plan.model
                        wanted = set(ids)
                        items = tuple(item for item in sets["test"] if item.id in wanted)
                        subset = EvalSet(f"test-{task}", items, sets["test"].sha256 + task)
                        runs = await run_sets(gw, {f"test-cascade-{task}": subset}, [target], args.concurrency)
                        out += [replace(r, target="cascade") for r in runs[f"test-cascade-{task}"]]
                    runs = await run_sets(gw, {"test-router": sets["test"]}, ["router"], args.concurrency)
                    out += runs["test-router"]
                finally:
                    await gw.aclose()
                return out

            routed_results = asyncio.run(through_routes())
        ledger_test = ledger_costs(db, "test")

    q_test, c_test = _quality(results["test"]), _cost(results["test"])
    q_test.update(_quality(routed_results))
    c_test.update(_cost(routed_results))
    groups: dict[str, list[str]] = {"all": test_ids, **tasks_of(test_ids)}
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
        "router": {
            "held_out_on_train": router.held_out.as_dict() if router.held_out else None,
            "choices_on_test": dict(Counter(r.served_model for r in routed_results if r.target == "router")),
            **policy_figures({i: "router" for i in test_ids}, q_test, c_test, best, groups),
        },
        "cascade": {
            "plans": {t: p.name for t, p in plans.items()},
            **policy_figures({i: "cascade" for i in test_ids}, q_test, c_test, best, groups),
        },
        "oracle": policy_figures(
            oracle_choice(test_ids, q_test, c_test, best, bench.models), q_test, c_test, best, groups
        ),
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
