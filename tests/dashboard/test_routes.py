"""Dashboard pages over HTTP: login, the session cookie, who may see the page, escaping, headers."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchyard.config import BudgetConfig
from switchyard.dashboard.charts import usd
from switchyard.keys import create_key
from switchyard.store.sqlite import SQLiteStore
from tests.conftest import ADMIN_KEY, RunningGateway, run_gateway

from .seed import XSS_TEAM, SeedRow, seed_config, seed_rows


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


@pytest.fixture
def teams(tmp_path: Path) -> Iterator[tuple[RunningGateway, list[SeedRow], str, str]]:
    """The seeded ledger, a usage reader of team research (its secret is yielded), and a key budget in
    research and one in support."""
    db = tmp_path / "ledger.db"
    store = SQLiteStore(db)
    rows = seed_rows(time.time())
    store.write([r.record for r in rows])
    _, reader = create_key(store, "research", roles=("finance",))
    research_key, _ = create_key(store, "research")
    support_key, _ = create_key(store, "support")
    store.close()
    cfg = seed_config()
    cfg.access.roles["finance"] = ["usage:read"]
    cfg.budgets += [BudgetConfig(key=k.id, requests_per_minute=100) for k in (research_key, support_key)]
    with run_gateway(cfg, db) as running:
        yield running, rows, reader, research_key.id


def _table(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    return found.group(1) if found else ""


def test_a_teams_login_sees_only_its_teams_usage(teams: tuple[RunningGateway, list[SeedRow], str, str]) -> None:
    """The exploit (issue 11): a key of one team allowed ``usage:read`` logged in and saw every team's
    spend, models, route decisions, errors and budgets. Now its page is its own team's alone (the
    admin key's, every team's)."""
    gw, rows, reader, research_key_id = teams
    since = time.time() - 30 * 86400
    mine = [r for r in rows if r.record.team == "research" and r.record.ts >= since]
    others = [r for r in rows if r.record.team != "research" and r.record.ts >= since]
    assert mine and others
    with browser(gw) as c:
        assert login(c, reader).status_code == 303
        html = c.get("/").text
    assert re.findall(r'<tr data-team="([^"]*)"', _table(html, "teams")) == ["research"]
    spend = re.search(r'data-testid="spend">([^<]*)<', html)
    assert spend is not None and spend.group(1) == usd(sum(r.record.cost for r in mine))
    requests = re.search(r'data-testid="requests">([^<]*)<', html)
    assert requests is not None and requests.group(1) == f"{len(mine):,}"
    models = re.findall(r'<tr data-model="([^"]*)">.*?data-col="requests">([\d,]+)<', _table(html, "models"), re.S)
    served = Counter(str(r.record.served_model) for r in mine if r.served)
    assert {m: int(n.replace(",", "")) for m, n in models} == dict(served)
    decisions = re.findall(r'data-reason="[^"]*">.*?data-col="requests">([\d,]+)<', _table(html, "decisions"), re.S)
    assert sum(int(n.replace(",", "")) for n in decisions) == len(mine)  # one code per seed row
    error_teams = re.findall(r'<tr data-testid="error-row">.*?<td>([^<]*)</td>\s*</tr>', html, re.S)
    assert error_teams == ["research"] * min(15, sum(not r.served for r in mine))
    scopes = set(re.findall(r'<tr data-scope="([^"]*)"', _table(html, "budgets")))
    assert scopes == {"team:research", f"key:{research_key_id}"}
    for other in {r.record.team for r in others}:
        assert f'data-team="{other}"' not in html and f'data-scope="team:{other}"' not in html

    with browser(gw) as c:  # the admin key still sees every team
        assert login(c, ADMIN_KEY).status_code == 303
        html = c.get("/").text
    shown = set(re.findall(r'<tr data-team="([^"]*)"', _table(html, "teams")))
    assert len(shown) == 4 and "research" in shown
    assert len(set(re.findall(r'<tr data-scope="([^"]*)"', _table(html, "budgets")))) == 4
