"""Financial data: payment cards (Luhn), IBANs (mod-97 and the country's length), bank account,
routing (ABA checksum) and sort-code numbers after their cue words, SWIFT/BIC codes after theirs.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from .base import Span

CARD = re.compile(r"\d(?<![\w-]\d)(?:[ -]?\d){12,18}(?![\d-])")
# Issuer prefixes: Visa 4, Mastercard 2/5, Amex 34/37, Discover/UnionPay/Maestro 6, JCB 35 and 1800/2131,
# Diners 30/36/38.
CARD_PREFIX = re.compile(r"^(?:4|5[0-9]|2[2-7]|3[0-9]|6|1800|2131)")
IBAN = re.compile(r"(?=[A-Z])(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])")
# What may stand between a cue and its number: spaces, then "is" and/or ":" or "#". Written so that
# no two runs of spaces meet (``\s*(?:is\s+)?[:#]?\s*`` tried every split of one run: quadratic).
_LINK = r"\s*(?:is\s+(?:[:#]\s*)?|[:#]\s*)?"
ACCOUNT = re.compile(
    r"(?i)\b(?:account|acct|a/c|acc)\.?(?:\s+(?:number|no\.?|num|#))?" + _LINK + r"(\d[\d -]{4,22}\d)(?![\d-])"
)
ROUTING = re.compile(r"(?i)\b(?:routing|aba|rtn|transit)(?:\s+(?:number|no\.?|#))?" + _LINK + r"(\d{9})\b")
SORT_CODE = re.compile(r"(?i)\bsort\s?code" + _LINK + r"(\d{2}[- ]?\d{2}[- ]?\d{2})\b")
SWIFT = re.compile(r"(?i)\b(?:swift|bic)(?:\s+code)?" + _LINK + r"((?-i:[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?))\b")

DIGIT = re.compile(r"\d")
ACCOUNT_HINTS = ("acc", "a/c")
ROUTING_HINTS = ("routing", "aba", "rtn", "transit")

# IBAN lengths by country (ISO 13616 registry).
IBAN_LENGTHS = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
        "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
        "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
        "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
        "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
        "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
        "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
        "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    }
)  # fmt: skip


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return bool(digits) and total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Country length and the ISO 7064 mod-97 check."""
    compact = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def aba_valid(number: str) -> bool:
    d = [int(c) for c in number]
    return len(d) == 9 and (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


class FinancialDetector:
    """Payment cards, IBANs, and account, routing, sort-code and SWIFT numbers after their cues."""

    name = "financial"

    def detect(self, text: str) -> list[Span]:
        spans: list[Span] = []
        low = text.lower()
        if "swift" in low or "bic" in low:
            spans += [Span(m.start(1), m.end(1), "ACCOUNT_NUMBER", "financial") for m in SWIFT.finditer(text)]
        if not DIGIT.search(text):
            return spans
        spans += cards(text) + ibans(text)
        if any(h in low for h in ACCOUNT_HINTS):
            spans += [Span(m.start(1), m.end(1), "ACCOUNT_NUMBER", "financial") for m in ACCOUNT.finditer(text)]
        if any(h in low for h in ROUTING_HINTS):
            for m in ROUTING.finditer(text):
                if aba_valid(m.group(1)):
                    spans.append(Span(m.start(1), m.end(1), "ACCOUNT_NUMBER", "financial"))
        if "sort" in low:
            spans += [Span(m.start(1), m.end(1), "ACCOUNT_NUMBER", "financial") for m in SORT_CODE.finditer(text)]
        return spans


def cards(text: str) -> list[Span]:
    spans = []
    for m in CARD.finditer(text):
        raw = m.group().rstrip(" -")
        digits = raw.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn_valid(digits):
            spans.append(Span(m.start(), m.start() + len(raw), "CREDIT_CARD", "financial"))
    return spans


def ibans(text: str) -> list[Span]:
    spans = []
    for m in IBAN.finditer(text):
        candidate = m.group(1)
        # The greedy match may have swallowed a following word: retry shorter prefixes.
        for end in range(len(candidate), 14, -1):
            if candidate[end - 1] != " " and iban_valid(candidate[:end]):
                spans.append(Span(m.start(1), m.start(1) + end, "IBAN", "financial"))
                break
    return spans
