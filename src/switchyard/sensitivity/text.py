"""Tokens and letter case: the shared groundwork of the word-list detectors.

Regular expressions over Unicode categories are slow in CPython, so the classes here are explicit
ranges (Latin, Greek, Cyrillic), which also keeps the detectors within their time budget.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

CaseMode = Literal["mixed", "upper", "lower"]

_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u024f\u0391-\u03a9\u0410-\u042f"
WORD = re.compile(f"[{_LETTER}]+(?:['\u2019-][{_LETTER}]+)*['\u2019]?")
CAPITALISED_WORD = re.compile(f"[{_UPPER}][{_LETTER}]*(?:['\u2019-][{_LETTER}]+)*['\u2019]?")
_UPPER_BYTES = bytes(range(65, 91))
_LOWER_BYTES = bytes(range(97, 123))
POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")


class Token(NamedTuple):
    start: int
    end: int
    word: str

    @property
    def bare(self) -> str:
        """The word without a possessive ending: "Smith's" -> "Smith"."""
        return bare(self.word)


def bare(word: str) -> str:
    if word.endswith(POSSESSIVE):
        return word[:-2]
    return word.rstrip("'\u2019")


def tokens(text: str, start: int = 0, end: int | None = None, *, capitalised_only: bool = False) -> list[Token]:
    pattern = CAPITALISED_WORD if capitalised_only else WORD
    return [
        Token(m.start(), m.end(), m.group()) for m in pattern.finditer(text, start, len(text) if end is None else end)
    ]


def case_mode(text: str, start: int = 0, end: int | None = None, *, min_letters: int = 8) -> CaseMode | None:
    """ "upper" for shouted text (most letters capitals), "lower" for text without capitals, else "mixed";
    None when there are too few letters to tell.

    In upper- and lower-case text capitalisation says nothing about names; in mixed text it says a lot.
    """
    chunk = text[start:end].encode("ascii", "ignore")
    upper = len(chunk) - len(chunk.translate(None, _UPPER_BYTES))
    lower = len(chunk) - len(chunk.translate(None, _LOWER_BYTES))
    if upper + lower < min_letters:
        return None
    if upper >= 0.6 * (upper + lower):
        return "upper"
    if upper == 0:
        return "lower"
    return "mixed"


def case_segments(text: str) -> list[tuple[int, int, CaseMode]]:
    """Runs of lines in one letter case. A line with too few letters to tell joins its neighbours."""
    segments: list[tuple[int, int, CaseMode]] = []
    pos, n = 0, len(text)
    pending = 0  # start of lines not yet assigned a mode
    while pos < n:
        newline = text.find("\n", pos)
        end = n if newline == -1 else newline
        mode = case_mode(text, pos, end)
        if mode is not None:
            if segments and segments[-1][2] == mode and segments[-1][1] >= pending:
                segments[-1] = (segments[-1][0], end, mode)
            else:
                segments.append((pending, end, mode))
            pending = end
        pos = end + 1
    if pending < n:
        if segments:
            segments[-1] = (segments[-1][0], n, segments[-1][2])
        else:
            segments.append((0, n, case_mode(text, min_letters=1) or "mixed"))
    return segments


def is_capitalised(word: str) -> bool:
    """Title-case or a capitalised compound ("Smith", "McDonald", "O'Brien", "Jean-Luc")."""
    return word[0].isupper() and not word.isupper() if len(word) > 1 else word.isupper()


def sentence_initial(text: str, start: int, line_start: int) -> bool:
    """Whether only punctuation or bullets separate ``start`` from the line start or the previous sentence."""
    i = start - 1
    while i >= line_start:
        c = text[i]
        if c in '.!?:;"\u201c(*•>-#' or c.isdigit():
            return c != "." or not _after_abbreviation(text, i, line_start)
        if not c.isspace():
            return False
        i -= 1
    return True


def _after_abbreviation(text: str, dot: int, line_start: int) -> bool:
    """A dot that ends a title or an initial ("Dr.", "J.") does not end a sentence."""
    j = dot
    while j > line_start and text[j - 1].isalpha():
        j -= 1
    word = text[j:dot].casefold()
    return len(word) == 1 or word in {"dr", "mr", "mrs", "ms", "prof", "st", "rev", "fr", "mt", "jr", "sr"}
