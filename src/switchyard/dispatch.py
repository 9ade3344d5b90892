"""Ordered targets -> an answer: timeouts, retries with jittered backoff, circuit breakers, fallbacks.

For each candidate model in route order, the dispatcher tries the model's deployments (balanced by its
pool) up to ``retry.max_retries + 1`` times on retryable errors, then falls back to the next model.
Errors that are the client's fault (the upstream refused the request itself) end the search at once.
Streams are retried only until their first chunk: once output may have reached the client, a failure
is reported, never retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import TypeVar

from .config import ModelConfig
from .errors import NoDeploymentAvailable, SwitchyardError, UpstreamError, UpstreamTimeout, VerifierRejected
from .pool import DeploymentPool, Member
from .providers.base import Provider
from .types import ChatRequest, ChatResponse, Chunk, EmbeddingResponse, Usage

T = TypeVar("T")
# The request as a given target should receive it (e.g. pseudonymized for one outside the perimeter).
Rewrite = Callable[[ModelConfig, ChatRequest], ChatRequest]
# A cascade's judgement of an answer: a reason to escalate, or None to accept it.
Accept = Callable[[ModelConfig, ChatResponse], str | None]
# Called before each try (the budget extends its reservation, or raises 429 to stop the call). It returns
# an awaitable when it has to wait (shared counters), None when it is done (no await on the fast path).
Admit = Callable[[ModelConfig, "DispatchTrace"], Awaitable[None] | None]


@dataclass
class Attempt:
    """One try against one deployment, as the ledger records it."""

    model: str
    provider: str
    locality: str
    started: float
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    error: SwitchyardError | None = None
    usage: Usage | None = None  # set for answers that were paid for but not served (cascade refusals)
    # The call was given up while the upstream had the request (a timeout, or the caller went away): the
    # upstream bills the prompt and whatever it generated, which the ledger estimates.
    abandoned: bool = False
    cancellable: bool = True  # False: giving up does not stop the upstream (it bills the whole answer)
    check: str | None = None  # the output guard's verdict on the answer: "valid" or "invalid: <kind>"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class DispatchTrace:
    attempts: list[Attempt] = field(default_factory=list)
    served_by: Provider | None = None  # the deployment that answered, once one has
    answered: Attempt | None = None  # the try whose answer is served (the last one, unless set otherwise)

    def branch(self) -> DispatchTrace:
        """A trace for one of several concurrent dispatches of the same call: its tries land in this
        trace's attempts (the ledger record's and the budget's view), its outcome stays its own."""
        return DispatchTrace(self.attempts)

    @property
    def chain(self) -> list[str]:
        """Distinct models tried, in order: the fallback chain."""
        seen: list[str] = []
        for a in self.attempts:
            if a.model not in seen:
                seen.append(a.model)
        return seen


@dataclass
class OpenStream:
    """A stream whose first chunk has arrived; ``rest`` yields the others within the total timeout."""

    model: ModelConfig
    member: Member
    attempt: Attempt
    first: Chunk
    rest: AsyncIterator[Chunk]


def _client_fault(err: SwitchyardError) -> bool:
    return not isinstance(err, UpstreamError) or err.status in (400, 404, 413)


