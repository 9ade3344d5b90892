"""Text scorers: ``exact``, ``normalized``, ``contains`` and ``regex``. A list reference means "any of".

``normalize_text`` (used by ``normalized`` and ``contains``): Unicode NFKC (full-width letters and digits,
non-breaking spaces), invisible format characters (zero-width spaces) dropped, case folded, punctuation and
symbols deleted (``**Paris**.`` -> ``paris``), whitespace runs collapsed to one space; optionally the
English articles a/an/the dropped (``articles=true``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from pydantic import field_validator

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score
from .base import Args, ScorerKind, one_of, reference_texts, reference_values, sync_kind

_ARTICLES = frozenset({"a", "an", "the"})


def normalize_text(text: str, *, articles: bool = False) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in text if unicodedata.category(c)[0] not in "PS" and unicodedata.category(c) != "Cf")
    words = kept.split()
    if articles:
        words = [w for w in words if w not in _ARTICLES]
    return " ".join(words)


# exact ------------------------------------------------------------------------------------------------


class ExactArgs(Args):
    strip: bool = True  # ignore whitespace around the answer and the reference


def _exact(args: ExactArgs, item: EvalItem, answer: Answer) -> Score:
    refs = reference_texts(item)
    got = answer.text.strip() if args.strip else answer.text
    ok = any(got == (r.strip() if args.strip else r) for r in refs)
    return Score.of(ok, None if ok else f"expected {one_of(refs)}")


# normalized -------------------------------------------------------------------------------------------


class NormalizedArgs(Args):
    articles: bool = False  # also drop a / an / the


def _normalized(args: NormalizedArgs, item: EvalItem, answer: Answer) -> Score:
    refs = reference_texts(item)
    got = normalize_text(answer.text, articles=args.articles)
    ok = any(got == normalize_text(r, articles=args.articles) for r in refs)
    return Score.of(ok, None if ok else f"normalized answer {got[:80]!r} is not {one_of(refs)}")


# contains ---------------------------------------------------------------------------------------------


class ContainsArgs(Args):
    # True: both sides normalized and matched on whole words; False: a plain, case-sensitive substring
    normalize: bool = True
    require: Literal["any", "all"] = "any"  # with a list reference: any one of them, or all of them


def _contains(args: ContainsArgs, item: EvalItem, answer: Answer) -> Score:
    refs = reference_texts(item)
    if args.normalize:
        hay = f" {normalize_text(answer.text)} "
        found = [r for r in refs if normalize_text(r) and f" {normalize_text(r)} " in hay]
    else:
        found = [r for r in refs if r in answer.text]
    ok = len(found) == len(refs) if args.require == "all" else bool(found)
    missing = [r for r in refs if r not in found]
    if ok:
        return Score.of(True, f"contains {one_of(found)}")
    return Score.of(False, f"does not contain {one_of(missing if args.require == 'all' else refs)}")


# regex ------------------------------------------------------------------------------------------------


class RegexArgs(Args):
    """``pattern`` here, else the reference is the pattern (or a list of patterns: any may match).
    Patterns come from the eval set's author and run on model answers; Python's ``re`` has no time limit,
    so keep them free of nested quantifiers."""

    pattern: str | None = None
    ignore_case: bool = False
    full: bool = False  # the whole (stripped) answer must match, not just a part of it

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


def _patterns(args: RegexArgs, item: EvalItem) -> list[re.Pattern[str]]:
    flags = re.IGNORECASE if args.ignore_case else 0
    if args.pattern is not None:
        return [re.compile(args.pattern, flags)]
    out = []
    for p in reference_values(item, what="pattern (args 'pattern' or the reference)"):
        if not isinstance(p, str):
            raise ScorerError("a regex reference must be a pattern string (or a list of them)", field="reference")
        try:
            out.append(re.compile(p, flags))
        except re.error as exc:
            raise ScorerError(f"not a valid regular expression {p!r}: {exc}", field="reference") from None
    return out


def _regex(args: RegexArgs, item: EvalItem, answer: Answer) -> Score:
    patterns = _patterns(args, item)
    text = answer.text.strip() if args.full else answer.text
    for p in patterns:
        m = p.fullmatch(text) if args.full else p.search(text)
        if m:
            return Score.of(True, f"matches {p.pattern!r}", match=m.group(0)[:200])
    return Score.of(False, f"does not match {one_of([p.pattern for p in patterns])}")


def _check_texts(args: object, item: EvalItem) -> None:
    reference_texts(item)


def _check_regex(args: RegexArgs, item: EvalItem) -> None:
    _patterns(args, item)


def kinds() -> list[ScorerKind[Any]]:
    return [
        sync_kind("exact", ExactArgs, _exact, check=_check_texts, summary="the answer equals the reference"),
        sync_kind("normalized", NormalizedArgs, _normalized, check=_check_texts, summary="equal after normalize_text"),
        sync_kind("contains", ContainsArgs, _contains, check=_check_texts, summary="the answer contains the reference"),
        sync_kind("regex", RegexArgs, _regex, check=_check_regex, summary="the answer matches a pattern"),
    ]
