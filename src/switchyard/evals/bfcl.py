"""BFCL (the Berkeley Function Calling Leaderboard, Apache-2.0) as ``bfcl_eval`` ships it: the items of a
category, their tools as OpenAI function tools, and BFCL's AST correctness rules.

Files (``DIR/BFCL_v4_<category>.json`` and ``DIR/possible_answer/BFCL_v4_<category>.json``, JSON lines):
a question is ``{"id", "question": [[{"role", "content"}, ...], ...], "function": [{"name", "description",
"parameters"}]}`` (only the first turn is used: the single-turn categories), a possible answer ``{"id",
"ground_truth": [{"<function>": {"<argument>": [allowed values]}}]}``; ``irrelevance`` has none (the right
answer is no call). ``simple`` names the file ``simple_python``.

**Tools.** BFCL writes Python type names; :func:`to_json_schema` turns them into JSON Schema (``dict`` ->
``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, ``any`` -> no type; BFCL's own ``optional`` key is
dropped; an ``array``'s ``enum`` of single values, BFCL's way to list the allowed items, moves to ``items``)
and closes the parameters, and every object that lists its properties, with ``additionalProperties: false``:
BFCL's checker rejects an argument the function does not declare, so the closed schema is the faithful
one, and it makes an extra argument visible to a schema check. A function name that OpenAI's pattern
(``^[a-zA-Z0-9_-]{1,64}$``) refuses is sent with ``_`` for each other character (BFCL does the same with
``.`` for OpenAI-style models); :attr:`Item.names` maps the sent names back.

**Correctness** (:func:`check`), the rules of ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (written
anew here, not copied):

- ``irrelevance``: correct when no call decodes (arguments that are not a JSON object count as no call, as
  BFCL's decoder failing does); a ``relevance`` category: correct when one does;
- ``parallel*``: as many calls as expected answers, each expected answer (in order) matched by the first
  not yet matched call that passes the one-call rules: a set of calls in any order;
- other categories: exactly as many calls as expected answers (one), checked against the expected one;
- one call: the expected function name; every parameter the schema requires present; no parameter that
  the schema or the possible answer lacks; each value of the declared Python type (an int accepted for a
  ``float``; a value of the possible answers' type accepted as a "variable", then compared exactly) and
  among the allowed values: strings compared after :func:`standardize` (case, spaces and ``,./-_*^``
  ignored), lists element-wise the same way, dicts key by key against each allowed dict, anything else by
  equality; an allowed list holding ``""`` lets the argument be omitted, any other must be present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .errors import EvalError

JSON = dict[str, Any]
# The development categories of the shared data, in the order reports list them.
CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "irrelevance",
)
ALIASES = {"simple": "simple_python"}
# BFCL's Python type names -> JSON Schema types (None: no type constraint).
SCHEMA_TYPES: dict[str, str | None] = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "any": None,
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "string": "string",
}
# ... and the Python types BFCL's checker expects of a decoded value.
PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")


class BfclError(EvalError):
    """A BFCL file that cannot be used as written (the message names the file and the item)."""


@dataclass(frozen=True)
class Item:
    """One BFCL question: its first turn's ``messages``, the BFCL ``functions`` as written (the checker's
    reference) and as OpenAI ``tools``, ``names`` (tool name sent -> BFCL function name) and the
    ``ground_truth`` (one ``{function: {argument: [allowed values]}}`` per expected call; empty for
    irrelevance)."""

    id: str
    category: str
    messages: tuple[JSON, ...]
    functions: tuple[JSON, ...]
    tools: tuple[JSON, ...]
    names: Mapping[str, str]
    ground_truth: tuple[dict[str, dict[str, list[Any]]], ...]

    @property
    def wants_call(self) -> bool:
        """Whether the right answer calls a function (every category but the irrelevance ones)."""
        return not is_irrelevance(self.category)

    @property
    def user_text(self) -> str:
        """The text of the first turn's last user message."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""

    def function(self, name: str) -> JSON | None:
        """The BFCL function called ``name`` (its BFCL name)."""
        return next((f for f in self.functions if f.get("name") == name), None)

    def tool_schema(self, sent_name: str) -> JSON | None:
        """The JSON Schema of a tool's parameters, by the name the tool is sent with."""
        for tool in self.tools:
            if tool["function"]["name"] == sent_name:
                return dict(tool["function"]["parameters"])
        return None


