"""Structured answers: ``json_schema`` (the answer is JSON valid against a schema) and ``tool_call`` (the
answer's tool calls are the expected ones).

``json_schema``: the answer is read as JSON whole, else from the first fenced block that parses
(```` ```json ... ``` ````, any or no language tag). The schema is the ``schema`` argument, else the
item's ``response_format`` (``json_schema.schema``; ``json_object`` means "an object"); with neither,
the answer only has to be JSON.

``tool_call``: the reference is one call or a list of calls, each ``{"name", "arguments"}`` or OpenAI's
``{"function": {"name", "arguments"}}``, arguments as an object or a JSON string; ``[]`` expects no call.
Arguments are compared as parsed JSON (key order and spacing do not matter; ``1`` equals ``1.0`` but
``true`` is not ``1``). Options: ``ordered`` (calls in the reference's order; default any order),
``arguments`` ("exact", or "subset": the reference's arguments must be present with equal values, others
may be added), ``allow_extra_calls``. The value is the share of calls matched (of the larger of the
two lists); passed only when every expected call matched and no unexpected call was made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jsonschema
from pydantic import Field, field_validator

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score
from .base import Args, ScorerKind, sync_kind

JSONValue = Any

# json_schema --------------------------------------------------------------------------------------------


def parse_json_answer(text: str) -> tuple[JSONValue, str] | None:
    """(value, "whole" | "fenced") or None. Linear in the text: fences are found with ``str.find``."""
    try:
        return json.loads(text), "whole"
    except ValueError:
        pass
    start = text.find("```")
    while start != -1:
        newline = text.find("\n", start)
        if newline == -1:
            return None
        end = text.find("```", newline)
        if end == -1:
            return None
        try:
            return json.loads(text[newline + 1 : end]), "fenced"
        except ValueError:
            start = text.find("```", end + 3)
    return None


def _schema_problem(schema: Any) -> str | None:
    if not isinstance(schema, dict | bool):
        return f"a JSON schema is an object, not {type(schema).__name__}"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"not a valid JSON schema: {exc.message}"
    return None


class JsonSchemaArgs(Args):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = None if value is None else _schema_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def _schema_for(args: JsonSchemaArgs, item: EvalItem) -> dict[str, Any] | None:
    if args.schema_ is not None:
        return args.schema_
    fmt = item.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    schema = (fmt.json_schema or {}).get("schema")
    if schema is None:
        return None
    problem = _schema_problem(schema)
    if problem:
        raise ScorerError(f"response_format.json_schema.schema: {problem}", field="response_format")
    return dict(schema) if isinstance(schema, dict) else None


def _json_schema(args: JsonSchemaArgs, item: EvalItem, answer: Answer) -> Score:
    schema = _schema_for(args, item)
    parsed = parse_json_answer(answer.text)
    if parsed is None:
        return Score.of(False, "the answer is not JSON (whole or in a fenced block)")
    value, where = parsed
    if schema is None:
        return Score.of(True, f"valid JSON ({where}; no schema given)", where=where)
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
    if error is None:
        return Score.of(True, f"valid against the schema ({where})", where=where)
    at = "/" + "/".join(str(p) for p in error.absolute_path)
    return Score.of(False, f"fails the schema at {at}: {error.message[:300]}", where=where)


def _check_schema(args: JsonSchemaArgs, item: EvalItem) -> None:
    _schema_for(args, item)


# tool_call ----------------------------------------------------------------------------------------------

Call = tuple[str, dict[str, JSONValue]]


def json_equal(a: JSONValue, b: JSONValue) -> bool:
    """Equality of parsed JSON values in which ``true`` is not ``1`` (Python's ``==`` says it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _arguments(raw: Any) -> dict[str, JSONValue]:
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise ValueError("arguments are not a JSON object")
    return raw


def expected_calls(item: EvalItem) -> list[Call]:
    ref = item.reference
    if ref is None:
        raise ScorerError("tool_call needs a reference: the expected call(s)", field="reference")
    out: list[Call] = []
    for i, call in enumerate(ref if isinstance(ref, list) else [ref]):
        where = f"call {i}" if isinstance(ref, list) else "the call"
        fn = call.get("function", call) if isinstance(call, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(fn, dict) or not isinstance(name, str) or not name:
            raise ScorerError(f"{where}: needs a 'name' (or 'function.name')", field="reference")
        try:
            out.append((name, _arguments(fn.get("arguments", {}))))
        except ValueError as exc:
            raise ScorerError(f"{where} ({name}): {exc}", field="reference") from None
    return out


class ToolCallArgs(Args):
    ordered: bool = False
    arguments: Literal["exact", "subset"] = "exact"
    allow_extra_calls: bool = False


def _matcher(mode: str) -> Callable[[Call, Call], bool]:
    def exact(ref: Call, got: Call) -> bool:
        return ref[0] == got[0] and json_equal(ref[1], got[1])

    def subset(ref: Call, got: Call) -> bool:
        return ref[0] == got[0] and all(k in got[1] and json_equal(v, got[1][k]) for k, v in ref[1].items())

    return exact if mode == "exact" else subset


def _max_matching(refs: Sequence[Call], gots: Sequence[Call], match: Callable[[Call, Call], bool]) -> int:
    """Size of a maximum matching between expected and made calls (Kuhn's augmenting paths; a handful of
    calls, so the cubic bound does not matter)."""
    edges = [[j for j, g in enumerate(gots) if match(r, g)] for r in refs]
    owner: list[int | None] = [None] * len(gots)

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j not in seen:
                seen.add(j)
                held = owner[j]
                if held is None or augment(held, seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(refs)))


def _show(call: Call) -> str:
    return f"{call[0]}({json.dumps(call[1], sort_keys=True)[:200]})"


def _tool_call(args: ToolCallArgs, item: EvalItem, answer: Answer) -> Score:
    refs = expected_calls(item)
    gots: list[Call] = []
    for call in answer.tool_calls:
        try:
            gots.append((call.function.name, _arguments(call.function.arguments)))
        except ValueError:
            return Score.of(False, f"the arguments of the call to {call.function.name} are not a JSON object")
    match = _matcher(args.arguments)
    if args.ordered:
        matched = sum(1 for r, g in zip(refs, gots, strict=False) if match(r, g))
    else:
        matched = _max_matching(refs, gots, match)
    extra = len(gots) > len(refs) and not args.allow_extra_calls
    passed = matched == len(refs) and not extra
    total = max(len(refs), len(gots)) if not args.allow_extra_calls else len(refs)
    value = 1.0 if total == 0 else matched / total
    if passed:
        return Score(value, True, f"{matched} of {len(refs)} expected calls made")
    detail = f"{matched} of {len(refs)} expected calls matched; expected {', '.join(map(_show, refs)) or 'no call'}"
    detail += f"; got {', '.join(map(_show, gots)) or 'no call'}"
    return Score(value, False, detail[:1000])


def _check_calls(args: ToolCallArgs, item: EvalItem) -> None:
    expected_calls(item)


def kinds() -> list[ScorerKind[Any]]:
    return [
        sync_kind(
            "json_schema", JsonSchemaArgs, _json_schema, check=_check_schema, summary="JSON valid against a schema"
        ),
        sync_kind("tool_call", ToolCallArgs, _tool_call, check=_check_calls, summary="the expected tool calls"),
    ]
