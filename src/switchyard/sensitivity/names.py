"""Person names: word lists plus context cues, aware of letter case.

Letter case is judged per run of lines: in mixed-case text only capitalised words can be names; in
upper-case notes and lower-case chat, where case says nothing, every word is looked at. A word is a
name *seed* when it is

- in mixed case, capitalised, on a first- or last-name list, not a common English word and not a
  country or state ("England"); at a sentence start it must also be rare as a word;
- in mixed case, a capitalised word unknown to the English word list ("Szöllösy") that is not shaped
  like a technical term ("Apoptosis", "GTPase", "Brca1") or a British spelling ("Summarise"); or two
  unknown words around a middle initial ("Ravil G. Yefimov");
- in upper/lower case, a first name that is rarely an English word ("JOHN", not "MARK"), or a listed
  surname next to another name ("MARIA SANTOS");
- after a strong cue -- a title ("Dr.", "Mrs") or a relative ("wife", "son") -- a listed name or any
  word that is not common: "Dr. Green", "wife Hope", "Dr. Xiong";
- after a weaker cue -- a role or verb ("attending", "paged", "signed") -- a word that is not common;
  after "by", "from", "per" only a listed name.

Seeds grow over neighbouring words that can belong to a name (names, initials, particles such as
"van der", unknown words), and take a title in front ("Dr. Smith") when the name is the longer part.
A name followed by an eponym noun ("Wilson disease", "Foley catheter", "Prader - Willi syndrome") or
after a gene symbol ("G6PD Santamaria") is dropped. Clinical shorthand ("MAE", "ASA", "TAN"),
function words and amino-acid codes are never names.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from .base import Span
from .lexicon import Lexicon
from .text import CAPITALISED_WORD, WORD, CaseMode, bare, case_segments, is_capitalised, sentence_initial
from .vocabulary import (
    AMINO_ACIDS,
    CLINICAL_SHORTHAND,
    EPONYM_NOUNS,
    FUNCTION_WORDS,
    MONTHS,
    NAME_PARTICLES,
    RELATIVES,
    ROLE_CUES,
    TITLES,
    WEEKDAYS,
    words,
)

NEVER_NAMES = (
    MONTHS
    | WEEKDAYS
    | CLINICAL_SHORTHAND
    | TITLES
    | RELATIVES
    | ROLE_CUES
    | EPONYM_NOUNS
    | FUNCTION_WORDS
    | AMINO_ACIDS
)
CUE_WORDS = TITLES | RELATIVES | ROLE_CUES | frozenset({"is", "name", "by", "from", "per", "with"})
# Cues too common to vouch for an unknown word: after these only a listed name counts ("by Smith").
PREPOSITION_CUES = frozenset({"by", "from", "per", "with"})
# In upper/lower-case text a first name alone is taken when it is rarer than this as an English word
# ("JOHN", "MARY" are; "MARK", "BILL" are not); a surname alone only with another name next to it.
CASELESS_FIRST_NAME_COUNT = 10_000
LOWER_CASE_FIRST_NAME_COUNT = 3_000  # lower-case chat is looser than shouted notes: "valid" is a name too
MAX_NAME_TOKENS = 5
MAX_GAP = 16  # the longest gap between two words of one name: " van der " (PARTICLE_GAP)
# At the start of a sentence capitals prove nothing: a listed word there must also be rare as a word.
SENTENCE_INITIAL_FIRST_NAME_COUNT = 10_000
SENTENCE_INITIAL_COUNT = 1_000

CUE_PUNCTUATION = ".,:;()[]\"'\u201c\u201d-"
NAME_IS = re.compile(r"(?i)\bname(?:\s+is|\s*:)\s*$")
# what follows a name: a possessive, hyphenated partners ("Prader - Willi"), then up to two words
AFTER_NAME = re.compile(
    r"(?:\s?['\u2019]\s?s\b|['\u2019])?((?:\s?-\s?[A-Z][\w\u2019']*)*)(?:\s?\([^)\n]{1,12}\))?[ \t]+([A-Za-z]+)"
    r"(?:[ \t]+([A-Za-z]+))?"
)
# A name's letter case: "Smith", "O'Brien", "Jean-Luc", "McDonald", not "GTPase" or "CpG".
NAME_SHAPE = re.compile(r"(?:Ma?c|O['\u2019]|D['\u2019])?[^\W\d_][^\W\d_A-Z]+(?:[-'\u2019][^\W\d_][^\W\d_A-Z]*)*")
# Endings of English and scientific words, which names unknown to the word list rarely have.
TERM_SUFFIXES = tuple(
    words(
        "tion sion ment ness ity ism ous ive ase ases osis oses emia aemia itis ology ical ence ance ide ides "
        "ing ings zygous cell cells cyte cytes genic genesis some somes pathy trophy opsy scopy graphy ectomy "
        "otomy plasia plasty lysis ular ated ics ogen ogens mab nib"
    )
)
DIGIT = re.compile(r"\d")
GENE_SYMBOL = re.compile(r"[A-Z0-9-]*\d[A-Z0-9-]*[A-Z][A-Z0-9-]*|[A-Z0-9-]*[A-Z][A-Z0-9-]*\d[A-Z0-9-]*")
# At a sentence start, where capitals prove nothing, also the shapes of Latin and Greek terms.
TERM_PREFIXES = tuple(
    words(
        "hetero homo auto pleio hemi hyper hypo poly mono micro macro neuro immuno onco cardio myo osteo "
        "germ apo anti pre post sub trans inter intra non multi mega endo exo cyto histo patho geno chromo"
    )
)
LATINATE_SUFFIXES = tuple(words("al ic ar ia us um ae ine ate ous ant ent oid ome ose ism"))
BRITISH_ENDINGS = (
    ("isation", "ization"), ("ising", "izing"), ("ised", "ized"), ("ise", "ize"), ("yse", "yze"),
    ("ysed", "yzed"), ("our", "or"), ("ours", "ors"), ("tre", "ter"), ("ogue", "og"), ("ence", "ense"),
    ("lled", "led"), ("lling", "ling"),
)  # fmt: skip
TITLE_BEFORE = re.compile(r"(?i)(?<![\w.])(?:dr|mr|mrs|ms|miss|mx|prof|sir|dame|rev)\.? ?$")
NEWLINE = re.compile(r"\n")
PARTICLE_GAP = re.compile(r" (?:" + "|".join(sorted(NAME_PARTICLES)) + r")(?: (?:der|den|la|le|los|las))? ")


class PersonNameDetector:
    name = "names"

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def detect(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for start, end, mode in case_segments(text):
            pattern = CAPITALISED_WORD if mode == "mixed" else WORD
            matches = list(pattern.finditer(text, start, end))
            if matches:
                spans.extend(_Scan(self.lexicon, text, start, end, matches, mode).names())
        return spans


def _after_gene_symbol(text: str, start: int) -> bool:
    if DIGIT.search(text, max(0, start - 12), start) is None:
        return False
    before = text[max(0, start - 12) : start].split()
    return bool(before) and GENE_SYMBOL.fullmatch(before[-1]) is not None


class _Scan:
    """The name finder for a run of lines in one letter case. In mixed case only capitalised words are
    tokens; in upper or lower case every word is."""

    def __init__(
        self, lexicon: Lexicon, text: str, start: int, end: int, matches: list[re.Match[str]], mode: CaseMode
    ) -> None:
        self.lex = lexicon
        self.first_names = lexicon.first_names
        self.last_names = lexicon.last_names
        self.rare_names = lexicon.rare_last_names
        self.regions = lexicon.regions
        self.counts = lexicon.word_counts
        self.text = text
        self.segment_start = start
        # line starts are looked up, not searched for backwards from every word (that was quadratic)
        self.line_starts = [m.end() for m in NEWLINE.finditer(text, start, end)]
        self.mode = mode
        self.starts = [m.start() for m in matches]
        self.ends = [m.end() for m in matches]
        self.raw = [m.group() for m in matches]
        self.words = [bare(w) for w in self.raw]
        self.n = len(matches)

    def _line_start(self, pos: int) -> int:
        """The start of the line holding ``pos`` (within the segment)."""
        i = bisect_left(self.line_starts, pos + 1)
        return self.line_starts[i - 1] if i else self.segment_start

    def names(self) -> list[Span]:
        spans: list[Span] = []
        i, n = 0, self.n
        candidate = self._candidates()
        while i < n:
            if (candidate is not None and not candidate[i]) or not self._seed(i):
                i += 1
                continue
            first, last = self._grow(i)
            if not self._eponym(last):
                end = self.starts[last] + len(self.words[last])
                spans.append(Span(self._with_title(self.starts[first], end), end, "PERSON", "pii"))
            i = last + 1
        return spans

    def _candidates(self) -> list[bool] | None:
        """In caseless text every word is a token: only listed names and words after a cue can seed."""
        if self.mode == "mixed":
            return None
        listed = self.lex.all_names
        folded = [w.casefold() for w in self.words]
        return [
            cf in listed or (k > 0 and (folded[k - 1] in CUE_WORDS or "-" in folded[k - 1] or len(folded[k - 1]) == 1))
            for k, cf in enumerate(folded)
        ]

    # --- word tests -------------------------------------------------------------------------------

    def _shape(self, word: str) -> bool:
        if self.mode == "mixed":
            return is_capitalised(word)
        if self.mode == "upper":
            return word.isupper() or is_capitalised(word)
        return word.islower() or is_capitalised(word)

    def _usable(self, i: int) -> bool:
        word = self.words[i]
        if len(word) < 2:
            return False
        if self.mode == "mixed":
            if not word[0].isupper() or word.isupper():
                return False
        elif not self._shape(word):
            return False
        cf = word.casefold()
        if "-" in cf:  # "DAUGHTER-IN-LAW", "Alpha-1" are not names; "Smith-Jones" may be
            return not any(part in NEVER_NAMES for part in cf.split("-"))
        return cf not in NEVER_NAMES

    def _named(self, cf: str) -> bool:
        return cf in self.first_names or cf in self.last_names

    def _common(self, cf: str) -> bool:
        return self.counts.get(cf, 0) >= self.lex.common_word_count

    def _seed(self, i: int) -> bool:
        if not self._usable(i):
            return False
        word = self.words[i]
        cf = word.casefold()
        if self.mode == "mixed" and _after_gene_symbol(self.text, self.starts[i]):
            return False  # "G6PD Santamaria": a variant named after a place
        named, common = self._named(cf), self._common(cf)
        if named and not common and cf not in self.regions:
            if self.mode == "mixed":
                if not self._sentence_initial_word(i):
                    return True
            elif len(word) >= 3 and (self._rare_first_name(cf) or self._name_neighbour(i)):
                return True
        elif (named or cf in self.rare_names) and not common and len(word) >= 3 and self._name_neighbour(i):
            return True
        if self.mode == "mixed" and not common and (self._initialled(i) or self._foreign(i)):
            return True
        cue = self._cue_before(i)
        if cue == "strong":
            return named or not common
        if cue == "weak":
            return not common and (named or self.mode == "mixed")
        if cue == "preposition":
            return named and not common and cf not in self.regions
        return False

    def _foreign(self, i: int) -> bool:
        """A capitalised word unknown to the English word list ("Szöllösy", "Ahtisaari"): in mixed-case
        text usually a proper name, unless it is built like a technical term ("Apoptosis", "GTPase",
        "Brca1"). Short ones need a capitalised neighbour."""
        word = self.words[i]
        cf = word.casefold()
        if cf in self.counts or not NAME_SHAPE.fullmatch(word) or cf.endswith(TERM_SUFFIXES):
            return False
        start, end = self.starts[i], self.ends[i]
        if (end < len(self.text) and self.text[end].isdigit()) or (start and self.text[start - 1].isdigit()):
            return False
        if len(word) >= 5:
            if not sentence_initial(self.text, start, self._line_start(start)):
                return True
            # at a sentence start it may be any word: not one shaped like a term or a British spelling
            if not (cf.startswith(TERM_PREFIXES) or cf.endswith(LATINATE_SUFFIXES) or self._british(cf)):
                return True
        return any(
            0 <= j < self.n
            and self._adjacent(min(i, j))
            and self._usable(j)
            and len(self.words[j]) > 2
            and not self._common(self.words[j].casefold())
            and not self.words[j].casefold().startswith(TERM_PREFIXES)
            for j in (i - 1, i + 1)
        )

    def _british(self, cf: str) -> bool:
        """A British spelling of a listed word ("summarise", "colour", "centre")."""
        for ending, american in BRITISH_ENDINGS:
            if cf.endswith(ending) and cf[: -len(ending)] + american in self.counts:
                return True
        return False

    def _initialled(self, i: int) -> bool:
        """ "Ravil G. Yefimov": two unknown capitalised words around a middle initial."""
        if i + 2 >= self.n or len(self.words[i + 1]) != 1 or not self.words[i + 1].isupper():
            return False
        if not (self._adjacent(i) and self._adjacent(i + 1) and self._usable(i + 2)):
            return False
        return all(not self._common(self.words[j].casefold()) for j in (i, i + 2))

    def _rare_first_name(self, cf: str) -> bool:
        """In caseless text: a first name that is rarely an English word ("JOHN", "olga", not "valid")."""
        limit = CASELESS_FIRST_NAME_COUNT if self.mode == "upper" else LOWER_CASE_FIRST_NAME_COUNT
        return cf in self.first_names and self.counts.get(cf, 0) < limit

    def _sentence_initial_word(self, i: int) -> bool:
        """A sentence-initial capitalised word that is also a fairly frequent English word ("Stable")."""
        if not sentence_initial(self.text, self.starts[i], self._line_start(self.starts[i])):
            return False
        cf = self.words[i].casefold()
        limit = SENTENCE_INITIAL_FIRST_NAME_COUNT if cf in self.first_names else SENTENCE_INITIAL_COUNT
        return self.counts.get(cf, 0) >= limit

    def _name_neighbour(self, i: int) -> bool:
        """In caseless text: is a directly adjacent word a name that is not a common word?"""
        for j in (i - 1, i + 1):
            if 0 <= j < self.n and self._adjacent(min(i, j)) and self._usable(j):
                cf = self.words[j].casefold()
                if self._named(cf) and not self._common(cf):
                    return True
        return False

    def _cue_before(self, i: int) -> str | None:
        start = self.starts[i]
        window = self.text[max(self._line_start(start), start - 30) : start]
        if not window or window[-1].isalnum():
            return None
        parts = window.split()
        if len(parts) > 1 and len(parts[-1].rstrip(".")) == 1:
            parts.pop()  # an initial: "Signed: M. Rodriguez"
        if not parts:
            return None
        p = bare(parts[-1].strip(CUE_PUNCTUATION)).casefold()
        if p in TITLES or p.split("-")[0] in RELATIVES:
            return "strong"
        if p in ("is", "name") and NAME_IS.search(window):
            return "strong"
        if p in PREPOSITION_CUES:
            return "preposition"
        if p in ROLE_CUES:
            return "weak"
        return None

    def _eponym(self, last: int) -> bool:
        """Followed by an eponym noun: "Wilson disease", "Addison's disease", "Prader - Willi syndrome"."""
        m = AFTER_NAME.match(self.text, self.ends[last])
        if m is None:
            return False
        if m.group(2).casefold() in EPONYM_NOUNS:
            return True
        between = m.group(2)
        return (
            m.group(3) is not None
            and m.group(3).casefold() in EPONYM_NOUNS
            and between.islower()
            and between not in FUNCTION_WORDS
        )

    def _with_title(self, start: int, end: int) -> int:
        """Start the span at a title right before the name ("Dr. Smith") when the name is the longer part."""
        m = TITLE_BEFORE.search(self.text, max(self._line_start(start), start - 6), start)
        if m is not None and end - start >= start - m.start():
            return m.start()
        return start

    # --- growing a seed into a full name ----------------------------------------------------------

    def _adjacent(self, i: int) -> bool:
        """Whether token ``i`` and token ``i + 1`` belong to one name: only a space, an initial's dot or,
        in mixed text, a particle ("van der") between them."""
        if self.starts[i + 1] - self.ends[i] > MAX_GAP:
            return False
        gap = self.text[self.ends[i] : self.starts[i + 1]]
        if gap in (" ", ". ", "."):
            return True
        if self.mode == "mixed":
            return PARTICLE_GAP.fullmatch(gap) is not None
        return gap == "  "

    def _extends(self, j: int) -> bool:
        word = self.words[j]
        if len(word) == 1:  # an initial: "J" in mixed text, "J." anywhere, "a" in lower-case text
            if self.mode == "lower":
                return word.isalpha()
            return word.isupper() and (self.mode == "mixed" or self.text.startswith(".", self.ends[j]))
        cf = word.casefold()
        if cf in NAME_PARTICLES:
            return self.mode != "mixed"
        if not self._usable(j):
            return False
        if self._common(cf):  # "Ivan King": a common word that is a surname, right after a first name
            return (
                self.mode == "mixed"
                and cf in self.last_names
                and j > 0
                and self.words[j - 1].casefold() in self.first_names
                and self._adjacent(j - 1)
            )
        if self._named(cf) or cf in self.rare_names:
            return True
        # a word unknown to the English list: in mixed text a foreign name; in caseless text (clinical
        # shorthand is unknown too) only after the first word of the name, and not too short
        return cf not in self.counts and (self.mode == "mixed" or (j > 0 and len(word) >= 4 and self._seeded_left(j)))

    def _seeded_left(self, j: int) -> bool:
        cf = self.words[j - 1].casefold()
        return cf in self.first_names and self._adjacent(j - 1)

    def _grow(self, i: int) -> tuple[int, int]:
        first = last = i
        while first > 0 and last - first < MAX_NAME_TOKENS - 1 and self._adjacent(first - 1):
            if not self._extends(first - 1) or self.words[first - 1].casefold() in NAME_PARTICLES:
                break
            first -= 1
        while last + 1 < self.n and last - first < MAX_NAME_TOKENS - 1 and self._adjacent(last):
            if not self._extends(last + 1) or self.raw[last] != self.words[last]:
                break
            last += 1
        while last > i and self.words[last].casefold() in NAME_PARTICLES:
            last -= 1  # a trailing particle is not part of the name
        return first, last
