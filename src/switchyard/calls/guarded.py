"""The output guard in the call: an answer with tool calls or JSON output is checked before the client
gets it (``switchyard.guard``); an invalid one is repaired (the same model asked once more with the
problem and the schema, a forced call where its server enforces one), then escalated (the route's next
candidates in order, each answer checked), and when nothing valid is left the client gets a clear 502
``invalid_model_output``, never a silently invalid call.

Every try is an attempt in the call's trace, so the ledger has each one with its verdict
(``Attempt.check``) and its cost: a refused answer is paid for and recorded like a cascade's refusal.
What the client received is the record's ``guard``: ``valid``, ``repaired``, ``escalated`` or
``failed``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ..config import GuardPolicy, ModelConfig
from ..dispatch import Attempt, DispatchTrace
from ..errors import InvalidModelOutput, UpstreamError
from ..guard import Problem, check_answer, checkable, repair_request
from ..providers.base import Provider
from ..types import ChatRequest, ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta, Usage
from .agreement import Restore
from .recording import RecordedCall

# Send a request to the first target that answers (retries and fallbacks as the dispatcher does them).
Ask = Callable[[ChatRequest, list[ModelConfig]], Awaitable[tuple[ModelConfig, ChatResponse]]]
UsageOf = Callable[[ChatResponse, Provider | None], Usage]


def guards(policy: GuardPolicy, req: ChatRequest) -> bool:
    """Whether the guard judges this request's answers."""
    return policy.enabled and checkable(req)


