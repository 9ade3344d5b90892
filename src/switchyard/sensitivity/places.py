"""Places that point at a person: named care facilities, and towns or countries said of someone.

- Facilities: capitalised words ending in a facility word ("Mercy Hospital", "St. Elsewhere Medical
  Center", "Oak Grove Nursing Home", "Milford Regional"); the words before the facility word are taken
  until a function word or clinical shorthand.
- Towns, regions and countries (Faker's gazetteers) only where a sentence says a person lives, comes
  from, is or travels there ("I'm originally from Bahamas", "pt lives in Quincy"). A place named in a
  sentence about research ("families from Finland") is not personal data and is left alone; after
  such a cue an unknown capitalised name is taken too.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate

from .base import Span
from .lexicon import Lexicon
from .text import is_capitalised, tokens
from .vocabulary import CLINICAL_SHORTHAND, FUNCTION_WORDS, RELATIVES, words

_FACILITY = (
    r"(?:hospital|medical cent(?:er|re)|health cent(?:er|re)|health system|healthcare|clinic|hospice|"
    r"infirmary|rehab(?:ilitation)?(?: cent(?:er|re)| hospital)?|nursing home|nursing facility|"
    r"care home|convalescent home|manor|medical group|surgery centre|sanatorium|regional|general|memorial)"
)
FACILITY = re.compile(r"(?i)\b" + _FACILITY + r"\b")
FACILITY_HINTS = (
    "hospital", "medical", "health", "clinic", "hospice", "infirmary", "rehab", "nursing", "home", "manor",
    "surgery", "sanatorium", "general", "regional", "memorial",
)  # fmt: skip
WORD_BEFORE = re.compile(r"([^\W\d_][\w'\u2019.&-]*)[ \t]+$")
PERSONAL_WORDS = (
    RELATIVES
    | words("mr mrs ms dr miss")
    | words("i i'm i\u2019m me my he she he's she's his her him you your pt patient pt's patient's")
)
LOWER_WORD = re.compile(r"[a-z]+(?:['\u2019][a-z]+)?")
SENTENCE_END = re.compile(r"[.\n]")
# a preposition before a capitalised word; the verb of living or moving is looked for before it
PREPOSITION = re.compile(
    r"(?=[iItTfFaAnNoO])(?i:in|to|from|at|near|of)[ \t]+(?=[A-Z\u00c0-\u00d6\u00d8-\u00de\u0391-\u03a9\u0410-\u042f])"
)
LOCATED_VERBS = words(
    "grew up called calling driving drove coming arrived arriving transferred flown live lives lived living "
    "reside resides resided residing resident born raised moved moving relocated originally travel travels "
    "traveling travelling traveled travelled flew flying fly going went returned returning visiting visited "
    "staying stayed home hometown based located am i'm i\u2019m he's she's come comes came"
)
SAINT = words("st saint ste")
STOP_BEFORE_FACILITY = words(
    "the a an to from at in of for and or with by our his her their this that same outside osh another local "
    "area nearby"
)


class PlaceDetector:
    name = "places"

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def detect(self, text: str) -> list[Span]:
        low = text.lower()
        spans = self._facilities(text) if any(h in low for h in FACILITY_HINTS) else []
        lowered = set(LOWER_WORD.findall(low))
        if not PERSONAL_WORDS.isdisjoint(lowered) and not LOCATED_VERBS.isdisjoint(lowered):
            spans += self._personal_places(text, low)
        return spans

    def _facilities(self, text: str) -> list[Span]:
        spans = []
        for m in FACILITY.finditer(text):
            start = m.start()
            for _ in range(4):
                w = WORD_BEFORE.search(text, max(0, start - 40), start)
                if w is None:
                    break
                word = w.group(1)
                bare_word = word.strip(".,").casefold()
                if bare_word not in SAINT and (
                    bare_word in STOP_BEFORE_FACILITY | CLINICAL_SHORTHAND or not _cap(word)
                ):
                    break
                start = w.start(1)
            if start < m.start() and (_cap(m.group()) or m.group().islower()):
                spans.append(Span(start, m.end(), "LOCATION", "pii"))
        return spans

    def _personal_places(self, text: str, low: str) -> list[Span]:
        spans = []
        places = self.lexicon.places
        personal = _PersonalWords(text, low)
        for m in PREPOSITION.finditer(text):
            if m.start() and text[m.start() - 1].isalnum():
                continue
            before = LOWER_WORD.findall(low, max(0, m.start() - 40), m.start())[-4:]
            if LOCATED_VERBS.isdisjoint(before):
                continue
            if not personal.in_sentence_before(m.start()):
                continue
            toks = tokens(text, m.end(), min(len(text), m.end() + 80))
            if not toks or toks[0].start != m.end():
                continue
            # the longest run of capitalised words that is a known place, else one uncommon word
            end = None
            for j in range(min(len(toks), self.lexicon.place_words) - 1, -1, -1):
                run = text[toks[0].start : toks[j].end]
                if all(_cap(t.word) for t in toks[: j + 1]) and run.casefold() in places:
                    end = toks[j].end
                    break
            first = toks[0].word.casefold()
            if end is None and not self.lexicon.is_common(first) and first not in CLINICAL_SHORTHAND | FUNCTION_WORDS:
                end = toks[0].end
            if end is not None:
                spans.append(Span(m.end(), end, "LOCATION", "pii"))
        return spans


class _PersonalWords:
    """Whether a personal word ("I", "my", "pt", "wife") is in the sentence before a position.

    The words and sentence ends are found once per text; each question is answered by bisection
    (reading the sentence again from its start for every preposition was quadratic in a long one)."""

    def __init__(self, text: str, low: str) -> None:
        self.low = low
        self.sentence_ends = [m.start() for m in SENTENCE_END.finditer(text)]
        words = list(LOWER_WORD.finditer(low))
        self.starts = [w.start() for w in words]
        self.ends = [w.end() for w in words]
        self.personal = [0, *accumulate(w.group() in PERSONAL_WORDS for w in words)]

    def in_sentence_before(self, pos: int) -> bool:
        """A personal word between the last "." or line break before ``pos`` and ``pos``."""
        i = bisect_left(self.sentence_ends, pos)
        sentence_start = self.sentence_ends[i - 1] + 1 if i else 0
        first = bisect_left(self.starts, sentence_start)
        last = bisect_right(self.ends, pos)  # words that end by ``pos``
        if self.personal[last] - self.personal[min(first, last)] > 0:
            return True
        # a word running on past ``pos`` ("she'in") counts as the part of it before ``pos``
        if last < len(self.starts) and sentence_start <= self.starts[last] < pos:
            cut = LOWER_WORD.match(self.low, self.starts[last], pos)
            return cut is not None and cut.group() in PERSONAL_WORDS
        return False


def _cap(word: str) -> bool:
    return is_capitalised(word.strip(".,")) or word.isupper()
