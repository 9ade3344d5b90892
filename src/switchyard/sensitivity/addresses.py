"""Postal addresses: a street line, then the unit, town, region, postcode and country pieces after it.

Street lines: "24 Clarke Avenue" (number, name, street word), "Koskikatu 25" / "Pohlstrasse 9" (a
street word fused into the name, then the number), "Rue de Rivoli 12" / "Via Roma 131" (street word
first), "PO Box 123". A number-name-number line ("6750 Koskikatu 25") counts only when address pieces
follow it. After the street the span grows over comma- or line-separated pieces that look like address
parts (capitalised words, unit numbers, postcodes, state codes) and stops at the first that does not.
UK postcodes count on their own; other postcodes after "ZIP"/"postcode".
"""

from __future__ import annotations

import re

from .base import Coverage, Span
from .text import is_capitalised
from .vocabulary import words

_WORD = r"[^\W\d_][\w'\u2019.-]*"
_STREET_EN = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|"
    r"circle|cir|parkway|pkwy|highway|hwy|square|sq|crescent|cres|close|trail|trl|alley|row|plaza|walk|"
    r"gardens|grove|mews|park|pike|ridge|loop|expressway|freeway|turnpike|route|rte|wharf|quay)\.?"
)
FUSED_SUFFIXES = tuple(
    [
        "strasse",
        "straße",
        "str.",
        "gasse",
        "weg",
        "allee",
        "platz",
        "ring",
        "damm",
        "ufer",
        "katu",
        "tie",
        "kuja",
        "gade",
        "vej",
        "veien",
        "vegen",
        "gata",
        "gatan",
        "vägen",
        "väg",
        "laan",
        "straat",
        "plein",
        "gracht",
        "kade",
        "dreef",
        "singel",
        "utca",
        "ulica",
        "ulice",
        "iela",
        "gatvė",
        "cesta",
        "brücke",
    ]
)
_PREFIX = (
    r"(?:rue|avenue|av\.|boulevard|bd|chemin|place|allée|impasse|quai|via|viale|piazza|corso|largo|vicolo|"
    r"calle|avenida|avda\.?|paseo|plaza|carrera|rua|travessa|praça|ulica|ul\.|rruga|odos|leoforos)"
)
STREET_EN = re.compile(
    r"(?i)(?=\d)(?<![\w-])\d{1,6}[a-z]?(?:[-/]\d{1,4})?,?\s+(?:" + _WORD + r"\s+){1,4}?" + _STREET_EN + r"(?![\w-])"
)
HOUSE_NUMBER = re.compile(r"\d{1,5}[a-zA-Z]?(?![\w-])")
PREFIXED = re.compile(r"(?i)(?<![\w-])" + _PREFIX + r"\s+(?:" + _WORD + r"\s+){1,4}?\d{1,5}[a-z]?\b")
PREFIX_HINTS = tuple(
    f" {w}"
    for w in words(
        "rue avenue av. bd boulevard chemin place allée impasse quai via viale piazza corso largo vicolo calle "
        "avenida avda paseo plaza carrera rua travessa praça ulica ul. rruga odos leoforos"
    )
)
# "on Commonwealth Ave", "AT ELM STREET": a street named without a number, after a preposition
NAMED_STREET = re.compile(
    r"(?i)(?=[oainOAIN])(?<![\w-])(?:on|at|in|off|near|to)\s+((?:[^\W\d_][\w'.-]*\s+){1,3}?"
    + _STREET_EN
    + r")(?![\w-])"
)
PO_BOX = re.compile(r"(?i)\b(?:p\.?\s?o\.?\s+box|post\s+office\s+box)\s+\d{1,6}")
LEFT_WORD = re.compile(r"(?:(?<=\s)|^)([^\W\d_][\w'\u2019.-]*|\d{1,6}[a-zA-Z]?),?\s+$")
DIGIT = re.compile(r"\d")
ASCII_WORD = re.compile(r"[a-z]+")
STREET_WORDS = words(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct place pl way terrace ter circle cir "
    "parkway pkwy highway hwy square sq crescent cres close trail trl alley row plaza walk gardens grove mews "
    "park pike ridge loop expressway freeway turnpike route rte wharf quay"
)
# "6750 Koskikatu 25", "92 Eusebio Dávila 57": plausible, but only with address pieces after it.
NUMBERED_NAME = re.compile(r"(?=\d)(?<![\w.,:/-])\d{1,5}\s+(?:" + _WORD + r"\s+){1,3}?\d{1,5}[a-zA-Z]?(?![\w.,/:-])")
UK_POSTCODE = re.compile(r"(?=[A-Z])\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[ABD-HJLNP-UW-Z]{2}\b")
ZIP_CUED = re.compile(
    r"(?i)\b(?:zip|zip code|postcode|post code|postal code|plz)\W{0,3}(?:is\W{1,3})?(\d{3,5}(?:[- ]\d{2,4})?)\b"
)

PIECE_SEPARATOR = re.compile(r"(?:[ \t]*[,\n][ \t>*•?-]*)+|[ \t]+")
UNIT = re.compile(
    r"(?i)^(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building|box|#)\.?\s*#?\s*[\w-]{1,6}$"
)
POSTCODE = re.compile(r"^(?:\d{3,6}(?:[- ]\d{2,4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)$")
PARTICLES = words("de du des la le les da do dos das del der den van von am an im upon sur of the y e")
# Words that end an address in upper-case text, where capitals prove nothing ("... MA 02169 WITH WIFE").
PROSE = words("with and to in at for is was are on by from who that this his her he she we my our pt but or not no")
PIECE_WORD = re.compile(r"(?i)(?:apt|suite|unit|ste|flat|room|bldg)\.?\s*#?\s*[\w-]+|\S+")
FILLER = re.compile(r"[ .;]*")
MAX_PIECES = 6
MAX_PIECE_CHARS = 48


