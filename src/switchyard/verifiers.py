"""Verifiers for cascade routes: is a cheaper model's answer acceptable, or should the request
escalate to the next candidate? Each verifier judges what it can and abstains (``None``) otherwise.

- ``structured_output``: with ``response_format`` json_object / json_schema, the answer must be JSON
  (an object), valid against the schema when one is given.
- ``tool_arguments``: every tool call must name an offered tool, with arguments that are a JSON object
  valid against that tool's ``parameters`` schema; ``tool_choice: required`` demands a call.
- ``confidence(p)`` (a route's ``min_confidence``): the geometric mean of the answer's token
  probabilities, from the upstream's logprobs, must reach ``p``.

A route's ``verifier: agreement`` judges answers against each other instead (``switchyard.agreement``,
``calls/agreement.py``); these checks still decide whether each of those answers counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import jsonschema

from .types import ChatRequest, ChatResponse

Verifier = Callable[[ChatRequest, ChatResponse], str | None]  # a reason to reject, or None


def _schema_error(instance: Any, schema: dict[str, Any]) -> str | None:
    try:
        jsonschema.validate(instance, schema)
    except jsonschema.ValidationError as exc:
        return str(exc.message)
    except jsonschema.SchemaError:
        return None  # an invalid schema is the client's problem, not the answer's
    return None


def structured_output(request: ChatRequest, response: ChatResponse) -> str | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text" or response.tool_calls:
        return None
    try:
        value = json.loads(response.content or "")
    except ValueError:
        return "the answer is not valid JSON"
    if fmt.type == "json_object":
        return None if isinstance(value, dict) else "the answer is not a JSON object"
    schema = (fmt.json_schema or {}).get("schema")
    if isinstance(schema, dict):
        problem = _schema_error(value, schema)
        if problem:
            return f"the answer does not match the schema: {problem}"
    return None


def tool_arguments(request: ChatRequest, response: ChatResponse) -> str | None:
    if not request.tools:
        return None
    if not response.tool_calls:
        required = request.tool_choice == "required" or isinstance(request.tool_choice, dict)
        return "a tool call was required" if required else None
    tools = {t.function.name: t.function.parameters for t in request.tools}
    for call in response.tool_calls:
        name = call.function.name
        if name not in tools:
            return f"the answer calls an unknown tool {name!r}"
        try:
            args = json.loads(call.function.arguments or "{}")
        except ValueError:
            return f"the arguments of {name!r} are not valid JSON"
        if not isinstance(args, dict):
            return f"the arguments of {name!r} are not a JSON object"
        schema = tools[name]
        if schema:
            problem = _schema_error(args, schema)
            if problem:
                return f"the arguments of {name!r} do not match its schema: {problem}"
    return None


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
