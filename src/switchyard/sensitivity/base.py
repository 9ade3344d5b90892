"""Spans, the ``Detector`` protocol, and how overlapping spans from several detectors are resolved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    """Non-overlapping spans in text order: higher label priority first, then the longer span."""
    ranked = sorted(spans, key=lambda s: (-LABEL_PRIORITY.get(s.label, 0), -s.length, s.start))
    kept: list[Span] = []
    for span in ranked:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    kept.sort(key=lambda s: s.start)
    return kept


def span_at(text: str, start: int, end: int, label: str, cls: SensitivityClass) -> Span:
    """A span with surrounding whitespace and trailing punctuation trimmed."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    return Span(start, end, label, cls)
