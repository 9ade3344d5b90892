"""National and medical identifiers: US SSN, UK NHS number (mod-11 check), UK National Insurance number,
medical record numbers, dates of birth, and cue-led ids (driver's licence, passport, tax id).
"""

from __future__ import annotations

import re

from .base import Span
from .dates import DATE_PATTERN

SSN = re.compile(r"(?=\d)(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])")
SSN_CUED = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?| #)?|ss#)\W{0,4}(?:is\s+)?((?!000|666|9\d\d)\d{3}[- .]?\d{2}[- .]?\d{4})\b"
)
NHS = re.compile(r"(?=\d)(?<![\w-])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w-])")
NHS_CUE = re.compile(r"(?i)\bnhs\b")
NINO = re.compile(
    r"(?=[A-Z])\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
)

MRN = re.compile(
    r"(?i)\b(?:mrn|mr\s?#|mr\s?no\.?|medical record(?:\s+(?:number|no\.?|#))?|unit\s+(?:no\.?|number)|"
    r"hospital\s+(?:no\.?|number)|patient\s+id|pt\s+id|chart\s+(?:no\.?|number|#))\W{0,4}(?:is\s+)?"
    r"((?-i:[A-Z]{0,3})-?\d[\d-]{3,14}(?-i:[A-Z])?)\b"
)
DOB = re.compile(
    r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth\s?date|born(?: on)?|birthday(?: is)?)\W{0,4}(?:is\s+)?("
    + DATE_PATTERN
    + r"|(?:[12]\d|3[01]|0?[1-9])[./-](?:[12]\d|3[01]|0?[1-9])[./-]\d{2,4})"
)
NATIONAL_ID = re.compile(
    r"(?i)(?=[dlpnitembs])\b(?:driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e\s+(?:number|no\.?|#)|dl\s?#|"
    r"passport|national\s+id|id\s+(?:number|no\.?|#)|identity\s+card|tax\s+id|tin|itin|ein|"
    r"national\s+insurance|ni\s+number|personnummer|bsn|insurance\s+(?:number|no\.?|id)|member\s+id|"
    r"medicare|medicaid|policy\s+(?:number|no\.?))"
    r"(?:\s+(?:number|no\.?|num|#|id))?\W{0,4}(?:is\s+|was\s+)?((?-i:[A-Z]{0,3})[- ]?\d(?-i:[\dA-Z-]){3,19})\b"
)


DIGIT = re.compile(r"\d")
MRN_HINTS = ("mr", "medical record", "unit", "hospital", "patient id", "pt id", "chart")
DOB_HINTS = ("dob", "d.o.b", "birth", "born")
ID_HINTS = (
    "licen",
    "dl",
    "passport",
    "id",
    "identity",
    "tin",
    "ein",
    "insurance",
    "ni number",
    "personnummer",
    "bsn",
    "medicare",
    "medicaid",
    "policy",
)


def nhs_valid(digits: str) -> bool:
    """The NHS number check: weights 10..2 on the first nine digits, 11 - (sum mod 11) is the tenth."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


class IdentifierDetector:
    """US SSNs, UK NHS and National Insurance numbers, MRNs, dates of birth and cue-led national ids."""

    name = "identifiers"

    def detect(self, text: str) -> list[Span]:
        if not DIGIT.search(text):
            return []
        spans = [Span(m.start(), m.end(), "US_SSN", "pii") for m in SSN.finditer(text)]
        spans += nhs_numbers(text)
        spans += [Span(m.start(), m.end(), "NATIONAL_ID", "pii") for m in NINO.finditer(text)]
        low = text.lower()
        if "ss" in low or "social" in low:
            spans += [Span(m.start(1), m.end(1), "US_SSN", "pii") for m in SSN_CUED.finditer(text)]
        if any(h in low for h in MRN_HINTS):
            spans += [Span(m.start(1), m.end(1), "MRN", "health") for m in MRN.finditer(text)]
        if any(h in low for h in DOB_HINTS):
            spans += [Span(m.start(1), m.end(1), "DOB", "pii") for m in DOB.finditer(text)]
        if any(h in low for h in ID_HINTS):
            spans += [Span(m.start(1), m.end(1), "NATIONAL_ID", "pii") for m in NATIONAL_ID.finditer(text)]
        return spans


def nhs_numbers(text: str) -> list[Span]:
    """Ten digits passing the mod-11 check, grouped 3-3-4 or next to the word "NHS"."""
    spans = []
    for m in NHS.finditer(text):
        if not nhs_valid(m.group(1) + m.group(3) + m.group(4)):
            continue
        if m.group(2) or NHS_CUE.search(text, max(0, m.start() - 30), m.start()):
            spans.append(Span(m.start(), m.end(), "UK_NHS", "pii"))
    return spans
