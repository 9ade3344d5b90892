"""``choice``: the multiple-choice label an answer picks, against the reference (a label, or a list of
acceptable labels). Labels come from ``choices`` (default ``"A-D"``; ``"A-E"``, ``"ABCDE"``, ``"1,2"``,
``"1-4"`` or a list); letters are matched in either case and compared in upper case.

How the label is read (``ChoiceReader.read``), first rule that gives an answer wins:
1. **statement** - the last explicit statement: "answer is B", "Answer: C", "The correct answer would be
   (b)", "the correct option is (D)", "choice: C", "I'd go with B" ("answer is option C" too). A lower-case
   letter counts here only when bracketed or followed by punctuation or the end ("the answer is a good
   one" states nothing);
2. **line** - the first line that holds a label and nothing else: "B", "(b)", "B)", "**C**.";
3. **leading** - labels that open a line with a bracket or ")" / "." / ":" ("C) Paris", "(B) because"),
   when exactly one label opens lines that way (a restated option list is no answer);
4. **bracketed** - "(C)" or "[C]" anywhere, when exactly one label appears so;
5. **mention** - a bare upper-case label as a word anywhere, when exactly one label appears so. "A" or
   "I" followed by a lower-case word is read as the English word ("A good question"), unless that word
   is one a choice is talked about with ("A is correct", "A because").
Several different labels at rules 3-5 is **ambiguous**: nothing is chosen, and the score says so.
Before reading, the text is NFKC-normalized (full-width letters, circled letters), invisible format
characters and markdown emphasis/code marks (``*``, `````) are dropped, and runs of spaces become one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple

from pydantic import field_validator

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score
from .base import Args, ScorerKind, reference_values

DEFAULT_CHOICES = ("A", "B", "C", "D")
_VERBS = "is|was|seems|would|should|must|looks|appears|fits|matches|because|since|as|and|or"
_BARE_WORDS = frozenset({"A", "I"})


def parse_choices(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"A-D"``, ``"ABCDE"``, ``"1,2"``, ``"A-C,X"`` or a list -> the labels, upper case, in order."""
    parts = [str(p).strip() for p in value] if isinstance(value, list | tuple) else value.split(",")
    labels: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        if dash and lo and hi:
            if len(lo) == len(hi) == 1 and lo.isalpha() and hi.isalpha() and lo.upper() <= hi.upper():
                labels.extend(chr(c) for c in range(ord(lo.upper()), ord(hi.upper()) + 1))
            elif lo.isdigit() and hi.isdigit() and int(lo) <= int(hi) and int(hi) - int(lo) < 100:
                labels.extend(str(n) for n in range(int(lo), int(hi) + 1))
            else:
                raise ValueError(f"{part!r} is not a range of letters or numbers")
        elif part.isalpha() and len(part) > 1 and not isinstance(value, list | tuple):
            labels.extend(part.upper())  # "ABCD"
        elif part.isalnum():
            labels.append(part.upper())
        else:
            raise ValueError(f"{part!r} is not a label (letters or digits)")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError("give at least two distinct labels")
    return tuple(labels)


class Choice(NamedTuple):
    """The label read (None if none) and the rule that read it (or "ambiguous" / "none")."""

    label: str | None
    rule: str
    candidates: tuple[str, ...] = ()


