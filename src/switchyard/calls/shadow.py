"""Shadow traffic (``policy.shadow`` on a route): after the client has its answer, a sample of the route's
requests is asked again of a candidate model, in the background. Both answers and the prompt land in an
eval run (kind ``shadow``: targets the route and the candidate, one item per request, keyed by the
production call's ledger id), so ``switchyard eval`` can compare the candidate with production on real
prompts. The shadow answer is never returned to the client, and nothing the shadow does can delay, change
or fail the client's answer.

Never for a team under zero retention, never for eval traffic itself; at most ``max_in_flight`` shadow
calls at once (past it the sample is skipped and counted), so a slow candidate cannot pile work up."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import AccessConfig, ShadowConfig
from ..errors import SwitchyardError
from ..evals.runner import answered, failed
from ..store.evals import EvalResult, EvalRunRecord, EvalStore
from ..types import ChatRequest, Principal

if TYPE_CHECKING:
    from ..resolve import Resolution
    from .results import CallInfo, ChatResult

log = logging.getLogger(__name__)

SHADOW_ENDPOINT = "shadow"
ChatFn = Callable[..., Awaitable["ChatResult"]]


@dataclass(frozen=True)
class Sample:
    """A request picked for shadowing: the route's settings, the caller and what it asked."""

    cfg: ShadowConfig
    principal: Principal
    request: ChatRequest
    route: str


@dataclass
class ShadowCounts:
    sent: int = 0
    skipped_busy: int = 0  # sampled, but max_in_flight shadow calls were running
    failed: int = 0


@dataclass
class Shadowing:
    """``chat`` is the call core's own ``chat`` (the shadow call is an ordinary call: policies, budgets,
    ledger); ``store`` keeps the shadow runs."""

    chat: ChatFn
    store: EvalStore
    access: AccessConfig
    clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    counts: ShadowCounts = field(default_factory=ShadowCounts)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runs: dict[str, EvalRunRecord] = field(default_factory=dict)
    _run_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wanted(
        self, principal: Principal, request: ChatRequest, res: Resolution, eval_run: str | None
    ) -> Sample | None:
        """This request as a shadow sample when the route shadows a model and the draw says so, else None."""
        cfg = res.policy.shadow
        if cfg is None or eval_run is not None or res.route is None:
            return None
        team = self.access.team(principal.team)
        if team is not None and team.retention == "zero":
            return None
        if self.rng.random() >= cfg.sample:
            return None
        return Sample(cfg, principal, request, res.route)

    def start(self, sample: Sample, answer: str | None, info: CallInfo) -> None:
        """Send the shadow call in the background (the client's answer is ``answer``, already given)."""
        if self.pending() >= sample.cfg.max_in_flight:
            self.counts.skipped_busy += 1
            return
        self.counts.sent += 1
        task = asyncio.create_task(self._shadow(sample, answer, info), name="shadow-call")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shadow(self, sample: Sample, answer: str | None, info: CallInfo) -> None:
        cfg, principal, request, route = sample.cfg, sample.principal, sample.request, sample.route
        try:
            run = await self._run(cfg, route, principal)
            asked = request.model_copy(update={"model": cfg.model, "stream": False, "stream_options": None})
            messages = [m.model_dump(exclude_none=True) for m in request.messages]
            production = EvalResult(
                run.id, info.id, route, self.clock(), request_id=info.id, served_model=info.model, answer=answer,
                cost=info.cost, latency_ms=info.latency_ms, extra={"messages": messages},
            )  # fmt: skip
            try:
                result = await self.chat(principal, asked, endpoint=SHADOW_ENDPOINT, eval_run=run.id)
            except SwitchyardError as exc:
                self.counts.failed += 1
                shadow = failed(run.id, info.id, cfg.model, self.clock(), exc)
            else:
                shadow = answered(run.id, info.id, cfg.model, self.clock(), result)
            await asyncio.to_thread(self.store.add_eval_results, [production, shadow])
        except asyncio.CancelledError:
            raise
        except Exception:  # never let the background task's failure surface anywhere but the log
            self.counts.failed += 1
            log.exception("shadow call for route %s failed", route)

    async def _run(self, cfg: ShadowConfig, route: str, principal: Principal) -> EvalRunRecord:
        name = cfg.run or f"shadow-{route}-{cfg.model}"
        async with self._run_lock:
            run = self._runs.get(name)
            if run is None:
                run = await asyncio.to_thread(self.store.find_eval_run, name)
                if run is None:
                    run = EvalRunRecord(
                        id=secrets.token_hex(8), name=name, created=self.clock(), set_name=f"live:{route}",
                        set_digest="live", targets=[route, cfg.model], team=principal.team, items=0, kind="shadow",
                        meta={"sample": cfg.sample},
                    )  # fmt: skip
                    await asyncio.to_thread(self.store.create_eval_run, run)
                self._runs[name] = run
        return run

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the shadow calls in flight (a graceful shutdown; tests); past ``timeout`` they are
        cancelled (each is then recorded as a cancelled call)."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    def pending(self) -> int:
        return sum(1 for t in self._tasks if not t.done())
