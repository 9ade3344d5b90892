from __future__ import annotations

import pytest

from switchyard.sensitivity import SensitivityDetector

from .conftest import found

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "secret",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5q",
        "sk-ant-api03-" + "x" * 24,
        "xoxb-123456789012-abcdefABCDEF",
        "AIza" + "S" * 35,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_token_shapes(detector: SensitivityDetector, secret: str) -> None:
    assert found(detector, f"use {secret} please") == [(secret, "API_KEY")]


def test_private_key(detector: SensitivityDetector) -> None:
    assert found(detector, f"here:\n{KEY}\nbye") == [(KEY, "PRIVATE_KEY")]


def test_passwords_in_text(detector: SensitivityDetector) -> None:
    assert found(detector, "password: hunter2") == [("hunter2", "PASSWORD")]
    assert found(detector, 'db_password = "S3cr3t!x"') == [("S3cr3t!x", "PASSWORD")]
    assert ("s3cr3t", "URL_CREDENTIALS") in found(detector, "postgres://app:s3cr3t@db.internal/app")


@pytest.mark.parametrize(
    "text", ["The password is required.", "password: ********", "api_key = ${API_KEY}", "the token is valid"]
)
def test_prose_and_placeholders_are_not_secrets(detector: SensitivityDetector, text: str) -> None:
    assert found(detector, text) == []


def test_secret_class(detector: SensitivityDetector) -> None:
    assert detector.scan(["key AKIAIOSFODNN7EXAMPLE"]).classes == {"secret"}
