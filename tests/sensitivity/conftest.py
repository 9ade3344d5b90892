"""One detector for the whole package: its word lists load once (about a second)."""

from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector


@pytest.fixture(scope="session")
def detector() -> SensitivityDetector:
    d = SensitivityDetector()
    d.warm()
    return d


def found(detector: SensitivityDetector, text: str) -> list[tuple[str, str]]:
    """(covered text, label) of each span."""
    return [(text[s.start : s.end], s.label) for s in detector.detect(text)]
