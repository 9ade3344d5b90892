from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector
from switchyard.sensitivity.identifiers import nhs_valid

from .conftest import found


def test_ssn(detector: SensitivityDetector) -> None:
    assert found(detector, "Here's my SSN: 460-89-9847") == [("460-89-9847", "US_SSN")]
    assert found(detector, "ssn 460899847") == [("460899847", "US_SSN")]
    # area 000, 666 and 9xx are never issued
    assert found(detector, "ref 000-12-3456 and 666-12-3456 and 912-12-3456") == []


@pytest.mark.parametrize("number", ["943 476 5919", "943-476-5919", "401 023 2137"])
def test_nhs_valid(number: str) -> None:
    assert nhs_valid(number.replace(" ", "").replace("-", ""))


def test_nhs_in_text(detector: SensitivityDetector) -> None:
    assert ("943 476 5919", "UK_NHS") in found(detector, "NHS number 943 476 5919")
    assert ("9434765919", "UK_NHS") in found(detector, "NHS no. 9434765919")
    assert not nhs_valid("9434765918")  # mod-11 check fails
    assert all(label != "UK_NHS" for _, label in found(detector, "NHS number 943 476 5918"))
    assert found(detector, "order 9434765919 shipped") == []  # ungrouped, no cue


def test_national_insurance_and_cued_ids(detector: SensitivityDetector) -> None:
    assert ("AB 12 34 56 C", "NATIONAL_ID") in found(detector, "NI: AB 12 34 56 C")
    assert ("U62928788557186", "NATIONAL_ID") in found(detector, "My driver's license number is U62928788557186")
    assert ("K1234567", "NATIONAL_ID") in found(detector, "passport no. K1234567")


def test_mrn_is_health(detector: SensitivityDetector) -> None:
    spans = detector.detect("MRN: 4471902")
    assert [(s.label, s.cls) for s in spans] == [("MRN", "health")]
    assert detector.scan(["MEDICAL RECORD # 4471902"]).classes == {"health"}


def test_date_of_birth(detector: SensitivityDetector) -> None:
    assert found(detector, "DOB: 7/30/1964") == [("7/30/1964", "DOB")]
    assert found(detector, "date of birth is 12 March 1971") == [("12 March 1971", "DOB")]