@dataclass(frozen=True)
class Call:
    """One tool call as a client received it: the tool's (sent) name and its arguments text."""

    name: str
    arguments: str

    @classmethod
    def from_openai(cls, tool_call: Mapping[str, Any]) -> Call:
        """From an OpenAI ``tool_calls`` entry (``{"function": {"name", "arguments"}}``)."""
        fn = tool_call.get("function") or {}
        return cls(str(fn.get("name") or ""), str(fn.get("arguments") or ""))

    def decoded(self) -> JSON | None:
        """The arguments as a JSON object, or ``None`` when they are not one."""
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Verdict:
    """BFCL's verdict on an answer: ``kind`` is BFCL's error type (e.g. ``value_error:string``)."""

    correct: bool
    error: str = ""
    kind: str = ""


CORRECT = Verdict(True)


# --- loading ------------------------------------------------------------------------------------------


def category_name(category: str) -> str:
    return ALIASES.get(category, category)


def question_file(data_dir: str | Path, category: str) -> Path:
    return Path(data_dir) / f"BFCL_v4_{category_name(category)}.json"


def answer_file(data_dir: str | Path, category: str) -> Path:
    return Path(data_dir) / "possible_answer" / f"BFCL_v4_{category_name(category)}.json"


def available_categories(data_dir: str | Path) -> list[str]:
    """The categories with a question file in ``data_dir``: the known ones in ``CATEGORIES`` order, then
    any other, sorted."""
    found = {p.name.removeprefix("BFCL_v4_").removesuffix(".json") for p in Path(data_dir).glob("BFCL_v4_*.json")}
    return [c for c in CATEGORIES if c in found] + sorted(found - set(CATEGORIES))


def is_irrelevance(category: str) -> bool:
    return "irrelevance" in category


def _lines(path: Path) -> list[JSON]:
    out: list[JSON] = []
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except ValueError as exc:
                        raise BfclError(f"{path}:{number}: not JSON: {exc}") from None
    except OSError as exc:
        raise BfclError(f"cannot read {path}: {exc.strerror or exc}") from None
    return out


def load(data_dir: str | Path, category: str, *, limit: int | None = None) -> list[Item]:
    """The items of one category (the first ``limit`` of them), with their possible answers."""
    category = category_name(category)
    rows = _lines(question_file(data_dir, category))
    answers: dict[str, Any] = {}
    if not is_irrelevance(category):
        answers = {str(a.get("id")): a.get("ground_truth") for a in _lines(answer_file(data_dir, category))}
    items: list[Item] = []
    for row in rows[:limit]:
        where = f"{question_file(data_dir, category).name}, item {row.get('id')!r}"
        try:
            items.append(_item(row, category, answers))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BfclError(f"{where}: {exc}") from None
    return items


def _item(row: JSON, category: str, answers: Mapping[str, Any]) -> Item:
    item_id = str(row["id"])
    turns = row["question"]
    if not isinstance(turns, list) or not turns or not isinstance(turns[0], list):
        raise ValueError("'question' must be a non-empty list of turns")
    messages = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in turns[0])
    functions = tuple(row["function"])
    names: dict[str, str] = {}
    tools: list[JSON] = []
    for fn in functions:
        sent = tool_name(str(fn["name"]))
        if sent in names:
            raise ValueError(f"two functions are sent as {sent!r}")
        names[sent] = str(fn["name"])
        tool = {"name": sent, "description": str(fn.get("description") or ""), "parameters": parameters_schema(fn)}
        tools.append({"type": "function", "function": tool})
    truth: tuple[dict[str, dict[str, list[Any]]], ...] = ()
    if not is_irrelevance(category):
        if item_id not in answers:
            raise ValueError("no possible answer")
        truth = tuple(answers[item_id])
        for expected in truth:
            (name,) = expected
            if name not in names.values():
                raise ValueError(f"the possible answer calls {name!r}, which is not among the functions")
    return Item(item_id, category, messages, functions, tuple(tools), names, truth)