class Dispatcher:
    def __init__(
        self,
        pools: dict[str, DeploymentPool],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.pools = pools
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _backoff(self, model: ModelConfig, retry_no: int) -> float:
        cap = min(model.retry.backoff_max, model.retry.backoff_initial * (2**retry_no))
        return self._rng.uniform(0, cap)  # full jitter

    async def _attempts(
        self, targets: list[ModelConfig], trace: DispatchTrace, admit: Admit | None = None
    ) -> AsyncGenerator[tuple[ModelConfig, Member, Attempt], None]:
        """Yield (model, deployment, attempt) to try, in order; the caller reports the outcome by setting
        ``attempt.error`` before asking for the next one."""
        last: SwitchyardError | None = None
        for model in targets:
            pool = self.pools[model.name]
            tries = model.retry.max_retries + 1
            for n in range(tries):
                if admit is not None and (waiting := admit(model, trace)) is not None:
                    await waiting
                member = _claim(pool.candidates(), n)
                if member is None:
                    last = NoDeploymentAvailable(f"no deployment of {model.name!r} is available (circuit open)")
                    break
                attempt = Attempt(model.name, member.provider.label, model.locality, time.monotonic())
                trace.attempts.append(attempt)
                yield model, member, attempt
                err = attempt.error
                if err is None:
                    return
                last = err
                if _client_fault(err):
                    raise err
                if not err.retryable:
                    break
                if n + 1 < tries:
                    await self._sleep(self._backoff(model, n))
        raise last or NoDeploymentAvailable("no candidate model to try")

    @staticmethod
    def _settle(member: Member, attempt: Attempt, err: SwitchyardError | None) -> None:
        attempt.latency_ms = (time.monotonic() - attempt.started) * 1000
        attempt.error = err
        if isinstance(err, VerifierRejected):
            attempt.usage = err.usage
        if err is None:
            member.breaker.record_success()
        elif _client_fault(err) or isinstance(err, NoDeploymentAvailable | VerifierRejected):
            # Not the deployment's failure: the request itself was refused, or a local queue was full.
            member.breaker.release()
        else:
            member.breaker.record_failure()

    async def chat(
        self,
        request: ChatRequest,
        targets: list[ModelConfig],
        trace: DispatchTrace,
        rewrite: Rewrite | None = None,
        accept: Accept | None = None,
        admit: Admit | None = None,
    ) -> tuple[ModelConfig, ChatResponse]:
        """``accept`` (cascades) may refuse an answer that is not from the last target: the request then
        escalates to the next target, and the refused attempt stays in the trace."""

        async def call(provider: Provider) -> ChatResponse:
            response = await provider.chat(rewrite(provider.model, request) if rewrite else request)
            if accept is not None and provider.model is not targets[-1]:
                reason = accept(provider.model, response)
                if reason is not None:
                    raise VerifierRejected(f"{provider.model.name}: {reason}", usage=response.usage)
            return response

        return await self._call(targets, trace, call, admit)

    async def embed(
        self, inputs: list[str], targets: list[ModelConfig], trace: DispatchTrace, admit: Admit | None = None
    ) -> tuple[ModelConfig, EmbeddingResponse]:
        return await self._call(targets, trace, lambda provider: provider.embed(inputs), admit)

    async def _call(
        self,
        targets: list[ModelConfig],
        trace: DispatchTrace,
        call: Callable[[Provider], Awaitable[T]],
        admit: Admit | None = None,
    ) -> tuple[ModelConfig, T]:
        """One non-streamed call, tried along the targets within each model's total timeout."""
        async with aclosing(self._attempts(targets, trace, admit)) as attempts:
            async for model, member, attempt in attempts:
                try:
                    with self.pools[model.name].busy(member):
                        async with asyncio.timeout(model.timeouts.total):
                            result = await call(member.provider)
                except TimeoutError:
                    timeout = UpstreamTimeout(f"{model.name} took longer than {model.timeouts.total}s")
                    attempt.abandoned, attempt.cancellable = True, member.provider.chat_cancellable
                    self._settle(member, attempt, timeout)
                    continue
                except SwitchyardError as err:
                    self._settle(member, attempt, err)
                    continue
                except asyncio.CancelledError:
                    member.breaker.release()
                    attempt.error = UpstreamError("cancelled: the client went away")
                    attempt.latency_ms = (time.monotonic() - attempt.started) * 1000
                    attempt.abandoned, attempt.cancellable = True, member.provider.chat_cancellable
                    raise
                self._settle(member, attempt, None)
                attempt.ttft_ms = attempt.latency_ms
                trace.served_by, trace.answered = member.provider, attempt
                return model, result
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream(
        self,
        request: ChatRequest,
        targets: list[ModelConfig],
        trace: DispatchTrace,
        rewrite: Rewrite | None = None,
        admit: Admit | None = None,
    ) -> OpenStream:
        """Open a stream and wait for its first chunk, retrying and falling back until one arrives."""
        async with aclosing(self._attempts(targets, trace, admit)) as attempts:
            async for model, member, attempt in attempts:
                member.in_flight += 1
                sent = rewrite(model, request) if rewrite else request
                iterator = member.provider.stream(sent).__aiter__()
                try:
                    # asyncio.timeout, not wait_for: no extra task per chunk on the hot path.
                    async with asyncio.timeout(min(model.timeouts.first_token, model.timeouts.total)):
                        first = await iterator.__anext__()
                except (TimeoutError, SwitchyardError, StopAsyncIteration, asyncio.CancelledError) as exc:
                    member.in_flight -= 1
                    await _aclose(iterator)
                    # Given up before the first token: the upstream had the prompt.
                    attempt.abandoned = isinstance(exc, asyncio.CancelledError | TimeoutError)
                    if isinstance(exc, asyncio.CancelledError):
                        member.breaker.release()
                        attempt.error = UpstreamError("cancelled: the client went away")
                        attempt.latency_ms = (time.monotonic() - attempt.started) * 1000
                        raise
                    err = (
                        exc
                        if isinstance(exc, SwitchyardError)
                        else UpstreamTimeout(f"{model.name}: no first token within {model.timeouts.first_token}s")
                        if isinstance(exc, TimeoutError)
                        else UpstreamError(f"{model.name}: the stream ended before any output")
                    )
                    self._settle(member, attempt, err)
                    continue
                attempt.ttft_ms = (time.monotonic() - attempt.started) * 1000
                trace.served_by, trace.answered = member.provider, attempt
                deadline = attempt.started + model.timeouts.total
                return OpenStream(model, member, attempt, first, self._rest(iterator, model, member, attempt, deadline))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _rest(
        self,
        iterator: AsyncIterator[Chunk],
        model: ModelConfig,
        member: Member,
        attempt: Attempt,
        deadline: float,
    ) -> AsyncIterator[Chunk]:
        err: SwitchyardError | None = None
        finished = False
        try:
            loop_deadline = asyncio.get_running_loop().time() + (deadline - time.monotonic())
            while True:
                try:
                    async with asyncio.timeout_at(loop_deadline):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    finished = True
                    return
                yield chunk
        except TimeoutError:
            err = UpstreamTimeout(f"{model.name}: stream exceeded the total timeout of {model.timeouts.total}s")
            attempt.abandoned = True
            raise err from None
        except SwitchyardError as exc:
            err = exc
            raise
        finally:
            member.in_flight -= 1
            await _aclose(iterator)
            if finished or err is not None:
                self._settle(member, attempt, err)
            else:  # the consumer stopped early: the client went away
                member.breaker.release()
                attempt.latency_ms = (time.monotonic() - attempt.started) * 1000
                attempt.error = UpstreamError("cancelled: the client went away")
                attempt.abandoned = True


def _claim(members: list[Member], retry_no: int) -> Member | None:
    """The deployment for this try: retries rotate through the available ones."""
    if not members:
        return None
    k = retry_no % len(members)
    for member in members[k:] + members[:k]:
        if member.breaker.acquire():
            return member
    return None


async def _aclose(iterator: AsyncIterator[Chunk]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        with suppress(Exception):
            await close()
