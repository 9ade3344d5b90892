"""The Scorer seam: a scorer is built from a kind (name, typed arguments, a build function) and its spec's
arguments, then scores answers one at a time, asynchronously (the judge and the embedder await calls).

A kind's arguments are a pydantic model with ``extra="forbid"``, so a misspelt argument in an eval set is
an error at load time, not a silent default. A kind may also check an item's reference at load time
(``check``): a choice reference that is not a valid letter is reported with the item's line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score, ScorerSpec
from .deps import ScorerDeps


class Scorer(Protocol):
    """Scores one answer to one item. Must not raise for an answer it cannot read (that is a failed
    ``Score`` with a detail); collaborators' errors (judge client, embedder) pass through."""

    async def score(self, item: EvalItem, answer: Answer) -> Score: ...


class SyncScorer:
    """A scorer from a plain function (most scorers compute and never wait)."""

    def __init__(self, fn: Callable[[EvalItem, Answer], Score]) -> None:
        self.fn = fn

    async def score(self, item: EvalItem, answer: Answer) -> Score:
        return self.fn(item, answer)


class Args(BaseModel):
    """Base of the scorer argument models: unknown arguments are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class ScorerKind(Generic[A]):
    """A scorer by name. ``build`` is cheap (models load on first use); ``check`` raises ``ScorerError``
    (field "reference" or "scorer") for an item this scorer cannot score whatever the answer."""

    name: str
    args: type[A]
    build: Callable[[A, ScorerDeps], Scorer]
    check: Callable[[A, EvalItem], None] | None = None
    summary: str = ""


def sync_kind(
    name: str,
    args: type[A],
    fn: Callable[[A, EvalItem, Answer], Score],
    *,
    check: Callable[[A, EvalItem], None] | None = None,
    summary: str = "",
) -> ScorerKind[A]:
    """A kind whose scorer is the plain function ``fn(args, item, answer)``."""

    def build(parsed: A, _deps: ScorerDeps) -> Scorer:
        return SyncScorer(partial(fn, parsed))

    return ScorerKind(name, args, build, check, summary)


def _args_problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)


class ScorerRegistry:
    """Scorer kinds by name. Built-in kinds register exactly like a team's own would."""

    def __init__(self) -> None:
        self._kinds: dict[str, ScorerKind[Any]] = {}

    def register(self, kind: ScorerKind[Any]) -> None:
        self._kinds[kind.name] = kind

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def kind(self, name: str) -> ScorerKind[Any]:
        try:
            return self._kinds[name]
        except KeyError:
            raise ScorerError(f"unknown scorer {name!r} (known: {', '.join(self.names())})") from None

    def _args(self, spec: ScorerSpec) -> tuple[ScorerKind[Any], BaseModel]:
        kind = self.kind(spec.name)
        try:
            return kind, kind.args.model_validate(dict(spec.args))
        except ValidationError as exc:
            raise ScorerError(f"bad arguments for scorer {spec.name!r}: {_args_problem(exc)}") from None

    def check(self, spec: ScorerSpec, item: EvalItem | None = None) -> None:
        """Raise ``ScorerError`` for an unknown name, bad arguments or (given ``item``) a reference the
        scorer cannot use."""
        kind, args = self._args(spec)
        if item is not None and kind.check is not None:
            kind.check(args, item)

    def build(self, spec: ScorerSpec, deps: ScorerDeps) -> Scorer:
        kind, args = self._args(spec)
        return kind.build(args, deps)


def reference_values(item: EvalItem, *, what: str = "reference") -> list[Any]:
    """The item's reference as a non-empty list of acceptable values (a list reference means "any of")."""
    ref = item.reference
    if ref is None:
        raise ScorerError(f"this scorer needs a {what}", field="reference")
    values = list(ref) if isinstance(ref, list) else [ref]
    if not values:
        raise ScorerError(f"the {what} list is empty", field="reference")
    return values


def reference_texts(item: EvalItem) -> list[str]:
    """The reference as texts: strings and numbers (or a list of them)."""
    out = []
    for v in reference_values(item):
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ScorerError(
                f"the reference must be a string or a number (or a list of them), not {type(v).__name__}",
                field="reference",
            )
        out.append(v if isinstance(v, str) else str(v))
    return out


def one_of(values: Sequence[str]) -> str:
    return repr(values[0]) if len(values) == 1 else "one of " + ", ".join(repr(v) for v in values)
