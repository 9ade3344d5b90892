"""Small builders for the evals tests: an item, an answer, and one call that checks a spec the way the
loader does and then scores an answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from switchyard.evals import Answer, EvalItem, Score, ScorerDeps, ScorerSpec, Scoring, default_registry
from switchyard.types import FunctionCall, Message, ResponseFormat, ToolCall


def make_item(
    scorer: str | Mapping[str, Any] = "exact",
    reference: Any = None,
    *,
    prompt: str = "question?",
    response_format: Mapping[str, Any] | None = None,
) -> EvalItem:
    return EvalItem(
        id="t1",
        messages=(Message(role="user", content=prompt),),
        scorer=ScorerSpec.parse(scorer),
        reference=reference,
        response_format=ResponseFormat.model_validate(response_format) if response_format else None,
    )


def call(name: str, arguments: Any, i: int = 0) -> ToolCall:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(id=f"call_{i}", function=FunctionCall(name=name, arguments=args))


async def grade(
    scorer: str | Mapping[str, Any],
    reference: Any,
    text: str = "",
    *,
    tool_calls: tuple[ToolCall, ...] = (),
    deps: ScorerDeps | None = None,
    **item: Any,
) -> Score:
    it = make_item(scorer, reference, **item)
    default_registry().check(it.scorer, it)  # what load_eval_set does for every line
    return await Scoring(deps).score(it, Answer(text, tool_calls))
