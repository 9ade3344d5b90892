"""Eval sets: JSONL files, one item per line.

    {"id": "q1", "prompt": "What is 2+2?", "reference": 4, "scorer": "numeric", "tags": ["math"]}
    {"id": "q2", "messages": [{"role": "user", "content": "..."}], "reference": "B",
     "scorer": {"name": "choice", "choices": "A-E"}}

Fields: ``id`` (a string or an integer, unique in the set), ``messages`` (OpenAI chat messages) or
``prompt`` (a text: one user message) - exactly one of the two -, ``reference`` (any JSON value, optional),
``scorer`` (a name or ``{"name", ...args}``; else the set's default), ``tools`` and ``response_format``
(as in an OpenAI request), ``tags`` (strings), ``metadata`` (an object, kept as is). Unknown fields are
refused (a misspelt "refrence" would otherwise score against nothing). Blank lines are skipped.

Every item's scorer is checked against the scorer registry at load time (name, arguments, and whether the
scorer can use the item's reference), so a bad set fails before any model is asked. Errors name the line
and the field: ``line 7: field 'messages[0].role': Input should be 'system', ...``. Loading is one pass,
one JSON parse per line, and a dictionary of the ids seen: linear in the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..types import Message, ResponseFormat, Tool
from .errors import EvalError, EvalSetError, ScorerError
from .scorers.base import ScorerRegistry
from .scorers.registry import default_registry
from .types import EvalItem, ScorerSpec

FIELDS = ("id", "messages", "prompt", "reference", "scorer", "tools", "response_format", "tags", "metadata")
_MESSAGES = TypeAdapter(list[Message])
_TOOLS = TypeAdapter(list[Tool])
_FORMAT = TypeAdapter(ResponseFormat)


@dataclass(frozen=True)
class EvalSet:
    """The items of a set in file order. ``sha256`` is the digest of the file's bytes: a run records it,
    so a report can tell when the set changed under it."""

    name: str
    items: tuple[EvalItem, ...]
    sha256: str
    path: str | None = None
    _index: Mapping[str, EvalItem] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {item.id: item for item in self.items})

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[EvalItem]:
        return iter(self.items)

    def get(self, item_id: str) -> EvalItem | None:
        return self._index.get(item_id)


def _where(field_name: str, loc: tuple[int | str, ...]) -> str:
    return field_name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


class _Line:
    """Reads one line's fields; every problem becomes an ``EvalSetError`` for this line."""

    def __init__(self, number: int, path: str | None) -> None:
        self.number = number
        self.path = path

    def error(self, problem: str, field_name: str | None = None) -> EvalSetError:
        return EvalSetError(self.number, problem, field=field_name, path=self.path)

    def validated(self, adapter: TypeAdapter[Any], value: Any, field_name: str) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise self.error(str(first["msg"]), _where(field_name, tuple(first["loc"]))) from None

    def item_id(self, obj: Mapping[str, Any]) -> str:
        if "id" not in obj:
            raise self.error("missing (every item needs an id)", "id")
        raw = obj["id"]
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise self.error(f"must be a string or an integer, not {type(raw).__name__}", "id")
        value = str(raw)
        if not value.strip():
            raise self.error("must not be empty", "id")
        return value

    def messages(self, obj: Mapping[str, Any]) -> tuple[Message, ...]:
        has_messages, has_prompt = obj.get("messages") is not None, obj.get("prompt") is not None
        if has_messages and has_prompt:
            raise self.error("give either 'messages' or 'prompt', not both", "prompt")
        if has_prompt:
            prompt = obj["prompt"]
            if not isinstance(prompt, str) or not prompt.strip():
                raise self.error("must be a non-empty string", "prompt")
            return (Message(role="user", content=prompt),)
        if not has_messages:
            raise self.error("missing: give 'messages' (a list of chat messages) or 'prompt' (a string)", "messages")
        if not isinstance(obj["messages"], list) or not obj["messages"]:
            raise self.error("must be a non-empty list of chat messages", "messages")
        return tuple(self.validated(_MESSAGES, obj["messages"], "messages"))

    def tags(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        tags = obj.get("tags")
        if tags is None:
            return ()
        if not isinstance(tags, list):
            raise self.error("must be a list of strings", "tags")
        for i, tag in enumerate(tags):
            if not isinstance(tag, str):
                raise self.error(f"must be a string, not {type(tag).__name__}", f"tags[{i}]")
        return tuple(tags)

    def scorer(self, obj: Mapping[str, Any], default: ScorerSpec | None) -> ScorerSpec:
        raw = obj.get("scorer")
        if raw is None:
            if default is None:
                raise self.error("missing, and the set has no default scorer", "scorer")
            return default
        try:
            return ScorerSpec.parse(raw)
        except ValueError as exc:
            raise self.error(str(exc), "scorer") from None

    def parse(self, text: str, default: ScorerSpec | None, registry: ScorerRegistry) -> EvalItem:
        try:
            obj = json.loads(text.rstrip())
        except json.JSONDecodeError as exc:
            raise self.error(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise self.error(f"an item is a JSON object, not {type(obj).__name__}")
        unknown = [k for k in obj if k not in FIELDS]
        if unknown:
            raise self.error(f"unknown field (known: {', '.join(FIELDS)})", unknown[0])
        tools = obj.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise self.error("must be a list of tools", "tools")
        fmt = obj.get("response_format")
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise self.error("must be an object", "metadata")
        item = EvalItem(
            id=self.item_id(obj),
            messages=self.messages(obj),
            scorer=self.scorer(obj, default),
            reference=obj.get("reference"),
            tools=tuple(self.validated(_TOOLS, tools, "tools")) if tools is not None else None,
            response_format=self.validated(_FORMAT, fmt, "response_format") if fmt is not None else None,
            tags=self.tags(obj),
            metadata=metadata or {},
            line=self.number,
        )
        try:
            registry.check(item.scorer, item)
        except ScorerError as exc:
            raise self.error(exc.message, exc.field) from None
        return item


def _default_spec(
    default_scorer: str | Mapping[str, Any] | ScorerSpec | None, registry: ScorerRegistry
) -> ScorerSpec | None:
    if default_scorer is None:
        return None
    try:
        spec = ScorerSpec.parse(default_scorer)
    except ValueError as exc:
        raise ScorerError(f"default scorer: {exc}") from None
    registry.check(spec)
    return spec


def parse_eval_set(
    lines: Iterable[str | bytes],
    default_scorer: str | Mapping[str, Any] | ScorerSpec | None = None,
    *,
    registry: ScorerRegistry | None = None,
    name: str = "eval-set",
    path: str | None = None,
) -> EvalSet:
    """An eval set from JSONL lines (text or bytes, e.g. an open binary file). ``registry`` checks each
    item's scorer (default: the built-in scorers). Raises ``EvalSetError`` for the first bad line,
    ``ScorerError`` for a bad default scorer, ``EvalError`` for a set without items."""
    registry = registry or default_registry()
    default = _default_spec(default_scorer, registry)
    digest = hashlib.sha256()
    items: list[EvalItem] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        digest.update(data)
        line = _Line(number, path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise line.error(f"not UTF-8 text (byte {exc.start + 1})") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        item = line.parse(text, default, registry)
        if item.id in first_line:
            raise line.error(f"duplicate id {item.id!r} (first on line {first_line[item.id]})", "id")
        first_line[item.id] = number
        items.append(item)
    if not items:
        raise EvalError(f"eval set {path or name!r} holds no items")
    return EvalSet(name, tuple(items), digest.hexdigest(), path)


def load_eval_set(
    path: str | Path,
    default_scorer: str | Mapping[str, Any] | ScorerSpec | None = None,
    *,
    registry: ScorerRegistry | None = None,
) -> EvalSet:
    """Load a JSONL eval set (see the module docstring). The set is named after the file (its stem)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return parse_eval_set(f, default_scorer, registry=registry, name=p.stem, path=str(p))
    except OSError as exc:
        raise EvalError(f"cannot read eval set {str(p)!r}: {exc.strerror or exc}") from None