class ChoiceReader:
    """Reads the chosen label from free text; patterns compiled once per label set. Every pattern is
    linear in the text (runs of spaces are collapsed to one before matching)."""

    def __init__(self, labels: tuple[str, ...] = DEFAULT_CHOICES) -> None:
        self.labels = labels
        alt = "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))
        lbl = f"(?P<label>{alt})"
        verb = "(?:is|would be|should be|must be|will be)"
        statement = (
            rf"\b(?:answer(?: {verb})?|(?:option|choice|letter) {verb}|(?:option|choice|letter) ?:"
            r"|i(?: would| will|'d|'ll)? (?:choose|pick|select|go with))"
            r" ?[:=\-]? ?(?:(?:option|choice|letter) )?"
            rf"(?:(?P<open>[\(\[]) ?)?{lbl}(?: ?[\)\]])?(?![\w'])"
        )
        self._statement = re.compile(statement, re.I)
        self._line = re.compile(rf"^ ?(?:[\(\[] ?)?{lbl}(?: ?[\)\]])? ?[.:!]? ?$", re.I | re.M)
        self._leading = re.compile(rf"^ ?(?:[\(\[] ?(?P<b>{alt}) ?[\)\]]|(?P<p>{alt})[.):](?= |$))", re.I | re.M)
        self._bracketed = re.compile(rf"(?<!\w)[\(\[] ?{lbl} ?[\)\]]", re.I)
        self._mention = re.compile(rf"(?<![\w'\-]){lbl}(?![\w'\-]|[.,]\d)(?P<next> (?!(?:{_VERBS})\b)[a-z])?")

    @staticmethod
    def prepare(text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in "*`")
        return re.sub(r"[^\S\n]+", " ", text)

    def _canon(self, raw: str) -> str:
        return raw.upper()

    def read(self, text: str) -> Choice:
        text = self.prepare(text)
        chosen = None
        for m in self._statement.finditer(text):
            raw = m.group("label")
            if raw.islower() and m.group("open") is None:
                after = text[m.end() : m.end() + 1]
                if after and after not in ".,;:!?)\n":
                    continue  # "the answer is a good one"
            chosen = self._canon(raw)
        if chosen is not None:
            return Choice(chosen, "statement")
        line = self._line.search(text)
        if line is not None:
            return Choice(self._canon(line.group("label")), "line")
        seen: tuple[str, ...] = ()
        for rule, found in (
            ("leading", [self._canon(m.group("b") or m.group("p")) for m in self._leading.finditer(text)]),
            ("bracketed", [self._canon(m.group("label")) for m in self._bracketed.finditer(text)]),
            ("mention", self._mentions(text)),
        ):
            distinct = tuple(dict.fromkeys(found))
            if len(distinct) == 1:
                return Choice(distinct[0], rule)
            if len(distinct) > 1:
                seen = distinct
                if rule != "leading":  # a restated option list may precede a mention; a conflict may not
                    return Choice(None, "ambiguous", distinct)
        return Choice(None, "ambiguous", seen) if seen else Choice(None, "none")

    def _mentions(self, text: str) -> list[str]:
        out = []
        for m in self._mention.finditer(text):
            label = m.group("label")
            if label != label.upper():
                continue  # a bare lower-case letter is a word, not a choice
            if label in _BARE_WORDS and m.group("next"):
                continue  # "A good question", "I think"
            out.append(label)
        return out


def extract_choice(text: str, choices: str | list[str] = "A-D") -> str | None:
    """The label ``text`` chooses among ``choices`` (see the module docstring), or None."""
    return ChoiceReader(parse_choices(choices)).read(text).label


class ChoiceArgs(Args):
    choices: tuple[str, ...] = DEFAULT_CHOICES

    @field_validator("choices", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> tuple[str, ...]:
        if not isinstance(value, str | list | tuple):
            raise ValueError("choices is a string such as 'A-E' or '1,2', or a list of labels")
        return parse_choices(value)


def _references(args: ChoiceArgs, item: EvalItem) -> list[str]:
    out = []
    for v in reference_values(item):
        label = str(v).strip().upper() if isinstance(v, str | int) and not isinstance(v, bool) else None
        if label not in args.choices:
            raise ScorerError(
                f"choice reference {v!r} is not one of the labels {', '.join(args.choices)}", field="reference"
            )
        out.append(label)
    return out


class ChoiceScorer:
    def __init__(self, args: ChoiceArgs) -> None:
        self.args = args
        self.reader = ChoiceReader(args.choices)

    async def score(self, item: EvalItem, answer: Answer) -> Score:
        refs = _references(self.args, item)
        expected = "/".join(refs)
        got = self.reader.read(answer.text)
        if got.label is None:
            why = f"several labels ({', '.join(got.candidates)})" if got.rule == "ambiguous" else "no label"
            return Score.of(False, f"{why} in the answer; expected {expected}", rule=got.rule)
        ok = got.label in refs
        detail = f"chose {got.label} ({got.rule})" + ("" if ok else f"; expected {expected}")
        return Score.of(ok, detail, extracted=got.label, rule=got.rule)


def _check(args: ChoiceArgs, item: EvalItem) -> None:
    _references(args, item)


def kinds() -> list[ScorerKind[Any]]:
    def build(args: ChoiceArgs, _deps: Any) -> ChoiceScorer:
        return ChoiceScorer(args)

    return [ScorerKind("choice", ChoiceArgs, build, _check, "the multiple-choice label read from free text")]
