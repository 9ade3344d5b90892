"""Spans, the ``Detector`` protocol, and how overlapping spans from several detectors are resolved."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable

SensitivityClass = Literal["pii", "financial", "health", "secret"]
CLASSES: tuple[SensitivityClass, ...] = ("pii", "financial", "health", "secret")

# When two spans overlap, the one whose label ranks higher wins, then the longer one. Secrets and
# checksummed numbers are the most certain; names and dates the least.
LABEL_PRIORITY = MappingProxyType(
    {
        "PRIVATE_KEY": 90,
        "API_KEY": 85,
        "PASSWORD": 80,
        "CREDIT_CARD": 75,
        "IBAN": 75,
        "EMAIL": 70,
        "URL_CREDENTIALS": 82,
        "US_SSN": 65,
        "UK_NHS": 65,
        "MRN": 60,
        "ACCOUNT_NUMBER": 60,
        "NATIONAL_ID": 60,
        "IP_ADDRESS": 55,
        "DOB": 55,
        "ADDRESS": 50,
        "PHONE": 45,
        "DATE": 40,
        "AGE": 40,
        "LOCATION": 35,
        "PERSON": 30,
    }
)


@dataclass(frozen=True, slots=True)
class Span:
    """A sensitive stretch ``text[start:end]``: what it is (``label``) and which class it puts a request in."""

    start: int
    end: int
    label: str
    cls: SensitivityClass

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@runtime_checkable
class Detector(Protocol):
    """Finds one family of sensitive data in a text. Implementations must be safe to share across requests."""

    name: str

    def detect(self, text: str) -> list[Span]: ...


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans in text order: higher label priority first, then the longer span.

    The characters kept spans cover are marked in a bytearray, so a span is checked against its own
    stretch only: the work is the total length of the spans (the spans of one pattern do not overlap,
    so a few times the text), not spans times kept spans."""
    ranked = sorted(spans, key=lambda s: (-LABEL_PRIORITY.get(s.label, 0), -s.length, s.start))
    if not ranked:
        return []
    size = max(s.end for s in ranked) + 1
    taken = bytearray(size)  # 1 where a kept span covers the character
    starts = bytearray(size)  # 1 where a kept span starts
    empty: list[int] = []  # positions of kept empty spans (none of the built-in detectors makes one)
    kept: list[Span] = []
    for span in ranked:
        start, end = span.start, span.end
        if end > start:
            if taken.find(1, start, end) != -1:
                continue
            i = bisect_right(empty, start)
            if i < len(empty) and empty[i] < end:
                continue  # a kept empty span strictly inside
            taken[start:end] = b"\x01" * (end - start)
            starts[start] = 1
        elif start > 0 and taken[start - 1] and taken[start] and not starts[start]:
            continue  # an empty span strictly inside a kept one
        else:
            insort(empty, start)
        kept.append(span)
    kept.sort(key=lambda s: s.start)
    return kept


class Coverage:
    """Whether a stretch of text overlaps spans found earlier, in O(log n) per question.

    ``spans`` are fixed when it is made; ``add`` takes spans found later by a left-to-right scan whose
    questions come in text order (each asked about a stretch that starts at or after every added
    span's start), which is how the detectors check a second pattern against the first."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        ordered = sorted((s.start, s.end) for s in spans)
        self._starts = [s for s, _ in ordered]
        self._max_end = list(accumulate((e for _, e in ordered), max))
        self._added_end = -1

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a span (``Span.overlaps``)."""
        i = bisect_left(self._starts, end)
        return (i > 0 and self._max_end[i - 1] > start) or (self._added_end > start and end > start)

    def covers(self, pos: int) -> bool:
        """Whether a span has ``start <= pos < end``."""
        return self.overlaps(pos, pos + 1)

    def add(self, span: Span) -> None:
        self._added_end = max(self._added_end, span.end)


def span_at(text: str, start: int, end: int, label: str, cls: SensitivityClass) -> Span:
    """A span with surrounding whitespace and trailing punctuation trimmed."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    return Span(start, end, label, cls)
