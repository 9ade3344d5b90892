"""Calendar dates and ages over 89: the HIPAA date elements that identify a person.

Numeric dates (``2/13/2001``, ``13.02.2001``, ``2001-02-13 14:05``), month-name dates (``Feb 13``,
``13th of February 2001``, ``February 2001``) and month/day pairs (``2/13``, common in clinical notes;
ranges such as ``12-20`` and fractions such as ``1/2`` only after a date cue: "on 12-20"). A bare year or a weekday is not flagged:
neither identifies anyone. Ages are flagged from 90 on, as HIPAA's safe harbour requires.
"""

from __future__ import annotations

import re

from .base import Coverage, Span

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d|'?\d\d)"
_TIME = r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?)?)?"

_NUMERIC = (
    r"(?:1[89]\d\d|20\d\d)-(?:0?[1-9]|1[0-2])-(?:[12]\d|3[01]|0?[1-9])" + _TIME + r"|"
    r"(?:[12]\d|3[01]|0?[1-9])(?:/(?:[12]\d|3[01]|0?[1-9])/|-(?:[12]\d|3[01]|0?[1-9])-|\.(?:[12]\d|3[01]|0?[1-9])\.)"
    r"(?:1[89]\d\d|20\d\d|\d\d)" + _TIME
)
_NAMED = (
    f"{_MONTH}\\s+{_DAY}(?:,?\\s+{_YEAR})?|{_DAY}(?:\\s+of)?[\\s-]+{_MONTH}(?:,?[\\s-]+{_YEAR})?"
    f"|{_MONTH},?\\s+(?:1[89]\\d\\d|20\\d\\d)"
)
DATE_PATTERN = f"(?:{_NUMERIC}|{_NAMED})"
NUMERIC_DATE = re.compile(r"(?=\d)(?<![\w/.-])(?:" + _NUMERIC + r")(?![\w]|[/-]\d)")
NAMED_DATE = re.compile(r"(?i)(?=[\dadfjmnos])(?<![\w/.-])(?:" + _NAMED + r")(?![\w]|[/-]\d)")
MONTH_HINTS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# "2/13", "02-13": a month and a day, the usual date in clinical notes.
MONTH_DAY = re.compile(r"(?=\d)(?<![\w/.,:-])(1[0-2]|0?[1-9])([/-])([12]\d|3[01]|0?[1-9])(?![\w%]|[/.,:-]\d)")
FRACTION_LIKE = frozenset({("1", "2"), ("1", "3"), ("2", "3"), ("1", "4"), ("3", "4"), ("2", "4")})
DATE_CUE = re.compile(
    r"(?i)\b(?:on|since|from|until|till|by|dated?|admitted|discharged|seen|born|dob|d\.o\.b\.?)\W{0,3}$"
)
UNIT_AFTER = re.compile(r"(?i)\s?(?:ns|strength|dose|tab|tabs|tablets?|mg|ml|cc|units?|assist|of|x\b)")

AGE = re.compile(
    r"(?i)(?=[\da])(?<![\w.])(?:(?:aged?|age:)\s*(9\d|1[01]\d)\b|(9\d|1[01]\d)(?:\s?|-)(?:yo\b|y/o|y\.o\.|years?[\s-]old|yrs?[\s-]old|year-old|-year-old))"
)


DIGIT = re.compile(r"\d")


# "CPAP 5/5", "BIPAP 12/5", "PS 10/5": ventilator settings; "6/10 pain": a pain score.
NOT_DATE_BEFORE = re.compile(r"(?i)\b(?:bipap|cpap|peep|ps|psv|vent|settings|bp|ratio|sats?)\W{0,3}$")
PAIN_NEAR = re.compile(r"(?i)\bpain\b")


class DateDetector:
    """Calendar dates and ages over 89."""

    name = "dates"

    def detect(self, text: str) -> list[Span]:
        if not DIGIT.search(text):
            return []
        spans = [Span(m.start(), m.end(), "DATE", "pii") for m in NUMERIC_DATE.finditer(text)]
        low = text.lower()
        if any(h in low for h in MONTH_HINTS):
            spans += [Span(m.start(), m.end(), "DATE", "pii") for m in NAMED_DATE.finditer(text)]
        dated = Coverage(spans)
        for m in MONTH_DAY.finditer(text):
            s, e = m.span()
            if dated.covers(s) or UNIT_AFTER.match(text, e):
                continue
            if NOT_DATE_BEFORE.search(text, max(0, s - 12), s) or PAIN_NEAR.search(text, max(0, s - 20), e + 20):
                continue
            doubtful = m.group(2) == "-" or (m.group(1), m.group(3)) in FRACTION_LIKE  # a range, a fraction
            if doubtful and not DATE_CUE.search(text, max(0, s - 14), s):
                continue
            spans.append(Span(s, e, "DATE", "pii"))
            dated.add(spans[-1])
        for m in AGE.finditer(text):
            group = 1 if m.group(1) else 2
            spans.append(Span(m.start(group), m.end(group), "AGE", "pii"))
        return spans
