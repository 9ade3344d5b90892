"""A cascade's agreement verifier (FrugalGPT-style), as one call's dispatch: ask the cheapest candidates
at once; when enough of them say the same, return the cheapest of those answers, else escalate.

- The ``quorum`` cheapest candidates are asked concurrently, never the last one (it is kept to escalate
  to). Each is a dispatch of its own (retries per its model's policy) whose tries land in the call's
  trace, so every answer paid for is an attempt, with its tokens and cost, on the one ledger record.
- An answer counts when it arrived and passes the route's checks (``verifiers``: structured output,
  tool arguments, ``min_confidence``). A candidate that failed after its retries (a 500, a timeout)
  counts as no agreement: it cannot make the others agree, and with the default ``min_agree`` (all
  asked) the call escalates. Only a budget refusal (429) ends the call instead.
- ``min_agree`` answers that say the same (``switchyard.agreement``: one group larger than any other):
  the cheapest of them is served. Otherwise the remaining candidates are dispatched in order (the next
  one answers, with the usual fallbacks and checks) and that answer is served.
- Budgets: before the concurrent tries, the reservation is extended to cover all their worst cases (or
  the call stops with 429 before anything is sent); the escalation's try extends it by what the cheap
  answers cost (``BudgetGuard.admit``).
- Latency: the call waits for every candidate asked; a disagreement adds the escalation's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from ..agreement import Comparison, Said, Vote, vote
from ..config import AgreementPolicy, ModelConfig
from ..dispatch import Accept, Dispatcher, DispatchTrace, Rewrite
from ..errors import RateLimited, SwitchyardError
from ..providers.base import Provider
from ..types import ChatRequest, ChatResponse, Usage
from .budget_guard import BudgetGuard

# The answer's usage (estimated when the upstream sent none), given the deployment that answered.
UsageOf = Callable[[ChatResponse, Provider | None], Usage]
# An answer as the caller will see it (restored where it was pseudonymized), for comparing.
Restore = Callable[[ModelConfig, ChatResponse], ChatResponse]


@dataclass(frozen=True)
class AgreementPlan:
    asked: list[ModelConfig]
    rest: list[ModelConfig]
    needed: int
    comparison: Comparison

    @classmethod
    def for_targets(cls, targets: list[ModelConfig], policy: AgreementPolicy) -> AgreementPlan | None:
        """The plan for a cascade's candidates (cheapest first), or None when the policies left too few
        to ask the needed number of them and still have one to escalate to."""
        asked = targets[: min(policy.quorum, len(targets) - 1)]
        if len(asked) < policy.needed:
            return None
        return cls(asked, targets[len(asked) :], policy.needed, Comparison.of(policy))


@dataclass
class _Heard:
    model: ModelConfig
    trace: DispatchTrace
    response: ChatResponse | None = None
    said: Said | None = None
    problem: str | None = None  # why the answer does not count: the candidate failed, a check refused it


async def dispatch_by_agreement(
    plan: AgreementPlan,
    dispatcher: Dispatcher,
    request: ChatRequest,
    trace: DispatchTrace,
    *,
    rewrite: Rewrite | None,
    accept: Accept | None,
    guard: BudgetGuard | None,
    usage_of: UsageOf,
    restore: Restore | None,
    note: Callable[[str], None],
) -> tuple[ModelConfig, ChatResponse]:
    """Ask, compare, then serve the agreed answer or escalate (see the module docstring)."""
    if guard is not None and (waiting := guard.admit_all(plan.asked, trace)) is not None:
        await waiting
    admit = guard.admit if guard is not None else None
    heard = [_Heard(model, trace.branch()) for model in plan.asked]
    outcomes = await asyncio.gather(
        *(dispatcher.chat(request, [h.model], h.trace, rewrite, None, admit) for h in heard), return_exceptions=True
    )
    stop: BaseException | None = None
    for h, outcome in zip(heard, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            h.problem = f"failed ({outcome.error_class})" if isinstance(outcome, SwitchyardError) else "failed"
            if isinstance(outcome, RateLimited) or not isinstance(outcome, SwitchyardError):
                stop = stop or outcome  # the budget said stop (or a bug): the answers are still recorded
            continue
        _, response = outcome
        response.usage = usage_of(response, h.trace.served_by)
        if h.trace.answered is not None:
            h.trace.answered.usage = response.usage  # paid for, served or not (the ledger; the budget)
        h.response = response
        refused = accept(h.model, response) if accept is not None else None
        if refused is not None:
            h.problem = "refused by the checks"
            continue
        h.said = plan.comparison.read(restore(h.model, response) if restore is not None else response)
    if stop is not None:
        raise stop
    result = vote([h.said for h in heard], plan.comparison, plan.needed)
    tally = f"{result.largest}/{len(heard)}"
    if result.agreed is not None:
        chosen = heard[result.agreed[0]]
        assert chosen.response is not None
        shown = chosen.said.shown if chosen.said is not None else None
        on = f"on {shown}" if shown else f"({plan.comparison.compare})"
        note(f"cascade: agreement {tally} {on} -> {chosen.model.name}")
        trace.served_by, trace.answered = chosen.trace.served_by, chosen.trace.answered
        return chosen.model, chosen.response
    note(f"cascade: disagreement {tally} ({_heard(heard, result)}) -> {plan.rest[0].name}")
    return await dispatcher.chat(request, plan.rest, trace, rewrite, accept, admit)


def _heard(heard: list[_Heard], result: Vote) -> str:
    """What each candidate said, for the trail: a label or tool names where they may be shown, else
    which answers went together ("answer 1", "answer 2"), never the text."""
    parts = []
    for h, group in zip(heard, result.groups, strict=True):
        if h.problem is not None:
            what = h.problem
        elif h.said is None:
            what = "no readable answer"
        else:
            what = h.said.shown or f"answer {group}"
        parts.append(f"{h.model.name} {what}")
    return ", ".join(parts)
