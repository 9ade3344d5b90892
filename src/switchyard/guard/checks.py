"""Is an answer valid for the request that asked for it? Only what the request itself states is checked:
the tools it offers and their JSON schemas, ``tool_choice``, ``parallel_tool_calls``, and
``response_format``. Each problem has a stable ``kind`` (the ledger, /metrics and the reports count by it)
and a message fit to show the model when it is asked to repair its answer. Messages name tools and
schema paths, never argument values, because they also land in the ledger's decision trail.

Kinds: ``unknown_tool``, ``arguments_not_json``, ``arguments_not_object``, ``arguments_schema``,
``missing_call`` (``tool_choice`` required or named, and no call), ``wrong_tool`` (a named
``tool_choice`` and another tool called), ``unwanted_call`` (``tool_choice: none``), ``too_many_calls``
(``parallel_tool_calls: false``), ``not_json``, ``not_object``, ``json_schema``; and, from the call core's
second opinion (``guard.confirm_calls``), ``not_confirmed``: a call the next candidate would not make.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..types import ChatRequest, ChatResponse, ToolCall


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    message: str
    tool: str | None = None  # the tool the problem is about, when there is one

    def __str__(self) -> str:
        return self.message


def checkable(req: ChatRequest) -> bool:
    """Whether the request asks for something the guard can check: tools, or JSON output."""
    return bool(req.tools) or _json_format(req)


def check_answer(req: ChatRequest, resp: ChatResponse) -> Problem | None:
    """The first problem of the answer, or None when it is valid (or there is nothing to check)."""
    if req.tools or resp.tool_calls:
        problem = check_tool_calls(req, resp.tool_calls or [])
        if problem is not None or resp.tool_calls:
            return problem
    return check_json(req, resp.content) if _json_format(req) else None


def check_tool_calls(req: ChatRequest, calls: list[ToolCall]) -> Problem | None:
    choice = req.tool_choice
    forced = _forced_name(choice)
    if not calls:
        if choice == "required" or forced is not None:
            wanted = f"a call of {forced!r}" if forced else "a tool call"
            return Problem("missing_call", f"{wanted} was required and the answer made none", forced)
        return None
    if choice == "none":
        return Problem("unwanted_call", "tool_choice is 'none' and the answer called a tool", calls[0].function.name)
    if req.extra_fields().get("parallel_tool_calls") is False and len(calls) > 1:
        return Problem("too_many_calls", f"parallel_tool_calls is false and the answer made {len(calls)} calls")
    tools = {t.function.name: t.function.parameters for t in req.tools or ()}
    for call in calls:
        name = call.function.name
        if name not in tools:
            known = ", ".join(repr(t) for t in tools) or "none"
            return Problem("unknown_tool", f"the answer calls an unknown tool {name!r} (offered: {known})", name)
        if forced is not None and name != forced:
            return Problem("wrong_tool", f"tool_choice requires {forced!r} and the answer called {name!r}", forced)
        try:
            args = json.loads(call.function.arguments or "{}")
        except ValueError:
            return Problem("arguments_not_json", f"the arguments of {name!r} are not valid JSON", name)
        if not isinstance(args, dict):
            return Problem("arguments_not_object", f"the arguments of {name!r} are not a JSON object", name)
        schema = tools[name]
        if schema:
            problem = _schema_problem(args, schema)
            if problem:
                return Problem(
                    "arguments_schema", f"the arguments of {name!r} do not match its schema: {problem}", name
                )
    return None


def check_json(req: ChatRequest, content: str | None) -> Problem | None:
    fmt = req.response_format
    assert fmt is not None
    try:
        value = json.loads(content or "")
    except ValueError:
        return Problem("not_json", "the answer is not valid JSON")
    if fmt.type == "json_object" or not isinstance(schema := json_schema_of(req), dict):
        return None if isinstance(value, dict) else Problem("not_object", "the answer is not a JSON object")
    problem = _schema_problem(value, schema)
    return Problem("json_schema", f"the answer does not match the schema: {problem}") if problem else None


def json_schema_of(req: ChatRequest) -> Any:
    fmt = req.response_format
    return (fmt.json_schema or {}).get("schema") if fmt is not None and fmt.type == "json_schema" else None


def tool_schema(req: ChatRequest, name: str | None) -> Any:
    for tool in req.tools or ():
        if tool.function.name == name:
            return tool.function.parameters
    return None


def _json_format(req: ChatRequest) -> bool:
    return req.response_format is not None and req.response_format.type != "text"


def _forced_name(choice: object) -> str | None:
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
    return None


def _schema_problem(instance: Any, schema: dict[str, Any]) -> str | None:
    """Where the instance breaks the schema: the path and the rule, without the offending value."""
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    except jsonschema.SchemaError:
        return None  # an invalid schema is the client's problem, not the answer's
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"at {where}: {_rule(error)}"


def _rule(error: jsonschema.ValidationError) -> str:
    """The broken rule in words that do not quote the instance's values."""
    v = error.validator_value
    rules = {
        "required": lambda: f"missing required property {_missing(error)!r}",
        "additionalProperties": lambda: f"properties not allowed by the schema: {_extra(error)}",
        "type": lambda: f"expected type {v}",
        "enum": lambda: f"must be one of {json.dumps(v)[:200]}",
        "const": lambda: f"must be {json.dumps(v)[:200]}",
    }
    made = rules.get(str(error.validator))
    return made() if made else f"fails '{error.validator}' ({json.dumps(v, default=str)[:120]})"


def _missing(error: jsonschema.ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    required = error.validator_value if isinstance(error.validator_value, list) else []
    return next((str(r) for r in required if r not in instance), "?")


def _extra(error: jsonschema.ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return ", ".join(repr(k)[:60] for k in instance if k not in known) or "?"
