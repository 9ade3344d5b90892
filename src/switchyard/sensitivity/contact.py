"""Contact details: email addresses, phone numbers and IP addresses."""

from __future__ import annotations

import ipaddress
import re

from .base import Coverage, Span
from .vocabulary import words

EMAIL = re.compile(
    r"(?=[A-Za-z0-9])(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}\b"
)

# Shapes that are phone numbers on their own: international (+44 / 0044), North American with area
# code, and trunk-prefixed national numbers in groups ("0489 25 37 29", "(08) 8747 6301").
_EXT = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
PHONE = re.compile(
    r"(?=[+(\d])(?<![\w+/.-])(?:"
    r"(?:\+|00)[1-9]\d{0,2}[\s.-]?(?:\(0?\d{1,4}\)[\s.-]?)?\d{1,5}(?:[\s.-]?\d{2,5}){1,4}"
    r"|(?:1[\s.-]?)?\(\d{3}\)[\s.-]?\d{3}[\s.-]?\d{4}"
    r"|(?:1[\s.-])?\d{3}([.-])\d{3}\1\d{4}"
    r"|\(0\d{1,4}\)[\s.-]?\d{2,5}(?:[\s.-]?\d{2,5}){0,3}"
    r"|0\d{1,4}(?:[ .-]\d{2,5}){2,4}"
    r")" + _EXT + r"(?![\w/-]|\.\d)"
)
# Digit groups that are a phone number only near a cue word ("call 555-1234", "78 651 450 office").
PHONE_GROUPS = re.compile(r"(?=\d)(?<![\w+/.,-])\d{2,5}(?:[ .-]\d{2,6}){1,4}" + _EXT + r"(?![\w/-]|[.,]\d)")
PHONE_CUES = words(
    "phone tel telephone mobile mob cell cellphone fax call calling called ring text sms whatsapp contact "
    "reach number no nr answering office desk home work pager beeper page ph ext extension #"
)
LINKS = words("at on is")
PRONOUNS = words("me her him them us")
CUE_WORD = re.compile(r"[a-z]+|#")
PHONE_CUE_AFTER = re.compile(r"(?i)[\s(-]{0,3}(?:office|fax|mobile|cell|home|work|desk|direct|phone)\b")
DIGIT = re.compile(r"\d")
DATE_LIKE = re.compile(r"^\d{1,4}[-./ ]\d{1,2}[-./ ]\d{1,4}$")

IPV4 = re.compile(
    r"(?=\d)(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.]|\.\d)"
)
IPV6 = re.compile(r"(?=[0-9A-Fa-f:])(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


class ContactDetector:
    """Email addresses, phone numbers, IPv4 and IPv6 addresses."""

    name = "contact"

    def detect(self, text: str) -> list[Span]:
        spans = emails(text) if "@" in text else []
        if DIGIT.search(text):
            spans += phones(text)
            if "." in text:
                spans += ipv4(text)
        if text.count(":") >= 2:
            spans += ipv6(text)
        return spans


def emails(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), "EMAIL", "pii") for m in EMAIL.finditer(text)]


def _main_digits(s: str) -> int:
    """Digits before an extension."""
    main = re.split(r"(?i)x|ext", s, maxsplit=1)[0]
    return sum(c.isdigit() for c in main)


def phones(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in PHONE.finditer(text):
        if 7 <= _main_digits(m.group()) <= 15 and not DATE_LIKE.match(m.group()):
            spans.append(Span(m.start(), m.end(), "PHONE", "pii"))
    found = Coverage(spans)
    for m in PHONE_GROUPS.finditer(text):
        s, e = m.span()
        if found.overlaps(s, e) or DATE_LIKE.match(m.group()):
            continue
        if 7 <= _main_digits(m.group()) <= 13 and (_cue_before(text, s) or PHONE_CUE_AFTER.match(text, e)):
            spans.append(Span(s, e, "PHONE", "pii"))
            found.add(spans[-1])
    return spans


def _cue_before(text: str, start: int) -> bool:
    """A phone cue just before ``start``: "call 555-1234", "tel: ...", "reach me at ...", "office # ..."."""
    words = CUE_WORD.findall(text[max(0, start - 30) : start].lower())[-2:]
    if not words:
        return False
    if words[-1] in PHONE_CUES:
        return True
    return words[-1] in LINKS and len(words) > 1 and (words[-2] in PHONE_CUES or words[-2] in PRONOUNS)


def ipv4(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), "IP_ADDRESS", "pii") for m in IPV4.finditer(text)]


def ipv6(text: str) -> list[Span]:
    spans = []
    for m in IPV6.finditer(text):
        candidate = m.group()
        if sum(1 for part in candidate.split(":") if part) < 3:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        spans.append(Span(m.start(), m.end(), "IP_ADDRESS", "pii"))
    return spans
