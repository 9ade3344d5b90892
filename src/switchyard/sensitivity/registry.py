"""The detector registry: built-in detectors are registered exactly like added ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from .addresses import AddressDetector
from .base import Detector
from .contact import ContactDetector
from .dates import DateDetector
from .financial import FinancialDetector
from .identifiers import IdentifierDetector
from .lexicon import Lexicon
from .names import PersonNameDetector
from .places import PlaceDetector
from .secrets import SecretDetector

DetectorFactory = Callable[[Lexicon], Detector]

BUILTIN_DETECTORS: Mapping[str, DetectorFactory] = MappingProxyType(
    {
        "secrets": lambda _: SecretDetector(),
        "financial": lambda _: FinancialDetector(),
        "contact": lambda _: ContactDetector(),
        "identifiers": lambda _: IdentifierDetector(),
        "dates": lambda _: DateDetector(),
        "addresses": lambda _: AddressDetector(),
        "places": PlaceDetector,
        "names": PersonNameDetector,
    }
)


class DetectorRegistry:
    """Named detector factories. Start from the built-ins, add or replace some, build the detectors."""

    def __init__(self, factories: Mapping[str, DetectorFactory] = BUILTIN_DETECTORS) -> None:
        self._factories = dict(factories)

    def register(self, name: str, factory: DetectorFactory) -> None:
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def build(self, names: Iterable[str] | None = None, *, lexicon: Lexicon | None = None) -> list[Detector]:
        """The detectors named (all, by default), sharing one lazily loaded ``Lexicon``."""
        lexicon = lexicon or Lexicon()
        chosen = self.names() if names is None else tuple(names)
        unknown = [n for n in chosen if n not in self._factories]
        if unknown:
            raise KeyError(f"unknown detector(s) {unknown}; known: {sorted(self._factories)}")
        return [self._factories[n](lexicon) for n in chosen]


def default_detectors(lexicon: Lexicon | None = None) -> list[Detector]:
    """Every built-in detector."""
    return DetectorRegistry().build(lexicon=lexicon)
