"""A request's ledger record in the making: created when the request is resolved, filled from the
dispatch trace, queued exactly once whatever the outcome (answer, error, or client gone)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request

from ..dispatch import DispatchTrace
from ..errors import SwitchyardError, UpstreamError
from ..gateway import Gateway, Resolution
from ..ledger import new_request_id
from ..store.base import AttemptRecord, LedgerRecord
from ..types import Principal, Usage
from .http import ClientDisconnected, until_disconnect

T = TypeVar("T")

CLIENT_CLOSED = 499  # nginx's convention for "client closed request"


class RecordedCall:
    def __init__(
        self, gw: Gateway, principal: Principal, endpoint: str, res: Resolution, *, stream: bool = False
    ) -> None:
        self.gw = gw
        self.res = res
        self.trace = DispatchTrace()
        self.started = time.monotonic()
        self.settled = False
        now = gw.clock()
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
        )

    @property
    def id(self) -> str:
        return self.record.id

    async def dispatch(self, request: Request, work: Callable[[DispatchTrace], Awaitable[T]]) -> T:
        """Run the dispatch unless the client goes away first; a failure is recorded, then re-raised."""
        try:
            return await until_disconnect(request, work(self.trace))
        except ClientDisconnected:
            self.client_gone()
            raise
        except SwitchyardError as err:
            self.settle(error=err)
            raise

    def client_gone(self, usage: Usage | None = None) -> None:
        """The client hung up; ``usage`` is what was generated for it until then (streams)."""
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
        paid_elsewhere = 0.0  # answers paid for but not served (cascade refusals)
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
            )
            spent = usage if a.ok else a.usage
            if spent is not None:
                attempt.input_tokens, attempt.output_tokens = spent.prompt_tokens, spent.completion_tokens
                attempt.cost = self.gw.prices[a.model].cost(spent)
                if not a.ok:
                    paid_elsewhere += attempt.cost
            rec.attempts.append(attempt)
        if trace.attempts:
            last = trace.attempts[-1]
            model = self.gw.config.model(last.model)
            rec.served_model = last.model
            rec.provider = model.provider if model else None
            rec.locality = last.locality
            rec.ttft_ms = last.ttft_ms
        if usage is not None and rec.served_model is not None:
            rec.input_tokens = usage.prompt_tokens
            rec.output_tokens = usage.completion_tokens
            rec.cached_tokens = usage.cached_tokens
            rec.tokens_estimated = usage.estimated
            rec.cost = self.gw.prices[rec.served_model].cost(usage) + paid_elsewhere
            rec.counterfactual_cost = self.gw.prices[self.res.premium.name].cost(usage)
        self.gw.budgets.settle(self.res.reservation, cost=rec.cost, tokens=rec.input_tokens + rec.output_tokens)
        rec.status = status or (error.status if error is not None else 200)
        rec.error_class = error.error_class if error is not None else None
        self.gw.record(rec)

    def headers(self, served: str | None) -> dict[str, str]:
        headers = {"x-request-id": self.record.id, "x-switchyard-reason": self.res.reason}
        if self.res.route:
            headers["x-switchyard-route"] = self.res.route
        if served:
            headers["x-switchyard-model"] = served
        chain = self.trace.chain
        if len(chain) > 1:
            headers["x-switchyard-fallbacks"] = ",".join(chain)
        return headers
