"""``switchyard eval run``: every item of a set to every target (model or route) through the gateway's call
core — keys, policies, budgets, ledger and costs apply, and each ledger record carries the run's id.

Bounded concurrency; a failed call is retried when its error is retryable; each answer is scored and
stored as soon as it arrives, after the ledger has its record, so an interrupted run resumes where it
stopped: items already answered are never sent again (a failure is). A stop request (``stop()``, the CLI's
Ctrl-C) lets the calls in flight finish and be stored, and starts no new one."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import InvalidRequest, SwitchyardError
from ..store.evals import EvalResult, EvalRunRecord, EvalStore
from ..types import ChatRequest, ChatResponse, Principal
from .scorers import Scoring
from .sets import EvalSet
from .types import Answer, EvalItem

log = logging.getLogger(__name__)

EVAL_ENDPOINT = "eval"  # the ledger's endpoint for eval traffic (production is "chat", "messages", ...)
# Chat callable: the gateway's ``chat`` (or anything with its signature, for tests).


class CallFacts(Protocol):
    """What a run reads of how a call was handled (``calls.results.CallInfo`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def cost(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...


class ChatResult(Protocol):
    """What a run reads of an answer (``calls.results.ChatResult`` has it): evals sit below the call
    core, which reads answers with their extractors, so they name only this shape."""

    @property
    def response(self) -> ChatResponse: ...
    @property
    def info(self) -> CallFacts: ...


ChatFn = Callable[..., Awaitable[ChatResult]]
Progress = Callable[[int, int], None]  # (done, total) of this invocation's pairs


@dataclass(frozen=True)
class RunPlan:
    name: str
    targets: tuple[str, ...]
    concurrency: int = 4
    retries: int = 2  # extra tries of a retryable failure (the gateway's own fallbacks come first)
    params: dict[str, Any] = field(default_factory=dict)  # request fields: temperature, max_tokens, ...

    def __post_init__(self) -> None:
        if not self.targets:
            raise InvalidRequest("name at least one model or route to evaluate", param="models")
        if len(set(self.targets)) != len(self.targets):
            raise InvalidRequest("a target is named twice", param="models")
        if not 1 <= self.concurrency <= 256:
            raise InvalidRequest("concurrency must be from 1 to 256", param="concurrency")
        if not 0 <= self.retries <= 10:
            raise InvalidRequest("retries must be from 0 to 10", param="retries")


@dataclass(frozen=True)
class RunOutcome:
    run: EvalRunRecord
    sent: int  # pairs sent in this invocation
    answered: int
    failed: int
    skipped: int  # pairs already answered by an earlier invocation
    stopped: bool  # a stop was requested before every pair was sent


class EvalRunner:
    def __init__(
        self,
        chat: ChatFn,
        principal: Principal,
        store: EvalStore,
        scoring: Callable[[EvalRunRecord], Scoring],
        *,
        flush_ledger: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
    ) -> None:
        """``chat`` is ``Gateway.chat``; ``scoring`` gives the run's scorers (a judge's calls are tagged with
        the run, so it is made once the run is known); ``flush_ledger`` (``Gateway.ledger.flush``) is awaited
        before an answer is stored, so a stored answer always has its ledger record."""
        self.chat = chat
        self.principal = principal
        self.store = store
        self.scoring = scoring
        self.flush_ledger = flush_ledger
        self.clock = clock
        self.progress = progress
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Start no new call; the calls in flight finish and are stored."""
        self._stop.set()

    async def open_run(self, eval_set: EvalSet, plan: RunPlan) -> tuple[EvalRunRecord, set[tuple[str, str]]]:
        """The run named ``plan.name`` (created, or found to resume) and the (item, target) pairs it has
        answered already."""
        run = await asyncio.to_thread(self.store.find_eval_run, plan.name)
        if run is None:
            run = EvalRunRecord(
                id=secrets.token_hex(8),
                name=plan.name,
                created=self.clock(),
                set_name=eval_set.name,
                set_digest=eval_set.sha256,
                targets=list(plan.targets),
                team=self.principal.team,
                items=len(eval_set),
                meta={
                    "item_ids": [item.id for item in eval_set],
                    "params": plan.params,
                    # where the prompts are, for `switchyard router fit --from-run` (checked against set_digest)
                    "set_path": str(Path(eval_set.path).resolve()) if eval_set.path else None,
                },
            )
            await asyncio.to_thread(self.store.create_eval_run, run)
            return run, set()
        if run.set_digest != eval_set.sha256:
            raise InvalidRequest(
                f"run {plan.name!r} was made over another version of the set (sha256 {run.set_digest[:12]}…): "
                "name a new run",
                param="name",
            )
        if list(plan.targets) != run.targets:
            raise InvalidRequest(
                f"run {plan.name!r} evaluates {', '.join(run.targets)}: resume it with the same models, or name a new run",
                param="models",
            )
        done = await asyncio.to_thread(self.store.eval_results, run.id)
        return run, {(r.item_id, r.target) for r in done if r.answered}

    async def run(self, eval_set: EvalSet, plan: RunPlan) -> RunOutcome:
        run, done = await self.open_run(eval_set, plan)
        scoring = self.scoring(run)
        pending = [(item, t) for item in eval_set for t in plan.targets if (item.id, t) not in done]
        total = len(pending)
        counts = {"sent": 0, "answered": 0, "failed": 0}
        queue = iter(pending)

        async def worker() -> None:
            for item, target in queue:
                if self._stop.is_set():
                    return
                counts["sent"] += 1
                result = await self._one(run, item, target, plan, scoring)
                if self.flush_ledger is not None:
                    await self.flush_ledger()
                await asyncio.to_thread(self.store.add_eval_results, [result])
                counts["answered" if result.answered else "failed"] += 1
                if self.progress is not None:
                    self.progress(counts["answered"] + counts["failed"], total)

        await asyncio.gather(*(worker() for _ in range(min(plan.concurrency, max(total, 1)))))
        return RunOutcome(
            run=run,
            sent=counts["sent"],
            answered=counts["answered"],
            failed=counts["failed"],
            skipped=len(eval_set) * len(plan.targets) - total,
            stopped=counts["sent"] < total,
        )

    async def _one(
        self, run: EvalRunRecord, item: EvalItem, target: str, plan: RunPlan, scoring: Scoring
    ) -> EvalResult:
        request = item.request(target, **plan.params)
        started = time.monotonic()
        error: SwitchyardError | None = None
        for attempt in range(plan.retries + 1):
            try:
                result = await self._ask(request, run.id)
            except SwitchyardError as exc:
                error = exc
                if not getattr(exc, "retryable", False) or attempt == plan.retries:
                    break
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
                continue
            return await self._scored(run, item, target, result, started, scoring)
        assert error is not None
        return failed(run.id, item.id, target, self.clock(), error, latency_ms=(time.monotonic() - started) * 1000)

    async def _ask(self, request: ChatRequest, run_id: str) -> ChatResult:
        return await self.chat(self.principal, request, endpoint=EVAL_ENDPOINT, eval_run=run_id)

    async def _scored(
        self, run: EvalRunRecord, item: EvalItem, target: str, result: ChatResult, started: float, scoring: Scoring
    ) -> EvalResult:
        response = result.response
        answer = Answer.from_response(response)
        value: float | None
        passed: bool | None
        detail: str | None
        meta: dict[str, Any]
        try:
            score = await scoring.score(item, answer)
        except SwitchyardError as exc:  # a scorer that cannot run (a judge that failed): the answer is kept
            value, passed, detail, meta = None, None, f"not scored: {exc.message}", {}
        else:
            value, passed, detail, meta = score.value, score.passed, score.detail, dict(score.meta)
        return answered(
            run.id, item.id, target, self.clock(), result, score=value, passed=passed, detail=detail,
            latency_ms=result.info.latency_ms or (time.monotonic() - started) * 1000, extra=_plain(meta),
        )  # fmt: skip


def answered(run_id: str, item_id: str, target: str, ts: float, result: ChatResult, **fields: Any) -> EvalResult:
    """The stored result of an answer: the call's ledger id, model, text, tool calls, tokens, cost, latency;
    ``fields`` adds the score or overrides (the runner and shadow traffic both record answers)."""
    response = result.response
    usage = response.usage
    values: dict[str, Any] = {
        "request_id": result.info.id,
        "served_model": result.info.model,
        "answer": response.content,
        "tool_calls": [c.model_dump() for c in response.tool_calls] if response.tool_calls else None,
        "input_tokens": usage.prompt_tokens if usage else 0,
        "output_tokens": usage.completion_tokens if usage else 0,
        "cost": result.info.cost,
        "latency_ms": result.info.latency_ms,
    }
    return EvalResult(run_id, item_id, target, ts, **{**values, **fields})


def failed(run_id: str, item_id: str, target: str, ts: float, error: SwitchyardError, **fields: Any) -> EvalResult:
    """The stored result of a call that failed (after its retries)."""
    return EvalResult(run_id, item_id, target, ts, error=f"{type(error).__name__}: {error.message}"[:500], **fields)


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    """Scorer metadata as JSON-safe values (tuples -> lists, anything else -> str)."""

    def plain(v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple | set | frozenset):
            return [plain(x) for x in v]
        return str(v)

    return {str(k): plain(v) for k, v in meta.items()}


def gateway_judge(
    chat: ChatFn, principal: Principal, model: str, run_id: str
) -> Callable[[list[dict[str, str]]], Awaitable[str]]:
    """A judge client for the ``judge`` scorer that calls ``model`` through the gateway: its calls are
    policed, billed and tagged with the run like the answers they judge."""

    async def ask(messages: list[dict[str, str]]) -> str:
        request = ChatRequest.model_validate({"model": model, "messages": messages, "temperature": 0})
        result = await chat(principal, request, endpoint=EVAL_ENDPOINT, eval_run=run_id)
        return result.response.content or ""

    return ask
