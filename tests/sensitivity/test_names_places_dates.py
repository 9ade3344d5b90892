from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector

from .conftest import found


def persons(detector: SensitivityDetector, text: str) -> list[str]:
    return [t for t, label in found(detector, text) if label == "PERSON"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Yesterday Maria Lopez called about her claim.", ["Maria Lopez"]),
        ("Please forward this to Dr. Greenberg.", ["Dr. Greenberg"]),
        ("Ravil G. Yefimov will be talking", ["Ravil G. Yefimov"]),
        ("I want to add Mercédesz Szôllôssy as a beneficiary", ["Mercédesz Szôllôssy"]),
        ("an account under Donald van der Voet", ["Donald van der Voet"]),
    ],
)
def test_names_in_mixed_case(detector: SensitivityDetector, text: str, names: list[str]) -> None:
    assert persons(detector, text) == names


def test_names_in_upper_case_notes(detector: SensitivityDetector) -> None:
    note = "SOCIAL: WIFE HOPE IN TO VISIT, UPDATED BY DR GREEN. SON JOHN CALLED.\nNEURO: A&OX3, MAE. FOLEY DRAINING."
    assert persons(detector, note) == ["HOPE", "DR GREEN", "JOHN"]


def test_names_in_lower_case_text(detector: SensitivityDetector) -> None:
    assert persons(detector, "follow up with benjamin a seiler in a couple of months.") == ["benjamin a seiler"]


@pytest.mark.parametrize(
    "text",
    [
        "Germline mutations in BRCA1 cause inherited breast and ovarian cancer.",
        "Wilson disease and Huntington's disease are inherited.",
        "Patients with Prader - Willi syndrome were studied.",
        "The Cox regression model and Fisher's exact test were used.",
        "PT WILL NEED HEPARIN GTT, LASIX 40 IV, FOLEY TO GRAVITY, TAN SECRETIONS.",
        "The Ser189 -> Phe substitution and G6PD Santamaria variant.",
    ],
)
def test_no_names_in_medical_text(detector: SensitivityDetector, text: str) -> None:
    assert persons(detector, text) == []


def test_dates(detector: SensitivityDetector) -> None:
    assert found(detector, "ADMITTED 2/13 WITH CP") == [("2/13", "DATE")]
    assert found(detector, "seen on Feb 13, 2001") == [("Feb 13, 2001", "DATE")]
    assert found(detector, "When: 1971-09-07 22:49:16") == [("1971-09-07 22:49:16", "DATE")]
    # ranges, fractions, ventilator settings, pain scores, bare years and weekdays are not dates
    assert found(detector, "RR 12-20, GIVEN 1/2 NS, CPAP 5/5, C/O 6/10 PAIN, founded in 1977 on Thursday") == []


def test_ages_over_89_only(detector: SensitivityDetector) -> None:
    assert found(detector, "PT IS A 93 YO WOMAN") == [("93", "AGE")]
    assert found(detector, "PT IS A 67 YO MAN") == []


def test_places(detector: SensitivityDetector) -> None:
    assert ("ST. ELIZABETH'S MEDICAL CENTER", "LOCATION") in found(
        detector, "PT TRANSFERRED FROM ST. ELIZABETH'S MEDICAL CENTER ON 4/2"
    )
    assert ("Bahamas", "LOCATION") in found(detector, "I'm originally from Bahamas")
    assert found(detector, "Mutations were found in families from Finland.") == []
    assert found(detector, "PT TRANSFERRED TO THE HOSPITAL") == []
