"""``numeric``: the answer's final number equals the reference within a tolerance (``abs_tol``, ``rel_tol``).

``extract_final_number`` reads free text ("The answer is 1,234.5." -> 1234.5):
1. the text is NFKC-normalized (full-width digits, the Unicode minus sign) and invisible format characters
   are dropped; other Unicode decimal digits (Arabic-Indic, ...) are read as digits;
2. if the text states its answer ("answer is", "answer:", "answer =", "####", ``\\boxed{``), the first
   number after the last such statement; else the last number in the text.
Numbers: an optional sign (not after a letter or digit, so "GPT-4" and "3-4" give no negative), digits
with optional thousands commas ("1,234,567"), an optional decimal part and exponent; a trailing period
ends a sentence, not a decimal part. Decimal commas ("3,5") are not read as decimals.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from pydantic import Field

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score
from .base import Args, ScorerKind, reference_values, sync_kind

_NUMBER = re.compile(
    r"(?:(?<![\w.])(?P<sign>[-+]))?(?<![\d.,])"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?!\d)"
)
_STATEMENT = re.compile(r"\banswer\b[^\S\n]*(?:is\b|:|=|would be\b|will be\b|should be\b)|####|\\boxed\{", re.I)


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _value(m: re.Match[str]) -> float:
    return float(m.group(0).replace(",", ""))


def extract_final_number(text: str) -> float | None:
    """The number a free-text answer ends on (see the module docstring), or None."""
    text = _prepare(text)
    statement = None
    for statement in _STATEMENT.finditer(text):  # noqa: B007 - the last one is wanted
        pass
    if statement is not None:
        after = _NUMBER.search(text, statement.end())
        if after is not None:
            return _value(after)
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007
        pass
    return _value(last) if last is not None else None


class NumericArgs(Args):
    abs_tol: float = Field(default=1e-6, ge=0)
    rel_tol: float = Field(default=0.0, ge=0)


def _reference_numbers(item: EvalItem) -> list[float]:
    out = []
    for v in reference_values(item):
        number = None
        if isinstance(v, int | float) and not isinstance(v, bool):
            number = float(v)
        elif isinstance(v, str):
            m = _NUMBER.fullmatch(_prepare(v.strip()).rstrip("."))
            number = _value(m) if m else None
        if number is None or not math.isfinite(number):
            raise ScorerError(f"a numeric reference must be a number, not {v!r}", field="reference")
        out.append(number)
    return out


def _numeric(args: NumericArgs, item: EvalItem, answer: Answer) -> Score:
    refs = _reference_numbers(item)
    got = extract_final_number(answer.text)
    shown = ", ".join(f"{r:g}" for r in refs)
    if got is None:
        return Score.of(False, f"no number in the answer; expected {shown}")
    ok = any(math.isclose(got, r, rel_tol=args.rel_tol, abs_tol=args.abs_tol) for r in refs)
    return Score.of(ok, f"read {got:g}" + ("" if ok else f"; expected {shown}"), extracted=got)


def _check(args: NumericArgs, item: EvalItem) -> None:
    _reference_numbers(item)


def kinds() -> list[ScorerKind[Any]]:
    return [sync_kind("numeric", NumericArgs, _numeric, check=_check, summary="the final number, within a tolerance")]
