"""A request's ledger record in the making: created when the request is resolved, filled from the
dispatch trace, queued exactly once whatever the outcome (answer, error, or the caller gone). Settling it
also settles the request's budget reservation against what was really spent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..budgets import Budgets
from ..config import GatewayConfig
from ..dispatch import Attempt, DispatchTrace
from ..errors import SwitchyardError, UpstreamError
from ..ledger import new_request_id
from ..pricing import ModelPrice
from ..resolve import Resolution
from ..store.base import AttemptRecord, LedgerRecord
from ..tokens import TokenCounter, worst_output
from ..types import Principal, Usage
from .results import CallInfo

T = TypeVar("T")

CLIENT_CLOSED = 499  # nginx's convention for "client closed request"


@dataclass(frozen=True)
class Accounting:
    """What settling a call needs: prices, the budgets, where records go, the clock, and a token counter
    (for what abandoned tries cost)."""

    config: GatewayConfig
    prices: Mapping[str, ModelPrice]
    budgets: Budgets
    record: Callable[[LedgerRecord], None]
    clock: Callable[[], float]
    tokens: TokenCounter


class RecordedCall:
    """``prompt`` gives the text the upstream was sent and ``output_limit`` the request's cap on output: a
    try given up while the upstream had the request (a timeout, or the caller leaving before the answer)
    is charged its counted prompt tokens, plus its whole output allowance when the call could not be
    stopped (``Provider.chat_cancellable``), marked estimated: the upstream bills it all the same."""

    def __init__(
        self,
        acct: Accounting,
        principal: Principal,
        endpoint: str,
        res: Resolution,
        *,
        stream: bool = False,
        prompt: Callable[[], str] = str,
        output_limit: int | None = None,
        eval_run: str | None = None,
    ) -> None:
        self.acct = acct
        self.res = res
        self.prompt = prompt
        self.output_limit = output_limit
        self._prompt_tokens: int | None = None
        self.trace = DispatchTrace()
        self.started = time.monotonic()
        self.settled = False
        now = acct.clock()
        self.record = LedgerRecord(
            id=new_request_id(now),
            ts=now,
            key_id=principal.key_id,
            team=principal.team,
            endpoint=endpoint,
            requested=res.requested,
            route=res.route,
            served_model=None,
            provider=None,
            locality=None,
            stream=stream,
            reasons=list(res.reasons),
            classes=sorted(res.classes),
            eval_run=eval_run,
        )

    @property
    def id(self) -> str:
        return self.record.id

    def note(self, reason: str) -> None:
        """A step of the decision trail taken during the call (after the policies): the record and the
        caller's reason both get it."""
        self.res.reasons.append(reason)
        self.record.reasons.append(reason)

    async def dispatch(self, work: Callable[[DispatchTrace], Awaitable[T]]) -> T:
        """Run the dispatch; a failure is recorded, then re-raised. A cancelled dispatch (the caller went
        away: an HTTP client hung up, a batch job was stopped) is recorded as such."""
        try:
            return await work(self.trace)
        except asyncio.CancelledError:
            self.client_gone()
            raise
        except SwitchyardError as err:
            self.settle(error=err)
            raise

    def client_gone(self, usage: Usage | None = None) -> None:
        """The caller went away; ``usage`` is what was generated for it until then (streams)."""
        self.settle(usage=usage, error=UpstreamError("client disconnected"), status=CLIENT_CLOSED)

    def settle(
        self, *, usage: Usage | None = None, error: SwitchyardError | None = None, status: int | None = None
    ) -> None:
        """Fill the record from the dispatch trace and queue it for the ledger (once)."""
        if self.settled:
            return
        self.settled = True
        rec, trace = self.record, self.trace
        rec.latency_ms = (time.monotonic() - self.started) * 1000
        rec.fallback_chain = trace.chain
        rec.attempts = []
        paid_elsewhere = 0.0  # paid for but not served: cascade refusals, abandoned tries
        extra = Usage()  # their tokens
        last = trace.answered or (trace.attempts[-1] if trace.attempts else None)
        for i, a in enumerate(trace.attempts):
            attempt = AttemptRecord(
                seq=i,
                ts=rec.ts + (a.started - self.started),
                model=a.model,
                provider=a.provider,
                locality=a.locality,
                latency_ms=a.latency_ms,
                ttft_ms=a.ttft_ms,
                status="ok" if a.ok else "error",
                error_class=a.error.error_class if a.error else None,
                check=a.check,
            )
            served = a is last and usage is not None
            spent = usage if served else a.usage if a.usage is not None else self._abandoned(a) if a.abandoned else None
            if spent is not None:
                attempt.input_tokens, attempt.output_tokens = spent.prompt_tokens, spent.completion_tokens
                attempt.cost = self.acct.prices[a.model].cost(spent)
                if not served:
                    paid_elsewhere += attempt.cost
                    extra.prompt_tokens += spent.prompt_tokens
                    extra.completion_tokens += spent.completion_tokens
                    extra.estimated = extra.estimated or spent.estimated
            rec.attempts.append(attempt)
        if last is not None:
            model = self.acct.config.model(last.model)
            rec.served_model = last.model
            rec.provider = model.provider if model else None
            rec.locality = last.locality
            rec.ttft_ms = last.ttft_ms
        premium = self.acct.prices[self.res.premium.name]
        billed = extra.total_tokens
        if usage is not None and rec.served_model is not None:
            rec.input_tokens = usage.prompt_tokens
            rec.output_tokens = usage.completion_tokens
            rec.cached_tokens = usage.cached_tokens
            rec.tokens_estimated = usage.estimated or extra.estimated
            rec.cost = self.acct.prices[rec.served_model].cost(usage) + paid_elsewhere
            rec.counterfactual_cost = premium.cost(usage)
            billed += usage.total_tokens
        elif billed:  # nothing served, but the upstream bills what it was sent
            rec.input_tokens, rec.output_tokens = extra.prompt_tokens, extra.completion_tokens
            rec.tokens_estimated = extra.estimated
            rec.cost = paid_elsewhere
            rec.counterfactual_cost = premium.cost(extra)
        self.acct.budgets.settle(self.res.reservation, cost=rec.cost, tokens=billed)
        rec.status = status or (error.status if error is not None else 200)
        rec.error_class = error.error_class if error is not None else None
        if error is not None:  # the client can find the failed call in the ledger
            error.headers.setdefault("x-request-id", rec.id)
        self.acct.record(rec)

    def _abandoned(self, a: Attempt) -> Usage:
        """What the upstream bills for a try given up while it had the request (estimated)."""
        if self._prompt_tokens is None:
            self._prompt_tokens = self.acct.tokens.count(self.prompt())
        output = 0
        model = self.acct.config.model(a.model)
        if not a.cancellable and model is not None:
            # The cap the budget sent upstream, else the request's own limit or the model's room.
            output = self.res.caps.get(a.model) or worst_output(self.output_limit, model, self._prompt_tokens)
        return Usage(prompt_tokens=self._prompt_tokens, completion_tokens=output, estimated=True)

    def info(self, served: str | None, *, cached: bool = False) -> CallInfo:
        """How the call was handled, for the caller (the server turns it into x-switchyard-* headers)."""
        rec = self.record
        return CallInfo(
            rec.id, self.res.route, self.res.reason, served, self.trace.chain, cached, rec.cost, rec.latency_ms,
            rec.guard,
        )  # fmt: skip
