"""Dashboard pages over HTTP: login, the session cookie, who may see the page, escaping, headers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchyard.keys import create_key
from switchyard.store.sqlite import SQLiteStore
from tests.conftest import ADMIN_KEY, RunningGateway, run_gateway

from .seed import XSS_TEAM, seed_config, seed_rows


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[RunningGateway]:
    db = tmp_path / "ledger.db"
    store = SQLiteStore(db)
    store.write([r.record for r in seed_rows(time.time())])
    store.close()
    cfg = seed_config()
    cfg.access.roles["finance"] = ["usage:read"]
    with run_gateway(cfg, db) as running:
        yield running


def browser(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, timeout=10, follow_redirects=False)


def login(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/login", data={"key": key})


def test_login_session_and_logout(gw: RunningGateway) -> None:
    with browser(gw) as c:
        assert c.get("/").status_code == 303 and c.get("/").headers["location"] == "/login"
        page = c.get("/login")
        assert page.status_code == 200 and 'name="key"' in page.text
        resp = login(c, ADMIN_KEY)
        assert resp.status_code == 303 and resp.headers["location"] == "/"
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie  # plain http here
        assert ADMIN_KEY.lower() not in cookie
        home = c.get("/")
        assert home.status_code == 200 and "Spend by team" in home.text
        assert "default-src 'none'" in home.headers["content-security-policy"]
        assert home.headers["cache-control"] == "no-store"
        assert "<script" not in home.text.replace("&lt;script", "")  # no scripts at all; the team name is escaped
        assert "ops&lt;script&gt;alert(1)&lt;/script&gt;" in home.text and XSS_TEAM not in home.text
        assert c.get("/?period=7d").status_code == 200 and c.get("/?period=bogus").status_code == 200
        out = c.post("/logout")
        assert out.status_code == 303 and c.get("/").status_code == 303


def test_wrong_keys_get_one_generic_message(gw: RunningGateway) -> None:
    _, plain = create_key(gw.gateway.store, "research")  # may call models, may not read usage
    with browser(gw) as c:
        for key in ("sy-not-a-key-<b>", plain, ""):
            resp = login(c, key)
            assert resp.status_code == 401
            assert "That key cannot open the dashboard." in resp.text
            assert "set-cookie" not in resp.headers
            if key:
                assert key not in resp.text and "&lt;b&gt;" not in resp.text
        assert c.get("/").status_code == 303


@pytest.mark.parametrize("roles", [("finance",), ("admin",)])
def test_usage_readers_log_in_until_their_key_is_revoked(gw: RunningGateway, roles: tuple[str, ...]) -> None:
    record, reader = create_key(gw.gateway.store, "finance-team", roles=roles)
    with browser(gw) as c:
        assert login(c, reader).status_code == 303
        home = c.get("/")
        # A stored key is shown by its team, whatever its roles are called: only the configured admin key
        # is the gateway admin.
        assert home.status_code == 200 and 'id="user">finance-team<' in home.text
        gw.gateway.store.revoke_key(record.id)
        assert c.get("/").status_code == 303


def test_forged_or_cross_site_requests_are_refused(gw: RunningGateway) -> None:
    with browser(gw) as c:
        resp = login(c, ADMIN_KEY)
        value = resp.cookies["switchyard_session"]
        payload, sig = value.split(".")
        forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + sig
    with browser(gw) as c:
        c.cookies.set("switchyard_session", forged)
        assert c.get("/").status_code == 303
    with browser(gw) as c:
        for headers in ({"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
            resp = c.post("/login", data={"key": ADMIN_KEY}, headers=headers)
            assert resp.status_code == 403 and "set-cookie" not in resp.headers
        assert login(c, ADMIN_KEY).status_code == 303