def tool_name(name: str) -> str:
    """``name`` as an OpenAI tool name: characters outside ``[a-zA-Z0-9_-]`` become ``_``, at most 64."""
    return name if _NAME_PATTERN.match(name) else re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]


def parameters_schema(function: Mapping[str, Any]) -> JSON:
    """A BFCL function's parameters as a tool's JSON Schema: an object closed to undeclared arguments, even
    when it declares none (BFCL's checker rejects any argument the function does not declare)."""
    schema = to_json_schema(function.get("parameters") or {"type": "dict", "properties": {}})
    return {"type": "object", "properties": {}, **schema, "additionalProperties": False}


def to_json_schema(schema: Mapping[str, Any]) -> JSON:
    """A BFCL parameter schema as JSON Schema (see the module's docstring); raises ``ValueError`` on a type
    name that is not one of BFCL's Python ones (``SCHEMA_TYPES``)."""
    out: JSON = {}
    for key, value in schema.items():
        if key == "type":
            if value not in SCHEMA_TYPES:
                raise ValueError(f"unknown BFCL type {value!r}")
            if SCHEMA_TYPES[value] is not None:
                out["type"] = SCHEMA_TYPES[value]
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = to_json_schema(value)
        elif key != "optional":
            out[key] = value
    if out.get("type") == "object" and out.get("properties"):
        out["additionalProperties"] = False
    enum = out.get("enum")
    if out.get("type") == "array" and isinstance(enum, list) and not any(isinstance(v, list) for v in enum):
        out["items"] = {**out.get("items", {}), "enum": out.pop("enum")}  # BFCL's way to list allowed items
    return out


def reference_calls(item: Item) -> list[Call]:
    """A correct answer built from the possible answers: per expected call, each argument's first allowed
    value that its JSON Schema accepts (else its first); an argument whose first allowed value is ``""`` is
    left out unless the schema requires it. A ``dict`` argument's allowed values are themselves possible
    answers, one list per key (as BFCL's checker reads them), and so are the items of a list of dicts. No
    call for irrelevance."""
    calls: list[Call] = []
    sent = {bfcl: name for name, bfcl in item.names.items()}
    for expected in item.ground_truth:
        ((name, allowed),) = expected.items()
        params = (item.function(name) or {}).get("parameters") or {}
        args = _pick_all(params, allowed)
        calls.append(Call(sent[name], json.dumps(args, ensure_ascii=False)))
    return calls


def _pick_all(schema: Mapping[str, Any], allowed: Mapping[str, list[Any]]) -> JSON:
    declared: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out: JSON = {}
    for param, values in allowed.items():
        present = [v for v in values if v != ""]
        if not present or (values[0] == "" and param not in required):
            continue
        sub = declared.get(param) or {}
        options = [_pick(sub, v) for v in present]
        out[param] = next((o for o in options if _fits(sub, o)), options[0])
    return out


def _pick(schema: Mapping[str, Any], option: Any) -> Any:
    """One allowed value as a concrete one: a ``dict`` argument's option and each dict of a list-of-dicts
    option are possible answers themselves."""
    kind, items = schema.get("type"), schema.get("items")
    if kind == "dict" and isinstance(option, Mapping) and all(isinstance(v, list) for v in option.values()):
        return _pick_all(schema, option)
    if (
        kind in ("array", "tuple")
        and isinstance(items, Mapping)
        and items.get("type") == "dict"
        and isinstance(option, list)
    ):
        return [_pick(items, o) for o in option]
    return option


