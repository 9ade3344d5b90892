"""Crafted inputs: every family of bench/adversarial.py is scanned in well under its timeout (each was
quadratic in some detector before: 64 KB of one took up to a minute), detection keeps its answers on
the shapes that were rewritten, and text over the scan limit is taken as every class."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

from switchyard.sensitivity import CLASSES, SensitivityDetector, Span, resolve
from switchyard.sensitivity.base import Coverage

from .conftest import found

BENCH = Path(__file__).resolve().parents[2] / "bench" / "adversarial.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("adversarial_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAMILIES = load_bench().FAMILIES


# A liveness bound, not a benchmark: 64 KB of any family takes well under a second now; before, the
# worst took about a minute. The thread method ends the run even inside one long regex call.
@pytest.mark.timeout(15, method="thread")
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_crafted_family_is_scanned(detector: SensitivityDetector, family: str) -> None:
    text = FAMILIES[family](64 * 1024)
    finding = detector.scan([text])
    assert not finding.oversize
    assert all(0 <= s.start <= s.end <= len(text) for s in finding.spans[0])


@pytest.mark.parametrize(
    ("text", "password"),
    [
        ("postgres://admin:s3cret@db.internal/app", "s3cret"),
        ("see git+ssh://me:hunter2@example.com and", "hunter2"),
        ("a+b.c-d://u:p4ss@h", "p4ss"),
        ("x" + "a." * 200 + "://u:longschemepw@h", "longschemepw"),  # a scheme run past 64 chars: flagged
    ],
)
def test_url_credentials(detector: SensitivityDetector, text: str, password: str) -> None:
    assert (password, "URL_CREDENTIALS") in found(detector, text)


@pytest.mark.parametrize(
    "text",
    [
        "\u00e9http://u:pw@h",  # no word start before the scheme (as \b saw it)
        "x_http://u:pw@h",
        "1http://u:pw@h",
        "://u:pw@h",
        "http://u@h",
        "http://u:pw/h@x",
    ],
)
def test_no_url_credentials(detector: SensitivityDetector, text: str) -> None:
    assert all(label != "URL_CREDENTIALS" for _, label in found(detector, text))


def test_many_urls(detector: SensitivityDetector) -> None:
    text = " ".join(f"https://u{i}:pw{i}x@h{i}.example" for i in range(50))
    assert [v for v, label in found(detector, text) if label == "URL_CREDENTIALS"] == [f"pw{i}x" for i in range(50)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("swift" + " " * 5000 + "DEUTDEFF500", "DEUTDEFF500"),
        ("SWIFT code is DEUTDEFF", "DEUTDEFF"),
        ("account" + " " * 5000 + "12345678", "12345678"),
        ("acct no. is # 12345678", "12345678"),
        ("routing number:   021000021", "021000021"),
        ("sort code is 12-34-56", "12-34-56"),
    ],
)
def test_cued_numbers_after_long_gaps(detector: SensitivityDetector, text: str, value: str) -> None:
    assert (value, "ACCOUNT_NUMBER") in found(detector, text)


def test_text_over_the_scan_limit_carries_every_class() -> None:
    detector = SensitivityDetector(max_scan_chars=100)
    finding = detector.scan(["hello " * 10, "x" * 41])
    assert finding.oversize and finding.classes == frozenset(CLASSES)
    assert finding.spans == ((), ())
    assert detector.classify(["a" * 101]) == set(CLASSES)
    within = detector.scan(["hello " * 10, "x" * 40])  # exactly the limit is scanned
    assert not within.oversize and within.classes == frozenset()
    assert not SensitivityDetector(max_scan_chars=None).scan(["x" * 200_000]).oversize


def test_default_scan_limit_is_documented() -> None:
    from switchyard.sensitivity import detector as module

    assert module.MAX_SCAN_CHARS == 1024 * 1024
    assert SensitivityDetector().max_scan_chars == module.MAX_SCAN_CHARS


def naive_resolve(spans: list[Span]) -> list[Span]:
    """The previous resolve: each span checked against every kept span."""
    from switchyard.sensitivity.base import LABEL_PRIORITY

    ranked = sorted(spans, key=lambda s: (-LABEL_PRIORITY.get(s.label, 0), -s.length, s.start))
    kept: list[Span] = []
    for span in ranked:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def random_spans(rng: random.Random, n: int) -> list[Span]:
    labels = ["PERSON", "DATE", "API_KEY", "PHONE", "ADDRESS", "EMAIL"]
    spans = []
    for _ in range(n):
        start = rng.randrange(60)
        end = start + rng.choice([0, 1, 2, 3, 5, 8, 13])
        spans.append(Span(start, end, rng.choice(labels), "pii"))
    return spans


def test_resolve_keeps_the_same_spans_as_pairwise_checks() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        spans = random_spans(rng, rng.randrange(1, 25))
        assert resolve(spans) == naive_resolve(spans)


def test_coverage_answers_as_pairwise_checks() -> None:
    rng = random.Random(11)
    for _ in range(1000):
        fixed = random_spans(rng, rng.randrange(0, 10))
        coverage = Coverage(fixed)
        added: list[Span] = []
        pos = 0
        for _ in range(rng.randrange(1, 15)):
            pos += rng.randrange(0, 6)
            end = pos + rng.randrange(1, 6)
            everything = fixed + added
            assert coverage.overlaps(pos, end) == any(Span(pos, end, "X", "pii").overlaps(s) for s in everything)
            assert coverage.covers(pos) == any(s.start <= pos < s.end for s in everything)
            if rng.random() < 0.4:  # a span found at this point of the scan
                added.append(Span(pos, end, "X", "pii"))
                coverage.add(added[-1])
