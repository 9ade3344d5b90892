"""Word lists from installed PyPI packages, loaded once, on first use.

- first and last names: Faker's person providers for every locale (~31k first, ~29k last names) and the
  US Census 1990 name lists shipped by ``names`` (88k surnames);
- common English words: pyspellchecker's English frequency list. A name that is also a frequent word
  ("Will", "Hope", "Young") is *ambiguous* and needs a context cue before it is taken for a name;
- places: Faker's country, state, county and real city lists.

Nothing is downloaded: a package that is not installed simply contributes nothing.
"""

from __future__ import annotations

import gzip
import importlib
import json
import logging
from collections.abc import Iterable, Iterator
from functools import cached_property
from importlib import resources

log = logging.getLogger(__name__)

# A word seen at least this often in pyspellchecker's English counts (~1.6e9 tokens, so ~12 per
# million) is "common": "hope", "will", "mark" and "young" are, "john", "smith" and "garcia" are not.
COMMON_WORD_COUNT = 20_000
COMMON_SURNAMES = 10_000

_PERSON_FIELDS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
_PLACE_FIELDS = ("countries", "states", "counties", "cities", "city_names", "real_city_names", "towns", "provinces")


def _faker_values(kind: str, fields: Iterable[str]) -> Iterator[str]:
    """Strings from the named list attributes of ``faker.providers.<kind>.<locale>.Provider``."""
    try:
        from faker.config import AVAILABLE_LOCALES
    except ImportError:  # pragma: no cover - faker is a dependency
        return
    for locale in AVAILABLE_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.{kind}.{locale}").Provider
        except (ImportError, AttributeError):
            continue
        for field in fields:
            values = getattr(provider, field, ())
            if isinstance(values, list | tuple | dict):
                yield from (v for v in values if isinstance(v, str))


def _census(filename: str, ranks: range = range(1, 10**6)) -> Iterator[str]:
    """Names from a US Census list whose rank is in ``ranks``."""
    try:
        text = resources.files("names").joinpath(filename).read_text(encoding="ascii")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - names is a dependency
        return
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and int(fields[3]) in ranks:
            yield fields[0]


def _tokens(values: Iterable[str]) -> frozenset[str]:
    """Single-word entries, casefolded (multi-word entries would make every particle a name)."""
    return frozenset(v.casefold() for v in values if len(v) > 1 and " " not in v and v.replace("-", "").isalpha())


class Lexicon:
    """The word lists detectors share. Each list loads on first access; ``warm()`` loads them all."""

    def __init__(self, common_word_count: int = COMMON_WORD_COUNT) -> None:
        self.common_word_count = common_word_count

    @cached_property
    def first_names(self) -> frozenset[str]:
        census = [*_census("dist.male.first"), *_census("dist.female.first")]
        return _tokens([*_faker_values("person", _PERSON_FIELDS), *census])

    @cached_property
    def last_names(self) -> frozenset[str]:
        """Faker's surnames and the 10,000 commonest US ones (71% of people)."""
        return _tokens(
            [*_faker_values("person", ("last_names",)), *_census("dist.all.last", range(1, COMMON_SURNAMES + 1))]
        )

    @cached_property
    def rare_last_names(self) -> frozenset[str]:
        """The other 79,000 US Census surnames: real, but so many that they include "Exon" and "Rho"."""
        return _tokens(_census("dist.all.last", range(COMMON_SURNAMES + 1, 10**6))) - self.last_names

    @cached_property
    def all_names(self) -> frozenset[str]:
        """Every listed first name and surname, rare ones included."""
        return self.first_names | self.last_names | self.rare_last_names

    @cached_property
    def word_counts(self) -> dict[str, int]:
        try:
            raw = resources.files("spellchecker").joinpath("resources", "en.json.gz").read_bytes()
        except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - pyspellchecker is a dependency
            log.warning("pyspellchecker is not installed: every name is treated as unambiguous")
            return {}
        counts: dict[str, int] = json.loads(gzip.decompress(raw))
        return counts

    @cached_property
    def places(self) -> frozenset[str]:
        """Casefolded place names, multi-word ones included ("new south wales")."""
        return frozenset(p.casefold() for p in _faker_values("address", _PLACE_FIELDS) if len(p) > 2)

    @cached_property
    def regions(self) -> frozenset[str]:
        """Countries, states and counties: places that are also surnames ("England", "Georgia")."""
        return frozenset(p.casefold() for p in _faker_values("address", ("countries", "states", "counties")))

    @cached_property
    def place_words(self) -> int:
        """The longest place name, in words."""
        return max((p.count(" ") + 1 for p in self.places), default=1)

    def is_name(self, word: str) -> bool:
        w = word.casefold()
        return w in self.first_names or w in self.last_names

    def is_first_name(self, word: str) -> bool:
        return word.casefold() in self.first_names

    def is_common(self, word: str) -> bool:
        return self.word_counts.get(word.casefold(), 0) >= self.common_word_count

    def is_word(self, word: str) -> bool:
        """Known to the English word list at all (rare words included)."""
        return word.casefold() in self.word_counts

    def warm(self) -> None:
        """Load every list now, off the request path."""
        _ = (
            self.first_names,
            self.last_names,
            self.rare_last_names,
            self.word_counts,
            self.regions,
            self.place_words,
            self.all_names,
        )
