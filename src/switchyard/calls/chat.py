"""A chat call below the HTTP layer: resolve -> dispatch (masked where the policies say) -> verify
(cascades) -> restore -> usage, cost and counterfactual -> budget settlement -> one ledger record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ..config import ModelConfig
from ..dispatch import Dispatcher, OpenStream, Rewrite
from ..errors import InvalidModelOutput, SwitchyardError
from ..providers.base import Provider
from ..resolve import Resolution
from ..sensitivity import PseudonymSession
from ..tokens import TokenCounter
from ..types import ChatRequest, ChatResponse, Chunk, Principal, ToolCallDelta, Usage
from ..verifiers import verifiers_for, verify
from .agreement import AgreementPlan, Restore, dispatch_by_agreement
from .budget_guard import BudgetGuard, capped
from .guarded import Ask, Guarded, UsageOf, guards
from .masking import Masking
from .recording import Accounting, RecordedCall
from .results import ChatResult, ChatStream


@dataclass(frozen=True)
class ChatParts:
    """The collaborators a chat call uses."""

    acct: Accounting
    dispatcher: Dispatcher
    tokens: TokenCounter
    pseudonyms: Callable[[], PseudonymSession] | None = None


def cascade_verified(req: ChatRequest, res: Resolution) -> bool:
    """A cascade judges whole answers: on a cascade route whose answers a verifier of the route can judge
    (structured output, tools, a confidence floor; any answer when the verifier is agreement), answers are
    checked before one is accepted."""
    if res.policy.strategy != "cascade" or len(res.targets) < 2:
        return False
    return res.policy.agreement is not None or _checkable(req, res)


def _checkable(req: ChatRequest, res: Resolution) -> bool:
    """Whether the route's checks (``verifiers``) can judge an answer to this request."""
    structured = req.response_format is not None and req.response_format.type != "text"
    return structured or bool(req.tools) or res.policy.min_confidence is not None


def _completion_text(resp: ChatResponse) -> str:
    """What the answer's output tokens are counted from when the upstream did not count them."""
    return (resp.content or "") + "".join(c.function.name + c.function.arguments for c in resp.tool_calls or ())


def _recorded(
    parts: ChatParts,
    principal: Principal,
    req: ChatRequest,
    res: Resolution,
    endpoint: str,
    eval_run: str | None,
    *,
    stream: bool,
) -> RecordedCall:
    """The ledger record of a chat call: its prompt and output cap, for charging an abandoned try."""
    return RecordedCall(
        parts.acct, principal, endpoint, res, stream=stream, prompt=req.prompt_text,
        output_limit=req.output_limit(), eval_run=eval_run,
    )  # fmt: skip


async def complete(
    parts: ChatParts,
    principal: Principal,
    req: ChatRequest,
    res: Resolution,
    endpoint: str,
    *,
    eval_run: str | None = None,
) -> ChatResult:
    """One whole answer (a streamed request on a verified cascade is also answered whole first)."""
    call = _recorded(parts, principal, req, res, endpoint, eval_run, stream=req.stream)
    verified = cascade_verified(req, res)
    sent = req.model_copy(update={"stream": False, "stream_options": None}) if req.stream else req
    if verified and res.policy.min_confidence is not None and not req.logprobs:
        # The confidence verifier reads logprobs; the caller gets them only if it asked too.
        sent = sent.model_copy(update={"logprobs": True})
    masking = Masking.for_resolution(parts.pseudonyms, res, sent)
    rewrite = capped(res, masking.rewrite if masking else None)
    guard = BudgetGuard.for_resolution(parts.acct.budgets, parts.acct.prices, res)
    checks = verifiers_for(res.policy.min_confidence)

    def accept(_model: ModelConfig, answer: ChatResponse) -> str | None:
        return verify(req, answer, checks)

    plan = _agreement_plan(call, res) if verified and res.policy.agreement is not None else None
    if plan is not None:
        model, resp = await call.dispatch(
            lambda trace: dispatch_by_agreement(
                plan,
                parts.dispatcher,
                sent,
                trace,
                rewrite=rewrite,
                accept=accept if _checkable(req, res) else None,
                guard=guard,
                usage_of=lambda answer, provider: (
                    answer.usage or parts.tokens.estimate(req, _completion_text(answer), provider)
                ),
                restore=_restorer(masking),
                note=call.note,
            )
        )
    else:
        model, resp = await call.dispatch(
            lambda trace: parts.dispatcher.chat(
                sent, res.targets, trace, rewrite, accept if verified else None, guard.admit if guard else None
            )
        )
    if guards(res.policy.guard, req):
        checker = Guarded(call, res.policy.guard, req, sent, res.targets, _usage_of(parts, req))
        ask = _asker(parts, call, rewrite, guard)
        first_model, first = model, resp
        model, resp = await call.dispatch(lambda _trace: checker.deliver(first_model, first, ask))
    if not req.logprobs:
        resp.logprobs = None
    if masking and masking.applies_to(model.name):
        resp = masking.session.restore_response(resp)
    if resp.usage is None:
        resp.usage = parts.tokens.estimate(req, _completion_text(resp), call.trace.served_by)
    call.settle(usage=resp.usage)
    return ChatResult(resp, call.info(model.name))