def _fits(schema: Mapping[str, Any], value: Any) -> bool:
    try:
        return not any(jsonschema.Draft202012Validator(to_json_schema(schema)).iter_errors(value))
    except (jsonschema.SchemaError, ValueError):
        return True


# --- checking -----------------------------------------------------------------------------------------


def check(item: Item, calls: Sequence[Call]) -> Verdict:
    """BFCL's AST verdict on ``calls`` (what the model answered; no call for a text answer)."""
    decoded: list[tuple[str, JSON]] = []
    for call in calls:
        args = call.decoded()
        if args is None:
            if is_irrelevance(item.category):
                return CORRECT  # BFCL: an output that does not decode holds no call
            return Verdict(False, f"the arguments of {call.name!r} are not a JSON object", "ast_decoder:decoder_failed")
        decoded.append((item.names.get(call.name, call.name), args))
    if is_irrelevance(item.category):
        if decoded:
            return Verdict(False, f"{len(decoded)} call(s) where none is wanted", "irrelevance:function_called")
        return CORRECT
    if "relevance" in item.category:
        return CORRECT if decoded else Verdict(False, "no call where one is wanted", "relevance:no_function_called")
    if len(decoded) != len(item.ground_truth):
        kind = "parallel" if "parallel" in item.category else "multiple" if "multiple" in item.category else "simple"
        return Verdict(False, f"{len(decoded)} call(s) for {len(item.ground_truth)} expected", f"{kind}:wrong_count")
    if "parallel" in item.category:
        return _any_order(item, decoded)
    return _one_call(item, decoded[0], item.ground_truth[0])


def _any_order(item: Item, decoded: list[tuple[str, JSON]]) -> Verdict:
    """Each expected call, in order, takes the first unmatched call that passes (BFCL's greedy matching)."""
    matched: set[int] = set()
    for i, expected in enumerate(item.ground_truth):
        errors: list[str] = []
        for index, call in enumerate(decoded):
            if index in matched:
                continue
            verdict = _one_call(item, call, expected)
            if verdict.correct:
                matched.add(index)
                break
            errors.append(f"call {index}: {verdict.error}")
        else:
            detail = "; ".join(errors)
            return Verdict(False, f"no call matches expected call {i} ({detail})", "parallel:cannot_find_match")
    return CORRECT


def _one_call(item: Item, call: tuple[str, JSON], expected: Mapping[str, Mapping[str, list[Any]]]) -> Verdict:
    ((name, allowed),) = expected.items()
    called, args = call
    if called != name:
        return Verdict(False, f"function {name!r} not called (called {called!r})", "simple:wrong_func_name")
    params = (item.function(name) or {}).get("parameters") or {}
    declared: Mapping[str, JSON] = params.get("properties") or {}
    for param in params.get("required") or ():
        if param not in args:
            return Verdict(False, f"missing required parameter {param!r}", "simple:missing_required")
    for param, value in args.items():
        if param not in declared or param not in allowed:
            return Verdict(False, f"unexpected parameter {param!r}", "simple:unexpected_param")
        verdict = _argument(param, value, declared[param], allowed[param])
        if not verdict.correct:
            return verdict
    for param, values in allowed.items():
        if param not in args and "" not in values:
            return Verdict(False, f"parameter {param!r} not given and not optional", "simple:missing_optional")
    return CORRECT


