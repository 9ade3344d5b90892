"""The evals' data: an item of an eval set, how it is scored (``ScorerSpec``), a model's ``Answer`` to it,
and the ``Score`` a scorer gives that answer. Plain frozen data; loading is in ``sets.py``, scoring in
``scorers/``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from ..types import ChatRequest, ChatResponse, Message, ResponseFormat, Tool, ToolCall


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer by registry name, with its arguments (``{"name": "numeric", "rel_tol": 0.01}`` in a set)."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", _frozen(self.args))

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | ScorerSpec) -> ScorerSpec:
        """From a name or a ``{"name": ..., **args}`` object. Raises ``ValueError`` on anything else."""
        if isinstance(value, ScorerSpec):
            return value
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("a scorer name must not be empty")
            return cls(value.strip())
        if isinstance(value, Mapping):
            name = value.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ValueError("a scorer object needs a string 'name'")
            return cls(name.strip(), {k: v for k, v in value.items() if k != "name"})
        raise ValueError(f"a scorer is a name or an object with a 'name', not {type(value).__name__}")

    @property
    def key(self) -> str:
        """A canonical text form: equal specs have equal keys (used to build each scorer once)."""
        return orjson.dumps({"name": self.name, **self.args}, option=orjson.OPT_SORT_KEYS).decode()

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScorerSpec) and self.key == other.key


@dataclass(frozen=True)
class EvalItem:
    """One item of an eval set. ``messages`` is never empty (a ``prompt`` became one user message);
    ``reference`` is any JSON value (``None`` when the set gave none); ``line`` is where it was read.
    The messages, tools and response format are the gateway's own request models: read them, do not
    modify them."""

    id: str
    messages: tuple[Message, ...]
    scorer: ScorerSpec
    reference: Any = None
    tools: tuple[Tool, ...] | None = None
    response_format: ResponseFormat | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _frozen(self.metadata))

    @property
    def prompt(self) -> str:
        """The text of the last user message (what a single-turn item asks)."""
        users = [m for m in self.messages if m.role == "user"]
        return users[-1].text() if users else self.messages[-1].text()

    def request(self, model: str, **params: Any) -> ChatRequest:
        """The chat request that asks ``model`` this item (``params``: temperature, max_tokens, ...)."""
        return ChatRequest(
            model=model,
            messages=[m.model_copy(deep=True) for m in self.messages],
            tools=[t.model_copy(deep=True) for t in self.tools] if self.tools else None,
            response_format=self.response_format.model_copy(deep=True) if self.response_format else None,
            **params,
        )


@dataclass(frozen=True)
class Answer:
    """A model's answer to an item: its text, its tool calls (OpenAI shape) and, when a scorer needs more,
    the raw response body."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    raw: Mapping[str, Any] | None = None

    @classmethod
    def from_response(cls, response: ChatResponse) -> Answer:
        return cls(response.content or "", tuple(response.tool_calls or ()))

    @classmethod
    def from_openai(cls, body: Mapping[str, Any]) -> Answer:
        """From an OpenAI chat completion body (``choices[0].message``); raises ``ValueError`` if it has none."""
        try:
            message = body["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ValueError("not a chat completion: no choices[0].message") from None
        calls = tuple(ToolCall.model_validate(c) for c in message.get("tool_calls") or ())
        content = message.get("content")
        return cls(content if isinstance(content, str) else "", calls, body)


@dataclass(frozen=True)
class Score:
    """A scorer's verdict: ``value`` in [0, 1] (1 = fully right), ``passed``, a human ``detail`` and
    machine-readable ``meta`` (what was extracted, the judge prompt version, ...)."""

    value: float
    passed: bool
    detail: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.value, int | float) and math.isfinite(self.value) and 0.0 <= self.value <= 1.0):
            raise ValueError(f"a score's value must be in [0, 1], not {self.value!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "meta", _frozen(self.meta))

    @classmethod
    def of(cls, passed: bool, detail: str | None = None, **meta: Any) -> Score:
        """A pass/fail score: value 1.0 or 0.0."""
        return cls(1.0 if passed else 0.0, passed, detail, meta)
