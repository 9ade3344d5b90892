"""Signed session cookies: what they carry, and everything that must make them invalid."""

from __future__ import annotations

from switchyard.dashboard.session import SessionSigner
from switchyard.types import Principal

WHO = Principal(key_id="key_abc", team="finance", roles=("finance",))


def test_round_trip_without_the_key() -> None:
    signer = SessionSigner(b"s" * 32, "the-admin-key")
    cookie = signer.issue(WHO, now=1000.0)
    assert "the-admin-key" not in cookie
    session = signer.read(cookie, now=1000.0 + 3600)
    assert session is not None and session.principal == WHO and session.expires == 1000.0 + 8 * 3600


def test_invalid_cookies() -> None:
    signer = SessionSigner(b"s" * 32, "the-admin-key")
    cookie = signer.issue(WHO, now=1000.0)
    payload, sig = cookie.split(".")
    assert signer.read(cookie, now=1000.0 + 8 * 3600) is None  # expired
    assert SessionSigner(b"t" * 32, "the-admin-key").read(cookie, now=1001.0) is None  # another secret
    assert SessionSigner(b"s" * 32, "a-new-admin-key").read(cookie, now=1001.0) is None  # admin key changed
    forged = SessionSigner(b"x" * 32, "the-admin-key").issue(Principal("admin", "admin", ("admin",), True), now=1000.0)
    assert signer.read(forged.split(".")[0] + "." + sig, now=1001.0) is None
    for bad in (None, "", "nodot", "a.b.c", payload + ".", "." + sig, "!!!." + sig):
        assert signer.read(bad, now=1001.0) is None
