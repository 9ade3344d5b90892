"""Verifiers for cascade routes: is a cheaper model's answer acceptable, or should the request
escalate to the next candidate? Each verifier judges what it can and abstains (``None``) otherwise.

- ``structured_output`` and ``tool_arguments``: the output guard's checks (``switchyard.guard.checks``) of
  JSON answers and of tool calls (offered tool, arguments valid against its schema, ``tool_choice``).
- ``confidence(p)`` (a route's ``min_confidence``): the geometric mean of the answer's token
  probabilities, from the upstream's logprobs, must reach ``p``.

A route's ``verifier: agreement`` judges answers against each other instead (``switchyard.agreement``,
``calls/agreement.py``); these checks still decide whether each of those answers counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .guard.checks import check_json, check_tool_calls
from .types import ChatRequest, ChatResponse

Verifier = Callable[[ChatRequest, ChatResponse], str | None]  # a reason to reject, or None


def structured_output(request: ChatRequest, response: ChatResponse) -> str | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text" or response.tool_calls:
        return None
    problem = check_json(request, response.content)
    return problem.message if problem else None


def tool_arguments(request: ChatRequest, response: ChatResponse) -> str | None:
    if not request.tools:
        return None
    problem = check_tool_calls(request, response.tool_calls or [])
    return problem.message if problem else None


DEFAULT_VERIFIERS: tuple[Verifier, ...] = (structured_output, tool_arguments)


def mean_token_probability(response: ChatResponse) -> float | None:
    """exp(mean log-probability) of the answer's tokens: the geometric mean of their probabilities, or
    None when the upstream sent no logprobs."""
    content = (response.logprobs or {}).get("content")
    if not isinstance(content, list):
        return None
    values = [t["logprob"] for t in content if isinstance(t, dict) and isinstance(t.get("logprob"), int | float)]
    if not values:
        return None
    return math.exp(sum(values) / len(values))


def confidence(minimum: float) -> Verifier:
    """Refuse an answer whose mean token probability is below ``minimum``. Answers without logprobs (the
    upstream does not give them) are not judged."""

    def check(request: ChatRequest, response: ChatResponse) -> str | None:
        p = mean_token_probability(response)
        if p is not None and p < minimum:
            return f"low confidence: mean token probability {p:.2f} < {minimum:g}"
        return None

    return check


def verifiers_for(min_confidence: float | None) -> tuple[Verifier, ...]:
    """The verifiers of a cascade route."""
    return DEFAULT_VERIFIERS if min_confidence is None else (*DEFAULT_VERIFIERS, confidence(min_confidence))


def verify(
    request: ChatRequest, response: ChatResponse, verifiers: tuple[Verifier, ...] = DEFAULT_VERIFIERS
) -> str | None:
    for check in verifiers:
        reason = check(request, response)
        if reason is not None:
            return reason
    return None