def _usage_of(parts: ChatParts, req: ChatRequest) -> UsageOf:
    """An answer's usage as the upstream reported it, else counted."""

    def usage_of(answer: ChatResponse, provider: Provider | None) -> Usage:
        return answer.usage or parts.tokens.estimate(req, _completion_text(answer), provider)

    return usage_of


def _asker(parts: ChatParts, call: RecordedCall, rewrite: Rewrite | None, budget: BudgetGuard | None) -> Ask:
    """How the output guard asks again: a whole answer along the given targets, each try admitted by the
    budget and recorded in the call's trace."""

    def ask(request: ChatRequest, targets: list[ModelConfig]) -> Awaitable[tuple[ModelConfig, ChatResponse]]:
        return parts.dispatcher.chat(request, targets, call.trace, rewrite, None, budget.admit if budget else None)

    return ask


def _agreement_plan(call: RecordedCall, res: Resolution) -> AgreementPlan | None:
    """The agreement verifier's plan for this call; too few candidates left: the route's checks only."""
    assert res.policy.agreement is not None
    plan = AgreementPlan.for_targets(res.targets, res.policy.agreement)
    if plan is None:
        call.note(f"cascade: too few candidates left for agreement ({len(res.targets)}): checks only")
    return plan


def _restorer(masking: Masking | None) -> Restore | None:
    if masking is None:
        return None

    def restore(model: ModelConfig, resp: ChatResponse) -> ChatResponse:
        return masking.session.restore_response(resp) if masking.applies_to(model.name) else resp

    return restore


async def open_stream(
    parts: ChatParts,
    principal: Principal,
    req: ChatRequest,
    res: Resolution,
    endpoint: str,
    *,
    eval_run: str | None = None,
) -> ChatStream:
    """Open a stream (retrying and falling back until a first chunk arrives). On a verified cascade the
    answer is judged whole first, then replayed as a stream."""
    checked = guards(res.policy.guard, req)
    if cascade_verified(req, res) or (checked and _json_output(req)):
        result = await complete(parts, principal, req, res, endpoint, eval_run=eval_run)
        return ChatStream(lambda s: _replay(s, result.response), result.info)
    call = _recorded(parts, principal, req, res, endpoint, eval_run, stream=True)
    masking = Masking.for_resolution(parts.pseudonyms, res, req)
    rewrite = capped(res, masking.rewrite if masking else None)
    guard = BudgetGuard.for_resolution(parts.acct.budgets, parts.acct.prices, res)
    opened = await call.dispatch(
        lambda trace: parts.dispatcher.stream(req, res.targets, trace, rewrite, guard.admit if guard else None)
    )
    restore = masking.session if masking and masking.applies_to(opened.model.name) else None
    provider = opened.member.provider
    held: Holding | None = None
    if checked:  # tool calls are held until they validate
        whole = req.model_copy(update={"stream": False, "stream_options": None})  # what a repair builds on
        checker = Guarded(call, res.policy.guard, req, whole, res.targets, _usage_of(parts, req))
        held = Holding(checker, opened.model, _asker(parts, call, rewrite, guard), _restorer(masking))
    return ChatStream(
        lambda s: _relay(s, parts.tokens, call, req, opened, provider, restore, held), call.info(opened.model.name)
    )


