"""exact, normalized, contains, regex - including the formatting models add around an answer."""

from __future__ import annotations

import pytest

from switchyard.evals import ScorerError, default_registry, normalize_text

from ..helpers import grade, make_item


def test_normalize_text_folds_case_unicode_punctuation_and_whitespace() -> None:
    assert normalize_text("  **Paris**.\n") == "paris"
    assert normalize_text("\uff30\uff21\uff32\uff29\uff33") == "paris"  # full-width letters
    assert normalize_text("New\u00a0York\u2003City") == "new york city"  # no-break and em spaces
    assert normalize_text("Pa\u200bris") == "paris"  # zero-width space
    assert normalize_text("Straße") == normalize_text("STRASSE")  # case folding, not lower()
    assert normalize_text("The Eiffel Tower", articles=True) == "eiffel tower"
    assert normalize_text("U.S.A.") == "usa"


async def test_exact() -> None:
    assert (await grade("exact", "Paris", "Paris\n")).passed  # surrounding whitespace ignored by default
    assert not (await grade("exact", "Paris", "paris")).passed
    assert not (await grade({"name": "exact", "strip": False}, "Paris", "Paris\n")).passed
    assert (await grade("exact", ["Paris", "Paris, France"], "Paris, France")).passed
    assert (await grade("exact", 42, "42")).passed
    failed = await grade("exact", "Paris", "London")
    assert (failed.value, failed.passed, failed.detail) == (0.0, False, "expected 'Paris'")


@pytest.mark.parametrize(
    "answer",
    [
        "paris",
        "PARIS.",
        "**Paris**",
        "  Paris!\n",
        "\uff30\uff41\uff52\uff49\uff53",
        "Pa\u200bris",
        '"Paris"',
        "Paris\u3002",
    ],
)
async def test_normalized_accepts_formatting(answer: str) -> None:
    assert (await grade("normalized", "Paris", answer)).passed


async def test_normalized_is_still_a_whole_answer_match() -> None:
    assert not (await grade("normalized", "Paris", "It is Paris.")).passed
    assert (await grade({"name": "normalized", "articles": True}, "Eiffel Tower", "The Eiffel tower.")).passed


async def test_contains_matches_whole_words_after_normalizing() -> None:
    assert (await grade("contains", "Paris", "The capital is **PARIS**.")).passed
    assert not (await grade("contains", "Paris", "a Parisian café")).passed
    assert (await grade("contains", "New York", "in new\u00a0york, mostly")).passed
    assert (await grade("contains", ["Rome", "Paris"], "Paris.")).passed
    both = {"name": "contains", "require": "all"}
    assert not (await grade(both, ["Rome", "Paris"], "Paris.")).passed
    assert (await grade(both, ["Rome", "Paris"], "Paris and Rome.")).passed
    raw = {"name": "contains", "normalize": False}
    assert (await grade(raw, "Paris", "Parisian")).passed
    assert not (await grade(raw, "Paris", "PARIS")).passed


async def test_regex_from_args_or_reference() -> None:
    assert (await grade({"name": "regex", "pattern": r"\b4[2-3]\b"}, None, "it is 43.")).passed
    assert (await grade("regex", r"^yes\b", "yes, it is")).passed
    assert not (await grade("regex", r"^yes\b", "Yes, it is")).passed
    assert (await grade({"name": "regex", "ignore_case": True}, r"^yes\b", "Yes, it is")).passed
    assert not (await grade({"name": "regex", "full": True}, r"yes", "yes it is")).passed
    assert (await grade({"name": "regex", "full": True}, r"yes", "  yes\n")).passed
    assert (await grade("regex", ["^no$", "^yes$"], "yes")).passed
    matched = await grade("regex", r"\d+", "about 17 apples")
    assert matched.meta["match"] == "17"


def test_bad_regexes_are_refused_before_scoring() -> None:
    reg = default_registry()
    with pytest.raises(ScorerError, match="bad arguments for scorer 'regex': pattern") as exc:
        reg.check(make_item({"name": "regex", "pattern": "(unclosed"}).scorer)
    assert exc.value.field == "scorer"
    item = make_item("regex", "[a-")
    with pytest.raises(ScorerError, match="not a valid regular expression") as exc:
        reg.check(item.scorer, item)
    assert exc.value.field == "reference"


def test_text_scorers_need_a_text_or_number_reference() -> None:
    reg = default_registry()
    for bad in (None, [], {"a": 1}, True):
        item = make_item("exact", bad)
        with pytest.raises(ScorerError) as exc:
            reg.check(item.scorer, item)
        assert exc.value.field == "reference"