@dataclass
class Guarded:
    """The guard's work on one call: ``req`` is what the client asked (answers are checked against it),
    ``sent`` what the models are sent (a repair builds on it)."""

    call: RecordedCall
    policy: GuardPolicy
    req: ChatRequest
    sent: ChatRequest
    targets: list[ModelConfig]
    usage_of: UsageOf

    async def deliver(self, model: ModelConfig, resp: ChatResponse, ask: Ask) -> tuple[ModelConfig, ChatResponse]:
        """The answer to serve, starting from the one just received (the trace's answered attempt)."""
        problem = self.judge(resp)
        if problem is None:
            if self.policy.confirm_calls and resp.tool_calls and self.req.tool_choice in (None, "auto"):
                return await self._second_opinion(model, resp, ask)
            return self._served("valid", model, resp)
        if self.policy.repair:
            self.call.note(f"guard: {model.name} {problem.kind} -> repair")
            retry = repair_request(self.sent, resp, problem, constrained=model.constrains_output)
            found = await self._try(ask, retry, [model])
            if found is not None:
                model, resp = found
                again = self.judge(resp)
                if again is None:
                    return self._served("repaired", model, resp)
                problem = again
        rest = self._after(model) if self.policy.escalate else []
        while rest:
            self.call.note(f"guard: {model.name} {problem.kind} -> {rest[0].name}")
            found = await self._try(ask, self.sent, rest)
            if found is None:
                break
            model, resp = found
            again = self.judge(resp)
            if again is None:
                return self._served("escalated", model, resp)
            problem, rest = again, self._after(model)
        self.call.record.guard = "failed"
        self.call.note(f"guard: no valid answer ({problem.kind})")
        raise InvalidModelOutput(f"no valid answer from the route's models: {problem.message}", problem=problem.kind)

    async def _second_opinion(
        self, model: ModelConfig, resp: ChatResponse, ask: Ask
    ) -> tuple[ModelConfig, ChatResponse]:
        """A call the model chose to make is served only if the route's next candidate, asked the same
        request, also makes one; if that one answers without a call, the call was not wanted and the second
        answer is served. Either way both answers are paid for and in the ledger."""
        rest = self._after(model)
        if not rest:
            return self._served("valid", model, resp)
        trace = self.call.trace
        first, first_by = trace.answered, trace.served_by
        self.call.note(f"guard: {model.name} called a tool -> second opinion")
        found = await self._try(ask, self.sent, rest)
        if found is None or self.judge(found[1]) is not None:
            self._restore(first, first_by, trace)
            return self._served("valid", model, resp)
        other_model, other = found
        if other.tool_calls:  # confirmed: the cheaper call is served, the confirmation was paid for
            if trace.answered is not None:
                trace.answered.usage = self.usage_of(other, trace.served_by)
            self._restore(first, first_by, trace)
            return self._served("confirmed", model, resp)
        if first is not None:
            problem = Problem("not_confirmed", f"{other_model.name} answered without a call")
            self._refuse(first, problem, self.usage_of(resp, first_by))
        self.call.note(f"guard: {model.name} not_confirmed -> {other_model.name}")
        return self._served("escalated", other_model, other)

    @staticmethod
    def _restore(attempt: Attempt | None, provider: Provider | None, trace: DispatchTrace) -> None:
        """Make ``attempt`` the served one again (after a second opinion was asked)."""
        trace.answered, trace.served_by = attempt, provider

    @staticmethod
    def _refuse(attempt: Attempt, problem: Problem, usage: Usage) -> None:
        """An answer not served: paid for (its usage), marked with the verdict."""
        attempt.check = f"invalid: {problem.kind}"
        attempt.usage = usage
        attempt.error = InvalidModelOutput(problem.message, problem=problem.kind)

    def _served(self, outcome: str, model: ModelConfig, resp: ChatResponse) -> tuple[ModelConfig, ChatResponse]:
        self.call.record.guard = outcome
        return model, resp

    def judge(self, resp: ChatResponse) -> Problem | None:
        """Check the answer of the trace's answered attempt and mark that attempt with the verdict; a refused
        answer stays paid for (its usage on the attempt) and is not served."""
        trace = self.call.trace
        attempt = trace.answered
        problem = check_answer(self.req, resp)
        if attempt is not None:
            if problem is None:
                attempt.check = "valid"
            elif attempt.check is None:
                self._refuse(attempt, problem, self.usage_of(resp, trace.served_by))
        return problem

    async def _try(
        self, ask: Ask, request: ChatRequest, targets: list[ModelConfig]
    ) -> tuple[ModelConfig, ChatResponse] | None:
        """One more answer; an upstream failure (after the dispatcher's retries) ends this step, not the call."""
        try:
            return await ask(request, targets)
        except UpstreamError as err:
            if isinstance(err, InvalidModelOutput):
                raise
            self.call.note(f"guard: {targets[0].name} failed ({err.error_class})")
            return None

    def _after(self, model: ModelConfig) -> list[ModelConfig]:
        names = [m.name for m in self.targets]
        return self.targets[names.index(model.name) + 1 :] if model.name in names else []

    async def hold(
        self, chunks: AsyncIterator[Chunk], model: ModelConfig, ask: Ask, restore: Restore | None
    ) -> AsyncIterator[Chunk]:
        """A stream under the guard: text is relayed as it comes, tool-call deltas are held until the
        stream's calls validate, then released whole (one delta per call); an invalid answer is repaired or
        escalated (whole answers), whose calls are released instead. Text already streamed stays streamed:
        a repaired answer's own text is sent only when it makes no call."""
        content: list[str] = []
        calls: dict[int, _CallParts] = {}
        finish: str | None = None
        usage: Usage | None = None
        async for chunk in chunks:
            usage = chunk.usage or usage
            finish = chunk.finish_reason or finish
            for delta in chunk.tool_calls or ():
                calls.setdefault(delta.index, _CallParts()).add(delta)
            if chunk.content:
                content.append(chunk.content)
                yield Chunk(content=chunk.content)
        tool_calls = [parts.call(i) for i, parts in sorted(calls.items())]
        first = ChatResponse("", model.name, 0, "".join(content) or None, finish or "stop", tool_calls or None, usage)
        served, final = await self.deliver(model, first, ask)
        if final is not first:
            final = restore(served, final) if restore is not None else final
            if final.content and not final.tool_calls:
                yield Chunk(content=final.content)
            usage = final.usage or self.usage_of(final, self.call.trace.served_by)
        for i, call in enumerate(final.tool_calls or ()):
            yield Chunk(tool_calls=[ToolCallDelta(i, call.id, call.function.name, call.function.arguments)])
        yield Chunk(finish_reason=final.finish_reason, usage=usage)


@dataclass
class _CallParts:
    """One streamed tool call's deltas, joined."""

    id: str | None = None
    name: str = ""
    arguments: str = ""

    def add(self, delta: ToolCallDelta) -> None:
        self.id = self.id or delta.id
        self.name += delta.name or ""
        self.arguments += delta.arguments

    def call(self, index: int) -> ToolCall:
        return ToolCall(id=self.id or f"call_{index}", function=FunctionCall(name=self.name, arguments=self.arguments))
