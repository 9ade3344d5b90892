"""What agreement cascades can do on RouterBench-format data, exhaustively: per task, every cascade "ask
these k cheap models, accept their answer when at least m agree, else the reference model", over every
subset of the cheap models up to ``--max-size``; then the pooled pair of per-task policies.

    python bench/cascade_frontier.py --data CSV[,CSV...] [--budget 0.25] [--max-size 5] [--json]

Offline (the recorded answers read with the ``choice`` scorer's extractor, billed costs from the CSV), on
the same prompt-hash split as ``bench/routerbench.py``. Prints, pooled over the tasks (quality kept and
cost as a fraction of the reference, the model most accurate on train):

- ``chosen_on_train``: the pair with the highest train quality kept within ``--budget`` of cost on train,
  and its test figures: what an honest selection gets;
- ``best_on_test_within_budget``: the highest test quality kept of any pair whose *test* cost is within
  the budget: an upper bound for this family of policies (chosen by looking at the test side);
- ``frontier``: per task, the train-side cost/quality frontier with each policy's test figures.

It answers "is the target reachable by cascades over these recordings at all", which the gateway's own
benchmark (``bench/routerbench.py``) cannot: that one runs the policies it selects.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from switchyard.evals.routerbench import Row, load, split
from switchyard.evals.scorers import extract_choice

EXPENSIVE = 0.5  # cheap models: mean cost under this fraction of the reference's


@dataclass(frozen=True)
class Outcome:
    policy: str
    correct: int
    cost: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="RouterBench CSVs, comma-separated")
    ap.add_argument("--budget", type=float, default=0.25, help="cost fraction of the reference to stay within")
    ap.add_argument("--max-size", type=int, default=5, help="largest number of cheap models asked together")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def picks(row: Row, models: Sequence[str]) -> dict[str, str | None]:
    return {m: extract_choice(row.responses[m], list(row.choices)) for m in models}


def evaluate(rows: Sequence[tuple[Row, dict[str, str | None]]], asked: Sequence[str], quorum: int, ref: str) -> Outcome:
    correct, cost = 0, 0.0
    for row, said in rows:
        cost += sum(row.costs[m] for m in asked)
        votes = Counter(said[m] for m in asked if said[m]).most_common(2)
        agreed = votes and votes[0][1] >= quorum and (len(votes) == 1 or votes[1][1] < votes[0][1])
        label = votes[0][0] if agreed else said[ref]
        if not agreed:
            cost += row.costs[ref]
        correct += label is not None and label in row.reference
    name = ref if not asked else f"{quorum}/{len(asked)} " + ",".join(asked) if len(asked) > 1 else asked[0]
    return Outcome(name, correct, cost)


def single(rows: Sequence[tuple[Row, dict[str, str | None]]], model: str) -> Outcome:
    correct = sum(said[model] is not None and said[model] in row.reference for row, said in rows)
    return Outcome(model, correct, sum(row.costs[model] for row, _ in rows))


def policies(
    rows: Sequence[tuple[Row, dict[str, str | None]]], cheap: Sequence[str], ref: str, max_size: int
) -> list[Outcome]:
    out = [single(rows, ref)] + [single(rows, m) for m in cheap]
    for size in range(2, max_size + 1):
        for asked in itertools.combinations(cheap, size):
            out += [evaluate(rows, asked, quorum, ref) for quorum in range(size // 2 + 1, size + 1)]
    return out


def frontier(outcomes: Sequence[Outcome]) -> list[Outcome]:
    kept: list[Outcome] = []
    for o in sorted(outcomes, key=lambda o: (o.cost, -o.correct)):
        if not kept or o.correct > kept[-1].correct:
            kept.append(o)
    return kept


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    bench = load(args.data.split(","))
    rows = [r for r in bench.rows if r.reference]
    train_ids = {i["id"] for i in split([r.item() for r in rows], args.test_fraction)[0]}
    sides: dict[str, dict[str, list[tuple[Row, dict[str, str | None]]]]] = {}
    for row in rows:
        side = "train" if row.id in train_ids else "test"
        sides.setdefault(row.eval_name, {"train": [], "test": []})[side].append((row, picks(row, bench.models)))

    def accuracy(model: str, side: str) -> float:
        chosen = [r for task in sides.values() for r in task[side]]
        return single(chosen, model).correct / max(1, len(chosen))

    ref = max(bench.models, key=lambda m: accuracy(m, "train"))
    ref_cost = {m: sum(r.costs[m] for t in sides.values() for r, _ in t["train"]) for m in bench.models}
    cheap = [m for m in bench.models if m != ref and ref_cost[m] < EXPENSIVE * ref_cost[ref]]
    per_task: dict[str, dict[str, dict[str, Outcome]]] = {}
    for task, data in sorted(sides.items()):
        per_task[task] = {
            side: {o.policy: o for o in policies(data[side], cheap, ref, args.max_size)} for side in ("train", "test")
        }
    totals = {
        side: (
            sum(per_task[t][side][ref].correct for t in per_task),
            sum(per_task[t][side][ref].cost for t in per_task),
        )
        for side in ("train", "test")
    }

    def pooled(side: str, chosen: Sequence[str]) -> dict[str, float]:
        correct = sum(per_task[t][side][p].correct for t, p in zip(per_task, chosen, strict=True))
        cost = sum(per_task[t][side][p].cost for t, p in zip(per_task, chosen, strict=True))
        return {"quality_kept": correct / totals[side][0], "cost_fraction": cost / totals[side][1]}

    def best_within_budget(side: str) -> tuple[str, ...] | None:
        """The pair of per-task policies (from each task's frontier on ``side``) keeping the most quality on
        ``side`` within the budget."""
        fronts = [[o.policy for o in frontier(list(per_task[t][side].values()))] for t in per_task]
        best: tuple[float, tuple[str, ...]] | None = None
        for combo in itertools.product(*fronts):
            figures = pooled(side, combo)
            if figures["cost_fraction"] <= args.budget and (best is None or figures["quality_kept"] > best[0]):
                best = (figures["quality_kept"], combo)
        return best[1] if best else None

    def described(combo: tuple[str, ...] | None) -> dict[str, object] | None:
        if combo is None:
            return None
        return {
            "policies": dict(zip(per_task, combo, strict=True)),
            "train": pooled("train", combo),
            "test": pooled("test", combo),
        }

    result: dict[str, object] = {
        "reference": ref,
        "cheap_models": cheap,
        "budget": args.budget,
        "policies_per_task": {t: len(per_task[t]["train"]) for t in per_task},
        "chosen_on_train": described(best_within_budget("train")),
        "best_on_test_within_budget": described(best_within_budget("test")),
        "frontier": {
            t: [
                {
                    "policy": o.policy,
                    "train": _fractions(o, per_task[t]["train"][ref]),
                    "test": _fractions(per_task[t]["test"][o.policy], per_task[t]["test"][ref]),
                }
                for o in frontier(list(per_task[t]["train"].values()))
            ]
            for t in per_task
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return result


def _fractions(o: Outcome, ref: Outcome) -> dict[str, float]:
    return {"quality_kept": round(o.correct / max(1, ref.correct), 4), "cost_fraction": round(o.cost / ref.cost, 4)}


if __name__ == "__main__":
    main()
