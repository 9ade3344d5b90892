from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector
from switchyard.sensitivity.financial import aba_valid, iban_valid, luhn_valid

from .conftest import found


@pytest.mark.parametrize("number", ["4111111111111111", "4454794511390933", "378282246310005", "5555 5555 5555 4444"])
def test_luhn_valid_cards_are_found(detector: SensitivityDetector, number: str) -> None:
    assert luhn_valid(number)
    assert found(detector, f"card {number} expired") == [(number, "CREDIT_CARD")]


@pytest.mark.parametrize("number", ["4111111111111112", "4454794511390934", "1234567812345678"])
def test_cards_failing_luhn_or_prefix_are_not(detector: SensitivityDetector, number: str) -> None:
    assert all(label != "CREDIT_CARD" for _, label in found(detector, f"order {number} shipped"))


def test_iban_mod97() -> None:
    assert iban_valid("GB82WEST12345698765432")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("GB82WEST12345698765433")  # check digits wrong
    assert not iban_valid("GB82WEST1234569876543")  # wrong length for GB


def test_iban_in_text(detector: SensitivityDetector) -> None:
    assert found(detector, "My IBAN is GB82WEST12345698765432 thanks") == [("GB82WEST12345698765432", "IBAN")]
    assert found(detector, "wire to DE89 3704 0044 0532 0130 00 today") == [("DE89 3704 0044 0532 0130 00", "IBAN")]
    assert found(detector, "ref GB82WEST12345698765433") == []


def test_account_numbers_need_their_cue(detector: SensitivityDetector) -> None:
    assert ("12345678", "ACCOUNT_NUMBER") in found(detector, "account number: 12345678")
    assert ("021000021", "ACCOUNT_NUMBER") in found(detector, "routing number 021000021")
    assert ("20-00-00", "ACCOUNT_NUMBER") in found(detector, "sort code 20-00-00")
    assert found(detector, "we sold 12345678 units") == []
    assert aba_valid("021000021") and not aba_valid("021000022")


def test_financial_class(detector: SensitivityDetector) -> None:
    assert detector.scan(["pay with 4111 1111 1111 1111"]).classes == {"financial"}
