"""``switchyard eval judge RUN --judge MODEL``: score a two-target run by pairwise judging — a shadow run
(production vs. candidate on real prompts), where no reference answer exists. Each item's two answers go
to the judge in both orders (``judge_pair``); the side the judge picks both times scores 1 and the other 0,
a split or tie scores 0.5 each, an unreadable verdict leaves the item unscored. Afterwards
``eval compare RUN RUN --target-a <production> --target-b <candidate>`` gives the paired test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from ..errors import InvalidRequest
from ..store.evals import EvalResult, EvalRunRecord, EvalStore
from ..types import Message
from .scorers import JudgeClient, judge_pair
from .types import Answer, EvalItem, ScorerSpec


@dataclass(frozen=True)
class JudgeOutcome:
    judged: int
    first_wins: int  # the run's first target (production, in a shadow run)
    second_wins: int
    ties: int
    unreadable: int
    skipped: int  # items without two answers (a failed call) or without the prompt


_SCORES = {"first": (1.0, 0.0), "second": (0.0, 1.0), "tie": (0.5, 0.5)}


async def judge_run(
    run: EvalRunRecord,
    store: EvalStore,
    client: JudgeClient,
    *,
    concurrency: int = 4,
    rubric: str | None = None,
) -> JudgeOutcome:
    if len(run.targets) != 2:
        raise InvalidRequest(
            f"pairwise judging needs a run of two targets; {run.name!r} has {len(run.targets)}", param="run"
        )
    first, second = run.targets
    results = await asyncio.to_thread(store.eval_results, run.id)
    by_item: dict[str, dict[str, EvalResult]] = {}
    for r in results:
        by_item.setdefault(r.item_id, {})[r.target] = r
    counts = {"first": 0, "second": 0, "tie": 0, "unreadable": 0, "skipped": 0}
    gate = asyncio.Semaphore(concurrency)

    async def one(pair: dict[str, EvalResult]) -> list[EvalResult]:
        a, b = pair.get(first), pair.get(second)
        messages = (a.extra.get("messages") if a else None) or (b.extra.get("messages") if b else None)
        if a is None or b is None or not a.answered or not b.answered or not messages:
            counts["skipped"] += 1
            return []
        item = EvalItem(a.item_id, tuple(Message.model_validate(m) for m in messages), ScorerSpec("judge"))
        async with gate:
            verdict = await judge_pair(client, item, Answer(a.answer or ""), Answer(b.answer or ""), rubric=rubric)
        if verdict.winner is None:
            counts["unreadable"] += 1
            return [replace(r, detail=f"pairwise: {verdict.detail}") for r in (a, b)]
        counts[verdict.winner] += 1
        sa, sb = _SCORES[verdict.winner]
        return [
            replace(a, score=sa, passed=sa >= 0.5, detail=f"pairwise: {verdict.detail}"),
            replace(b, score=sb, passed=sb >= 0.5, detail=f"pairwise: {verdict.detail}"),
        ]

    scored = await asyncio.gather(*(one(pair) for pair in by_item.values()))
    await asyncio.to_thread(store.add_eval_results, [r for pair in scored for r in pair])
    return JudgeOutcome(
        judged=counts["first"] + counts["second"] + counts["tie"],
        first_wins=counts["first"],
        second_wins=counts["second"],
        ties=counts["tie"],
        unreadable=counts["unreadable"],
        skipped=counts["skipped"],
    )
