"""How a scripted model answers a BFCL item: the correct answer (:func:`~switchyard.evals.bfcl.reference_calls`,
or a short prose reply where no call is wanted), corrupted at a given rate in the ways models fail.

The failure kinds (:class:`Failure`) and what makes each one invalid:

- ``wrong_type``: one argument's value given as another JSON type (a number as a string, a string as a
  number, a list joined into a string, ...): the tool's schema refuses it;
- ``missing_required``: a required argument left out: the schema's ``required`` refuses it;
- ``extra_argument``: an argument the function does not declare: refused because the tool schemas are
  closed (``additionalProperties: false``, see :mod:`switchyard.evals.bfcl`);
- ``malformed_json``: the arguments text cut short, with a trailing comma, or written as a Python literal;
- ``unknown_function``: a call to a tool that was not offered;
- ``prose``: the call described in text instead of made: invalid where the request requires a call
  (``tool_choice: "required"``);
- ``call_on_irrelevance``: on an ``irrelevance`` item (where the right answer is no call), a call to one of
  the offered tools with arguments that fit its schema: a schema check cannot see it, only BFCL's rule can.

The first six are drawn (uniformly among those that apply to the answer) for items that want a call; the
last is the only failure of an irrelevance item. A parallel answer has one of its calls corrupted.
:func:`draw` is deterministic for a given ``random.Random``: seed it per (model, item, attempt).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .bfcl import Call, Item, reference_calls

PROSE_REPLY = "None of the functions I can call does this, so I cannot answer it with a function call."
_EXTRA_NAMES = ("verbose", "notes", "format", "confidence", "request_id")


class Failure(StrEnum):
    WRONG_TYPE = "wrong_type"
    MISSING_REQUIRED = "missing_required"
    EXTRA_ARGUMENT = "extra_argument"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_FUNCTION = "unknown_function"
    PROSE = "prose"
    CALL_ON_IRRELEVANCE = "call_on_irrelevance"


# The failures a check by the tools' schemas can see (with tool_choice "required" for ``prose``).
SCHEMA_VISIBLE = frozenset(Failure) - {Failure.CALL_ON_IRRELEVANCE}


@dataclass(frozen=True)
class Scripted:
    """A scripted answer: ``text`` and ``calls`` as the model sends them, and the ``failure`` drawn
    (``None``: the correct answer)."""

    text: str
    calls: tuple[Call, ...]
    failure: Failure | None = None


def correct_answer(item: Item) -> Scripted:
    if not item.wants_call:
        return Scripted(PROSE_REPLY, ())
    return Scripted("", tuple(reference_calls(item)))


def draw(item: Item, rng: random.Random, rate: float) -> Scripted:
    """The correct answer, or with probability ``rate`` a failure of a kind drawn among those that apply."""
    answer = correct_answer(item)
    if rng.random() >= rate:
        return answer
    kinds = applicable(item, answer)
    return corrupt(item, answer, rng.choice(kinds), rng)


def applicable(item: Item, answer: Scripted) -> list[Failure]:
    """The failure kinds that can be made of ``answer`` (in ``Failure`` order)."""
    if not item.wants_call:
        return [Failure.CALL_ON_IRRELEVANCE] if item.tools else []
    kinds = [Failure.EXTRA_ARGUMENT, Failure.MALFORMED_JSON, Failure.UNKNOWN_FUNCTION, Failure.PROSE]
    if any(_typed(item, c) for c in answer.calls):
        kinds.append(Failure.WRONG_TYPE)
    if any(_required(item, c) for c in answer.calls):
        kinds.append(Failure.MISSING_REQUIRED)
    return sorted(kinds, key=list(Failure).index)


def corrupt(item: Item, answer: Scripted, failure: Failure, rng: random.Random) -> Scripted:
    """``answer`` made to fail as ``failure`` says (raises ``ValueError`` when it does not apply)."""
    if failure not in applicable(item, answer):
        raise ValueError(f"{failure} does not apply to item {item.id!r}")
    if failure is Failure.CALL_ON_IRRELEVANCE:
        tool = rng.choice(item.tools)["function"]
        args = sample_arguments(tool["parameters"], item.user_text)
        return Scripted("", (Call(tool["name"], json.dumps(args, ensure_ascii=False)),), failure)
    if failure is Failure.PROSE:
        described = "; ".join(f"{item.names.get(c.name, c.name)}({c.arguments})" for c in answer.calls)
        return Scripted(f"To answer this I would call {described}.", (), failure)
    index = rng.choice([i for i, c in enumerate(answer.calls) if _fits(item, c, failure)])
    calls = list(answer.calls)
    calls[index] = _corrupt_call(item, calls[index], failure, rng)
    return Scripted("", tuple(calls), failure)


def _fits(item: Item, call: Call, failure: Failure) -> bool:
    if failure is Failure.WRONG_TYPE:
        return bool(_typed(item, call))
    if failure is Failure.MISSING_REQUIRED:
        return bool(_required(item, call))
    return True


def _corrupt_call(item: Item, call: Call, failure: Failure, rng: random.Random) -> Call:
    args = json.loads(call.arguments)
    if failure is Failure.WRONG_TYPE:
        name, kind = rng.choice(_typed(item, call))
        args[name] = _other_type(kind, args[name])
    elif failure is Failure.MISSING_REQUIRED:
        del args[rng.choice(_required(item, call))]
    elif failure is Failure.EXTRA_ARGUMENT:
        declared = ((item.tool_schema(call.name) or {}).get("properties") or {}).keys() | args.keys()
        extra = next((n for n in _EXTRA_NAMES if n not in declared), f"extra_{len(declared)}")
        args[extra] = "auto"
    elif failure is Failure.MALFORMED_JSON:
        return replace(call, arguments=_malformed(args, rng))
    elif failure is Failure.UNKNOWN_FUNCTION:
        offered = {t["function"]["name"] for t in item.tools}
        name = call.name + "_v2"
        while name in offered:
            name += "_v2"
        return replace(call, name=name)
    return replace(call, arguments=json.dumps(args, ensure_ascii=False))


def _typed(item: Item, call: Call) -> list[tuple[str, str]]:
    """The call's arguments whose schema declares a type, with that type."""
    props: Mapping[str, Any] = (item.tool_schema(call.name) or {}).get("properties") or {}
    args = json.loads(call.arguments)
    return [(n, str(props[n]["type"])) for n in args if isinstance(props.get(n), Mapping) and "type" in props[n]]