def _json_output(req: ChatRequest) -> bool:
    """A stream whose text is the structured answer: judged whole, then replayed."""
    return req.response_format is not None and req.response_format.type != "text"


@dataclass(frozen=True)
class Holding:
    """What a stream under the output guard needs to hold and judge its tool calls."""

    checker: Guarded
    model: ModelConfig
    ask: Ask
    restore: Restore | None

    def wrap(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        return self.checker.hold(chunks, self.model, self.ask, self.restore)


async def _replay(stream: ChatStream, resp: ChatResponse) -> AsyncIterator[Chunk]:
    """A complete (already recorded) answer as chunks: its text, its tool calls, the finish."""
    stream.usage = resp.usage
    if resp.content:
        stream.parts.append(resp.content)
        yield Chunk(content=resp.content)
    for i, tc in enumerate(resp.tool_calls or ()):
        yield Chunk(
            tool_calls=[ToolCallDelta(index=i, id=tc.id, name=tc.function.name, arguments=tc.function.arguments)]
        )
    yield Chunk(finish_reason=resp.finish_reason)


async def _relay(
    stream: ChatStream,
    tokens: TokenCounter,
    call: RecordedCall,
    req: ChatRequest,
    opened: OpenStream,
    provider: Provider,
    restore: PseudonymSession | None,
    held: Holding | None = None,
) -> AsyncIterator[Chunk]:
    """Relay the upstream's chunks. The record is queued after the upstream's last chunk and before this
    iterator ends, so an answer whose end the caller saw is always in the ledger."""
    usage: Usage | None = None
    produced = stream.parts
    tool_text: list[str] = []

    def final_usage() -> Usage:
        return usage or tokens.estimate(req, "".join(produced) + "".join(tool_text), provider)

    def take(chunk: Chunk) -> None:
        nonlocal usage
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.content:
            produced.append(chunk.content)
        for tc in chunk.tool_calls or ():
            tool_text.append((tc.name or "") + tc.arguments)

    # Without masking the upstream's iterator is relayed directly (no generator layer per chunk).
    first: Chunk | None = opened.first
    source = opened.rest
    if restore is not None:
        source, first = restore.restore_stream(_chained(opened)), None
    if held is not None:
        source, first = held.wrap(_prepended(first, source)), None
    try:
        if first is not None:
            take(first)
            yield first
        async for chunk in source:
            take(chunk)
            yield chunk
    except SwitchyardError as err:
        stream.usage = final_usage()
        # Refused by the guard: every answer was an attempt with its own usage, none was served.
        call.settle(usage=None if isinstance(err, InvalidModelOutput) else stream.usage, error=err)
        raise
    except (asyncio.CancelledError, GeneratorExit):
        if not call.settled:
            call.client_gone(final_usage())
        raise
    stream.usage = final_usage()
    call.settle(usage=stream.usage)


async def _chained(opened: OpenStream) -> AsyncIterator[Chunk]:
    yield opened.first
    async for chunk in opened.rest:
        yield chunk


async def _prepended(first: Chunk | None, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk


def cached_answer(
    acct: Accounting,
    principal: Principal,
    req: ChatRequest,
    res: Resolution,
    answer: str,
    endpoint: str,
    *,
    eval_run: str | None = None,
) -> ChatResult:
    """A cached RAG answer: the policies have decided this caller may have it (access, residency, budgets);
    the ledger keeps the request, at no cost, since no model was called."""
    res.reasons.append("rag: cached answer")
    call = RecordedCall(acct, principal, endpoint, res, eval_run=eval_run)
    call.settle(usage=Usage())
    resp = ChatResponse(call.id, req.model, int(time.time()), answer, "stop", usage=Usage())
    return ChatResult(resp, call.info(None, cached=True))
