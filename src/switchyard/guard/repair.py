"""The repair request: the same conversation, the model's invalid answer, and what was wrong with it
(the problem and the schema it must meet). Where the model's server enforces a forced ``tool_choice`` by
grammar (``ModelConfig.constrains_output``: llama.cpp, vLLM, SGLang), the repair also forces the call the
answer needed, so the second answer is valid by construction."""

from __future__ import annotations

import json
from typing import Any

from ..types import ChatRequest, ChatResponse, Message
from .checks import Problem, _forced_name, json_schema_of, tool_schema

MAX_SCHEMA_CHARS = 4000  # the schema quoted to the model; longer ones are cut (the tool list has it whole)
MAX_ANSWER_CHARS = 4000  # the invalid answer quoted back


def repair_request(sent: ChatRequest, resp: ChatResponse, problem: Problem, *, constrained: bool) -> ChatRequest:
    """The request that asks the model again: never streamed (it is judged whole)."""
    messages = [
        *sent.messages,
        Message(role="assistant", content=_previous(resp)),
        Message(role="user", content=_instruction(sent, problem)),
    ]
    update: dict[str, Any] = {"messages": messages, "stream": False, "stream_options": None}
    forced = _forcing(sent, problem) if constrained else None
    if forced is not None:
        update["tool_choice"] = forced
    return sent.model_copy(update=update)


def _previous(resp: ChatResponse) -> str:
    """The invalid answer as text: the calls are quoted rather than replayed as tool calls, since a call
    without its tool result would make the conversation itself invalid."""
    parts = [resp.content] if resp.content else []
    for call in resp.tool_calls or ():
        parts.append(f"[called {call.function.name} with arguments {call.function.arguments}]")
    return "\n".join(parts)[:MAX_ANSWER_CHARS] or "[empty answer]"


def _instruction(sent: ChatRequest, problem: Problem) -> str:
    lines = [f"Your previous answer was invalid: {problem.message}."]
    if problem.kind == "unwanted_call":
        lines.append("Answer in text, without calling a tool.")
    elif problem.kind == "too_many_calls":
        lines.append("Make exactly one tool call.")
    elif sent.tools and problem.kind not in ("not_json", "not_object", "json_schema"):
        offered = [t.function.name for t in sent.tools]
        name = problem.tool if problem.tool in offered else offered[0] if len(offered) == 1 else None
        schema = tool_schema(sent, name) if name else None
        if schema is not None:
            lines.append(f"The arguments of {name!r} must be a JSON object matching this schema:")
            lines.append(json.dumps(schema)[:MAX_SCHEMA_CHARS])
        lines.append(f"Call one of the offered tools ({', '.join(offered)}) with valid arguments.")
    else:
        schema = json_schema_of(sent)
        if schema is not None:
            lines.append("Answer with only a JSON value matching this schema:")
            lines.append(json.dumps(schema)[:MAX_SCHEMA_CHARS])
        else:
            lines.append("Answer with only a JSON object.")
    return "\n".join(lines)


def _forcing(sent: ChatRequest, problem: Problem) -> Any:
    """The ``tool_choice`` that makes a grammar-enforcing server produce the call the answer needed."""
    if not sent.tools or problem.kind in ("unwanted_call", "too_many_calls", "not_json", "not_object", "json_schema"):
        return None
    offered = {t.function.name for t in sent.tools}
    name = _forced_name(sent.tool_choice) or (problem.tool if problem.tool in offered else None)
    if name is None and len(offered) == 1:
        name = next(iter(offered))
    return {"type": "function", "function": {"name": name}} if name else "required"