def _required(item: Item, call: Call) -> list[str]:
    """The call's arguments that its schema requires."""
    required = (item.tool_schema(call.name) or {}).get("required") or ()
    return [n for n in json.loads(call.arguments) if n in required]


def _other_type(kind: str, value: Any) -> Any:
    """A value of another JSON type than ``kind``, as models mistype them."""
    if kind == "string":
        return int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else 42
    if kind in ("integer", "number"):
        return str(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "array":
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return json.dumps(value)  # an object (or anything else) sent as a JSON string


def _malformed(args: Mapping[str, Any], rng: random.Random) -> str:
    text = json.dumps(args, ensure_ascii=False)
    forms = [text[:-1], text[:-1].rstrip() + ", }"]  # cut short; a trailing comma
    if args:
        forms.append(repr(dict(args)))  # a Python literal: single quotes, True/None
    return rng.choice(forms)


def sample_arguments(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
    """Arguments that fit a tool's JSON Schema: each required property given a plain value of its type."""
    props: Mapping[str, Any] = schema.get("properties") or {}
    return {name: _sample(props.get(name) or {}, text) for name in schema.get("required") or () if name in props}


def _sample(schema: Mapping[str, Any], text: str) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return sample_arguments(schema, text)
    if kind == "array":
        items = schema.get("items")
        return [_sample(items, text)] if isinstance(items, Mapping) and items.get("enum") else []
    plain: dict[Any, Any] = {"integer": 1, "number": 1.0, "boolean": True, "null": None}
    return plain.get(kind, " ".join(text.split()[:4]) or "x")