def _piece_ok(piece: str) -> bool:
    """Whether ``piece`` can be part of an address: a unit, a postcode, or capitalised place words."""
    if not piece or len(piece) > MAX_PIECE_CHARS:
        return False
    if UNIT.match(piece) or POSTCODE.match(piece):
        return True
    words = piece.replace(",", " ").split()
    letters = [w for w in words if not w.replace("-", "").isdigit()]
    if not letters or len(words) - len(letters) > 2:
        return False
    for w in letters:
        core = w.strip("().'\u2019")
        if not core:
            return False
        if core.casefold() in PROSE:
            return False
        if core.casefold() in PARTICLES or core == "nan":
            continue
        if not (is_capitalised(core) or core.isupper()):
            return False
    return True


def _grow(text: str, end: int) -> tuple[int, int]:
    """Extend an address ending at ``end`` over the pieces that follow; returns (end, pieces taken)."""
    taken = 0
    while taken < MAX_PIECES:
        sep = PIECE_SEPARATOR.match(text, end)
        if sep is None or sep.end() >= len(text):
            break
        start = sep.end()
        # a piece is looked for up to the next comma or line end, and never beyond MAX_PIECE_CHARS + 1
        # (searching to the end of the text from every street was quadratic)
        limit = min(len(text), start + MAX_PIECE_CHARS + 1)
        stop = min((i for i in (text.find(",", start, limit), text.find("\n", start, limit)) if i != -1), default=limit)
        piece_end = _longest_piece(text, start, stop)
        if piece_end is None:
            break
        end = piece_end
        taken += 1
        filler = FILLER.match(text, piece_end)  # spaces, dots, semicolons: always matches
        rest = filler.end() if filler else piece_end
        if rest < len(text) and text[rest] not in ",\n":
            break  # the line went on with something else
    return end, taken


def _longest_piece(text: str, start: int, stop: int) -> int | None:
    """The end of the longest run of words from ``start`` that makes an address piece."""
    ends = [m.end() for m in PIECE_WORD.finditer(text, start, stop)]
    for end in reversed(ends):
        if _piece_ok(text[start:end].rstrip(".")):
            return end
    return None


class AddressDetector:
    name = "addresses"

    def detect(self, text: str) -> list[Span]:
        spans: list[Span] = []
        if not DIGIT.search(text):
            return spans
        for start, end in self._streets(text):
            end, _ = _grow(text, end)
            spans.append(Span(start, end, "ADDRESS", "pii"))
        streets = Coverage(spans)
        for m in NUMBERED_NAME.finditer(text):
            if streets.covers(m.start()):
                continue
            words = m.group().split()[1:-1]
            if not all(is_capitalised(w) or w.isupper() or w.casefold() in PARTICLES for w in words):
                continue
            end, taken = _grow(text, m.end())
            if taken and any(c.isalpha() for c in text[m.end() : end]) and not set(words) <= PARTICLES:
                spans.append(Span(m.start(), end, "ADDRESS", "pii"))
                streets.add(spans[-1])
        spans += [Span(m.start(), m.end(), "ADDRESS", "pii") for m in UK_POSTCODE.finditer(text)]
        low = text.lower()
        if "zip" in low or "post" in low or "plz" in low:
            spans += [Span(m.start(1), m.end(1), "ADDRESS", "pii") for m in ZIP_CUED.finditer(text)]
        return spans

    def _streets(self, text: str) -> list[tuple[int, int]]:
        low = " " + text.lower().replace("\n", " ")
        named_street = not STREET_WORDS.isdisjoint(ASCII_WORD.findall(low))
        found = [m.span() for m in STREET_EN.finditer(text)] if named_street else []
        for m in HOUSE_NUMBER.finditer(text):  # "Pohlstrasse 9": a street word fused into the name
            s = m.start()
            if s < 2 or text[s - 1] not in " \t" or text[s - 2].isspace() or text[s - 2].isdigit():
                continue
            before = text[max(0, s - 30) : s].rstrip(" \t")
            if before.lower().endswith(FUSED_SUFFIXES):
                word_end = max(0, s - 30) + len(before.rstrip("."))
                found.append((_left_edge(text, word_end), m.end()))
        if any(h in low for h in PREFIX_HINTS):
            found += [(_left_edge(text, m.start(), words=0), m.end()) for m in PREFIXED.finditer(text)]
        for m in NAMED_STREET.finditer(text) if named_street else ():
            names = m.group(1).split()[:-1]
            if all(is_capitalised(w) or w.isupper() for w in names) and not set(map(str.casefold, names)) & PROSE:
                found.append(m.span(1))
        if "box" in low:
            found += [m.span() for m in PO_BOX.finditer(text)]
        return found


def _left_edge(text: str, start: int, words: int = 3) -> int:
    """Move ``start`` back to its word's start, then over up to ``words`` capitalised words or
    particles and a house number before it ("07 Sterre der Zeestraat 197")."""
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] in "'\u2019-"):
        start -= 1
    for _ in range(words + 1):
        m = LEFT_WORD.search(text, max(0, start - 40), start)
        if m is None or "\n" in m.group():
            break
        word = m.group(1)
        if word[0].isdigit():
            return m.start(1)
        if not (is_capitalised(word) or word.isupper() or word.casefold() in PARTICLES) or words == 0:
            break
        start = m.start(1)
        words -= 1
    return start
