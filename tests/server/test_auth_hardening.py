"""Authentication under attack (issue 11, low): guessing keys from one address is stopped after a bound,
flooding unknown keys cannot evict real ones from the cache, a revoked key stops within the cache time in
every process, and the admin key has a minimum strength."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import ValidationError

from switchyard.config import GatewayConfig, Settings
from switchyard.errors import AuthenticationFailed
from switchyard.keys import Authenticator, FailedAuthLimiter, create_key
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import openai_model


def chat(gw, key: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=10)


def test_guessing_keys_from_one_address_is_stopped(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The exploit: unlimited guesses, each a store look-up on the event loop. After 30 failures in a
    minute the address gets 429 (no look-up); a key it already used successfully keeps working."""
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    _, good = create_key(gw.gateway.store, "apps")
    assert chat(gw, good).status_code == 200
    statuses = [chat(gw, f"sy-guess-{i}").status_code for i in range(35)]
    assert statuses[:30] == [401] * 30 and statuses[30:] == [429] * 5
    refused = chat(gw, "sy-guess-final")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert chat(gw, good).status_code == 200  # a key seen valid is re-checked, not refused
    with httpx.Client(base_url=gw.url, timeout=10) as browser:  # the dashboard login shares the bound
        login = browser.post("/login", data={"key": "sy-guess-login"})
        assert login.status_code == 429 and "cannot open the dashboard" in login.text


def test_flooding_unknown_keys_does_not_evict_real_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path / "k.db")
    try:
        _, good = create_key(store, "apps")
        auth = Authenticator(store, None, cache_seconds=60, max_cached=4, limiter=FailedAuthLimiter(max_failures=10**9))
        assert auth.authenticate(good).team == "apps"
        lookups = []
        store_find = store.find_key

        def counting(digest: str):  # type: ignore[no-untyped-def]
            lookups.append(digest)
            return store_find(digest)

        store.find_key = counting  # type: ignore[method-assign]
        for i in range(1000):
            with pytest.raises(AuthenticationFailed):
                auth.authenticate(f"sy-flood-{i}", client=f"10.0.{i // 256}.{i % 256}")
        assert len(lookups) == 1000  # each unknown key is looked up (nothing cached for it)...
        auth.authenticate(good)
        assert len(lookups) == 1000  # ... and the real key is still served from the cache
    finally:
        store.close()


def test_a_revoked_key_stops_in_every_process_within_the_cache_time(
    upstream: MockUpstream, gateway_factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Two gateways on one key store (two processes of one deployment): revoking through one stops the
    key in the other within the cache time (1 s), not only in the process that revoked it."""
    cfg = GatewayConfig(models=[openai_model("m", upstream.url)])
    a = gateway_factory(cfg)
    b = gateway_factory(cfg)
    record, key = create_key(a.gateway.store, "apps")
    b.gateway.store.add_key(record)
    assert chat(a, key).status_code == 200 and chat(b, key).status_code == 200
    assert (
        httpx.delete(a.v1 + f"/admin/keys/{record.id}", headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code
        == 200
    )
    assert chat(a, key).status_code == 401  # at once where it was revoked
    b.gateway.store.revoke_key(record.id)  # the shared store says so for the other process
    time.sleep(1.1)
    assert chat(b, key).status_code == 401


def test_the_admin_key_has_a_minimum_strength() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(admin_key="admin123")
    assert "at least 24 characters" in str(info.value)
    assert Settings(admin_key="x" * 24).admin_key == "x" * 24
