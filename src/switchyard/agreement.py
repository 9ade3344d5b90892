"""Whether answers agree: what an answer says as a compare mode reads it, and how a set of answers
splits into groups that say the same. The agreement verifier of a cascade (``calls/agreement.py``) uses
it; so can anything that replays recorded answers.

Modes (``compare``), reading an answer's text with the eval scorers' extractors (``switchyard.evals``):
- ``normalized``: the text with case, whitespace and punctuation ignored (``normalize_text``);
- ``exact``: the text, surrounding whitespace ignored;
- ``choice``: the multiple-choice label it picks (``extract_choice``, labels from ``choices``);
- ``number``: the number it ends on (``extract_final_number``), equal within 1e-6.
An answer with tool calls is read as its calls, whatever the mode: the same names with JSON-equal
arguments, in any order. An answer the mode cannot read (empty, no label picked, no number, arguments
that are not a JSON object) says nothing and agrees with nothing.

What is shown in a decision trail (response headers, the ledger) is never the answer's text: only a
choice label or the names of the tools called (``Said.shown``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .config import AgreementPolicy, GatewayConfig
from .errors import ConfigError
from .evals import extract_choice, extract_final_number, normalize_text
from .evals.scorers import json_equal, parse_choices
from .types import ChatResponse

Compare = Literal["normalized", "choice", "number", "exact"]
NUMBER_TOLERANCE = 1e-6  # the numeric scorer's default


@dataclass(frozen=True)
class Said:
    """What one answer says: ``text`` (a normalized or exact text, a label, a number) or ``tools`` (a tuple
    of (name, arguments) pairs); ``shown`` is what a decision trail may show of it."""

    kind: Literal["text", "tools"]
    value: Any
    shown: str | None = None


@dataclass(frozen=True)
class Vote:
    """How answers split: ``groups[i]`` is answer i's group, numbered from 1 in order of first appearance
    (None: it said nothing); ``largest`` the size of the largest group; ``agreed`` the answers (indices, in
    order) of the one largest group when it has the size needed, else None."""

    groups: tuple[int | None, ...]
    largest: int
    agreed: tuple[int, ...] | None


class Comparison:
    def __init__(self, compare: Compare = "normalized", choices: str | Sequence[str] = "A-D") -> None:
        self.compare = compare
        self.choices = list(parse_choices(choices if isinstance(choices, str) else list(choices)))

    @classmethod
    def of(cls, policy: AgreementPolicy) -> Comparison:
        return cls(policy.compare, policy.choices)

    def read(self, response: ChatResponse) -> Said | None:
        """What ``response`` says, or None when this mode cannot read it."""
        if response.tool_calls:
            calls = []
            for call in response.tool_calls:
                try:
                    args = json.loads(call.function.arguments or "{}")
                except ValueError:
                    return None
                if not isinstance(args, dict):
                    return None
                calls.append((call.function.name, args))
            return Said("tools", tuple(calls), ", ".join(_printable(name) + "()" for name, _ in calls))
        text = response.content or ""
        if self.compare == "choice":
            label = extract_choice(text, self.choices)
            return None if label is None else Said("text", label, repr(_printable(label)))
        if self.compare == "number":
            number = extract_final_number(text)
            return None if number is None or not math.isfinite(number) else Said("text", number)
        said = normalize_text(text) if self.compare == "normalized" else text.strip()
        return Said("text", said) if said else None

    def same(self, a: Said, b: Said) -> bool:
        if a.kind != b.kind:
            return False
        if a.kind == "tools":
            return _same_calls(a.value, b.value)
        if self.compare == "number":
            return math.isclose(a.value, b.value, rel_tol=0.0, abs_tol=NUMBER_TOLERANCE)
        return bool(a.value == b.value)


def vote(said: Sequence[Said | None], comparison: Comparison, needed: int) -> Vote:
    """Group the answers (each joins the first group whose first answer it agrees with); they agree when
    one group is larger than every other and has at least ``needed`` answers."""
    heads: list[Said] = []
    members: list[list[int]] = []
    groups: list[int | None] = []
    for i, s in enumerate(said):
        if s is None:
            groups.append(None)
            continue
        for g, head in enumerate(heads):
            if comparison.same(head, s):
                members[g].append(i)
                groups.append(g + 1)
                break
        else:
            heads.append(s)
            members.append([i])
            groups.append(len(heads))
    sizes = sorted((len(m) for m in members), reverse=True)
    largest = sizes[0] if sizes else 0
    unique = len(sizes) < 2 or sizes[1] < largest
    agreed = next((tuple(m) for m in members if len(m) == largest), None) if unique and largest >= needed else None
    return Vote(tuple(groups), largest, agreed)


def check_agreements(config: GatewayConfig) -> None:
    """Refuse a config whose agreement settings cannot be used (labels that are not labels)."""
    for i, route in enumerate(config.routes):
        if route.policy.agreement is not None:
            try:
                Comparison.of(route.policy.agreement)
            except ValueError as exc:
                raise ConfigError(f"routes[{i}].policy.agreement.choices: {exc}") from exc


def _same_calls(a: tuple[tuple[str, Any], ...], b: tuple[tuple[str, Any], ...]) -> bool:
    """The same calls in any order: each call of ``a`` matched to its own equal call of ``b``."""
    if len(a) != len(b):
        return False
    left = list(b)
    for name, args in a:
        match = next((j for j, (n, x) in enumerate(left) if n == name and json_equal(args, x)), None)
        if match is None:
            return False
        left.pop(match)
    return True


def _printable(text: str, limit: int = 40) -> str:
    """Safe in a response header and a log line: ASCII, no control characters, bounded."""
    safe = text[:limit].encode("ascii", "backslashreplace").decode()
    return "".join(c if c.isprintable() else "?" for c in safe)