def _argument(param: str, value: Any, declared: Mapping[str, Any], allowed: list[Any]) -> Verdict:
    bfcl_type = str(declared.get("type", "any"))
    wanted = PYTHON_TYPES.get(bfcl_type, str)
    items = declared.get("items")
    nested = None
    if bfcl_type in ("array", "tuple") and isinstance(items, Mapping):
        nested = PYTHON_TYPES.get(str(items.get("type")), str)
    if bfcl_type == "float" and type(value) is int:
        value = float(value)  # Python's own int -> float
    typed, variable = _type_check(value, allowed, wanted, nested)
    if not typed:
        return Verdict(
            False, f"parameter {param!r}: expected type {bfcl_type}, got {type(value).__name__}", "type_error:simple"
        )
    if not variable:
        if wanted is dict:
            return _dict_among(param, value, allowed)
        if wanted is list and nested is dict:
            return _dicts_among(param, value, allowed)
        if wanted is str:
            return _among(param, value, [standardize(a) for a in allowed if isinstance(a, str)], standardize(value))
        if wanted is list:
            options = [_standard_list(a) for a in allowed if isinstance(a, list | str)]
            return _among(param, value, options, _standard_list(value))
    return _among(param, value, allowed, value)


def _type_check(value: Any, allowed: list[Any], wanted: type, nested: type | None) -> tuple[bool, bool]:
    """``(type accepted, taken as a variable)``: a value of the declared type (a list's items of the item
    type, for some allowed list), or of the type the possible answers are written in (a "variable")."""
    answer_type = next((type(a) for a in allowed if a != ""), None)
    variable = answer_type is not None and answer_type is not wanted
    if type(value) is wanted:
        if nested is None:
            return True, variable
        values: list[Any] = value if isinstance(value, list) else []
        for option in allowed:
            if not isinstance(option, list) or all(_type_check(v, option, nested, None)[0] for v in values):
                return True, variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def standardize(text: str) -> str:
    """BFCL's string normalisation: no spaces or ``,./-_*^``, lower case, ``'`` as ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def _standard_list(values: Iterable[Any]) -> list[Any]:
    return [standardize(v) if isinstance(v, str) else v for v in values]


def _among(param: str, value: Any, options: Sequence[Any], key: Any) -> Verdict:
    if key in options:
        return CORRECT
    return Verdict(False, f"parameter {param!r}: {value!r} is not among the allowed values", "value_error:value")


def _dict_among(param: str, value: Mapping[str, Any], allowed: list[Any]) -> Verdict:
    """The dict matches one allowed dict: every key known and its value allowed, every key not optional given."""
    for option in allowed:
        if isinstance(option, Mapping) and _dict_matches(value, option):
            return CORRECT
    return Verdict(False, f"parameter {param!r}: {value!r} matches no allowed dict", "value_error:dict")


def _dict_matches(value: Mapping[str, Any], option: Mapping[str, Any]) -> bool:
    for key, v in value.items():
        if key not in option:
            return False
        options = [standardize(o) if isinstance(o, str) else o for o in option[key]]
        if (standardize(v) if isinstance(v, str) else v) not in options:
            return False
    return all(key in value or "" in options for key, options in option.items())


def _dicts_among(param: str, value: list[Any], allowed: list[Any]) -> Verdict:
    """A list of dicts matches one allowed list of dicts, position by position."""
    for option in allowed:
        if not isinstance(option, list | str) or len(option) != len(value):
            continue
        pairs = zip(value, option, strict=True)
        if all(isinstance(v, Mapping) and isinstance(o, Mapping) and _dict_matches(v, o) for v, o in pairs):
            return CORRECT
    return Verdict(False, f"parameter {param!r}: {value!r} matches no allowed list of dicts", "value_error:list_dict")


def schema_problem(item: Item, calls: Sequence[Call], *, required: bool) -> str | None:
    """What a check by the tools' JSON Schemas alone finds wrong with an answer (``None``: nothing): no
    call where one is ``required``, a tool that was not offered, arguments that are not a JSON object or
    that the tool's schema refuses. It knows nothing of the possible answers (that is :func:`check`)."""
    if required and not calls:
        return "no tool call where one is required"
    for call in calls:
        schema = item.tool_schema(call.name)
        if schema is None:
            return f"unknown tool {call.name!r}"
        args = call.decoded()
        if args is None:
            return f"the arguments of {call.name!r} are not a JSON object"
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(args))
        if error is not None:
            return f"the arguments of {call.name!r} do not match its schema: {error.message}"
    return None
