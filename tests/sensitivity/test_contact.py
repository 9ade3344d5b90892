from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector

from .conftest import found


def test_email(detector: SensitivityDetector) -> None:
    assert found(detector, "write to jane.doe+x@example.co.uk now") == [("jane.doe+x@example.co.uk", "EMAIL")]
    assert found(detector, "the @ sign and user@localhost") == []


@pytest.mark.parametrize(
    "phone",
    ["(617) 555-0142", "617-555-0142", "617.555.0176", "+44 20 7946 0958", "0489 25 37 29", "(08) 8747 6301"],
)
def test_phone_shapes(detector: SensitivityDetector, phone: str) -> None:
    assert found(detector, f"reach her on {phone} after six") == [(phone, "PHONE")]


def test_phone_groups_need_a_cue(detector: SensitivityDetector) -> None:
    assert found(detector, "They're not answering at 78 651 450") == [("78 651 450", "PHONE")]
    assert found(detector, "We shipped 78 651 450 widgets") == []


@pytest.mark.parametrize("text", ["BP 120/80 HR 88", "RR 12-20, SATS 95-97%", "given 0700-1900", "version 3.2.1"])
def test_vitals_times_and_versions_are_not_phones(detector: SensitivityDetector, text: str) -> None:
    assert found(detector, text) == []


def test_ip_addresses(detector: SensitivityDetector) -> None:
    assert found(detector, "blocked 165.165.185.178 today") == [("165.165.185.178", "IP_ADDRESS")]
    assert found(detector, "from 2001:db8::8a2e:370:7334 ok") == [("2001:db8::8a2e:370:7334", "IP_ADDRESS")]
    assert found(detector, "not an ip: 999.1.1.1 nor 10:30:00") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("I live at 24 Clarke Avenue and love it", "24 Clarke Avenue"),
        ("lives at 12 MAIN ST, QUINCY MA 02169 WITH WIFE", "12 MAIN ST, QUINCY MA 02169"),
        ("send it to Pohlstrasse 9, Berlin", "Pohlstrasse 9, Berlin"),
        ("08428 Rue de Rivoli 12", "08428 Rue de Rivoli 12"),
        (
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
        ),
        ("London SW1A 1AA", "SW1A 1AA"),
    ],
)
def test_addresses(detector: SensitivityDetector, text: str, address: str) -> None:
    assert (address, "ADDRESS") in found(detector, text)


def test_not_addresses(detector: SensitivityDetector) -> None:
    assert found(detector, "HR 80 ST, BP 120/80, gave 2 units prbc") == []
    assert found(detector, "in 29 of the 48 FAP patients") == []
