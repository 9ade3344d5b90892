"""Admin endpoints: gated by role actions; a created key works at once and its secret is shown once."""

from __future__ import annotations

import httpx
import pytest

from switchyard.config import AccessConfig, GatewayConfig, TeamConfig
from switchyard.keys import create_key
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY
from tests.server.configs import openai_model


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[openai_model("m", upstream.url)],
        access=AccessConfig(
            teams=[TeamConfig(name="ops", roles=["viewer"]), TeamConfig(name="apps")],
            roles={"admin": ["*"], "viewer": ["usage:read", "keys:read"]},
        ),
    )
    return gateway_factory(cfg)


def h(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_admin_creates_lists_and_revokes_keys(gw) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "name": "svc"}, headers=h(ADMIN_KEY))
    assert r.status_code == 201
    created = r.json()
    secret = created["secret"]
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gw.v1 + "/chat/completions", json=chat, headers=h(secret)).status_code == 200
    listed = httpx.get(gw.v1 + "/admin/keys", headers=h(ADMIN_KEY)).json()["data"]
    assert created["id"] in {k["id"] for k in listed} and all("secret" not in k for k in listed)
    assert httpx.delete(gw.v1 + f"/admin/keys/{created['id']}", headers=h(ADMIN_KEY)).status_code == 200
    assert httpx.post(gw.v1 + "/chat/completions", json=chat, headers=h(secret)).status_code == 401
    assert httpx.delete(gw.v1 + f"/admin/keys/{created['id']}", headers=h(ADMIN_KEY)).status_code == 404
    gw.flush()
    usage = httpx.get(gw.v1 + "/admin/usage?days=1", headers=h(ADMIN_KEY)).json()["data"]
    assert any(row["team"] == "apps" and row["requests"] == 1 for row in usage)


def test_roles_gate_each_action(gw) -> None:  # type: ignore[no-untyped-def]
    _, viewer = create_key(gw.gateway.store, "ops")
    _, app = create_key(gw.gateway.store, "apps")
    assert httpx.get(gw.v1 + "/admin/usage", headers=h(viewer)).status_code == 200
    denied = httpx.post(gw.v1 + "/admin/keys", json={"team": "ops"}, headers=h(viewer))
    assert denied.status_code == 403 and "keys:create" in denied.json()["error"]["message"]
    assert httpx.get(gw.v1 + "/admin/usage", headers=h(app)).status_code == 403
    bad = httpx.post(gw.v1 + "/admin/keys", json={"name": "x"}, headers=h(ADMIN_KEY))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "team"


@pytest.fixture
def keymaster_gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[openai_model("m", upstream.url), openai_model("premium", upstream.url)],
        access=AccessConfig(
            teams=[TeamConfig(name="apps", models=["m"]), TeamConfig(name="ops", models=["m"])],
            roles={"admin": ["*"], "keymaster": ["keys:create", "keys:read", "keys:revoke"], "viewer": ["usage:read"]},
        ),
    )
    return gateway_factory(cfg)


def test_keys_create_cannot_mint_an_admin_or_reach_another_team(keymaster_gw) -> None:  # type: ignore[no-untyped-def]
    """The exploit: a key allowed only ``keys:create`` asked for ``roles: ["admin"]`` and got a key that
    acted as the gateway admin (every action, every model, every team). Now a key grants only roles whose
    actions it holds itself, for its own team."""
    gw = keymaster_gw
    _, keymaster = create_key(gw.gateway.store, "apps", roles=("keymaster",))
    escalate = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "roles": ["admin"]}, headers=h(keymaster))
    assert escalate.status_code == 403 and escalate.json()["error"]["code"] == "forbidden_grant"
    wider = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "roles": ["viewer"]}, headers=h(keymaster))
    assert wider.status_code == 403  # usage:read is not among the keymaster's actions
    other = httpx.post(gw.v1 + "/admin/keys", json={"team": "ops"}, headers=h(keymaster))
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_team"
    unknown = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "roles": ["root"]}, headers=h(keymaster))
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "roles"
    same = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "roles": ["keymaster"]}, headers=h(keymaster))
    assert same.status_code == 201
    plain = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps"}, headers=h(keymaster))
    assert plain.status_code == 201


def test_a_stored_admin_role_is_what_the_config_says_not_the_gateway_admin(keymaster_gw) -> None:  # type: ignore[no-untyped-def]
    """A stored key whose role is called "admin" holds the actions the config gives that role, and calls
    only the models its team may call; only the configured admin key bypasses teams."""
    gw = keymaster_gw
    made = httpx.post(gw.v1 + "/admin/keys", json={"team": "apps", "roles": ["admin"]}, headers=h(ADMIN_KEY))
    assert made.status_code == 201
    stored_admin = made.json()["secret"]
    assert httpx.get(gw.v1 + "/admin/usage", headers=h(stored_admin)).status_code == 200  # roles: admin -> *
    chat = {"model": "premium", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gw.v1 + "/chat/completions", json=chat, headers=h(stored_admin)).status_code == 403
    assert httpx.post(gw.v1 + "/chat/completions", json=chat, headers=h(ADMIN_KEY)).status_code == 200
    # ... and it manages its own team's keys only.
    _, ops_key = create_key(gw.gateway.store, "ops")
    listed = httpx.get(gw.v1 + "/admin/keys", headers=h(stored_admin)).json()["data"]
    assert {k["team"] for k in listed} == {"apps"}
    ops_id = next(
        k["id"] for k in httpx.get(gw.v1 + "/admin/keys", headers=h(ADMIN_KEY)).json()["data"] if k["team"] == "ops"
    )
    assert httpx.delete(gw.v1 + f"/admin/keys/{ops_id}", headers=h(stored_admin)).status_code == 404
    assert httpx.post(gw.v1 + "/chat/completions", json={**chat, "model": "m"}, headers=h(ops_key)).status_code == 200


def test_usage_days_is_bounded(gw) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzer: a huge ``days`` overflowed the date arithmetic (500); ``²`` passed isdigit."""
    for days in ("99999999999999999999", "²", "0", "-1"):
        r = httpx.get(gw.v1 + f"/admin/usage?days={days}", headers=h(ADMIN_KEY))
        assert r.status_code == 400 and r.json()["error"]["param"] == "days", days
    assert httpx.get(gw.v1 + "/admin/usage?days=3660", headers=h(ADMIN_KEY)).status_code == 200


@pytest.fixture
def two_teams(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[openai_model("m", upstream.url), openai_model("premium", upstream.url)],
        access=AccessConfig(
            teams=[TeamConfig(name="apps"), TeamConfig(name="ops")],
            roles={"admin": ["*"], "viewer": ["usage:read"]},
        ),
    )
    return gateway_factory(cfg)


def test_a_usage_reader_sees_its_own_teams_usage_only(two_teams) -> None:  # type: ignore[no-untyped-def]
    """The exploit (issue 11): any key allowed ``usage:read`` got every team's rows and totals from
    ``/v1/admin/usage``. Now a stored key reads its own team's usage, as it manages its own team's keys;
    only the configured admin key sees every team."""
    gw = two_teams
    _, apps_key = create_key(gw.gateway.store, "apps")
    _, ops_key = create_key(gw.gateway.store, "ops")
    _, apps_admin = create_key(gw.gateway.store, "apps", roles=("admin",))
    _, ops_viewer = create_key(gw.gateway.store, "ops", roles=("viewer",))
    calls = [(apps_key, "premium"), (apps_key, "premium"), (apps_key, "m"), (ops_key, "m")]
    for key, model in calls:
        chat = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(gw.v1 + "/chat/completions", json=chat, headers=h(key)).status_code == 200
    gw.flush()

    def usage(key: str, days: str = "30") -> list[dict[str, object]]:
        r = httpx.get(gw.v1 + f"/admin/usage?days={days}", headers=h(key))
        assert r.status_code == 200, r.text
        rows: list[dict[str, object]] = r.json()["data"]
        return rows

    for days in ("1", "30"):
        ops_rows = usage(ops_viewer, days)
        assert {r["team"] for r in ops_rows} == {"ops"}  # no row of team apps
        assert {r["model"] for r in ops_rows} == {"m"}  # not the premium model only apps called
        assert sum(r["requests"] for r in ops_rows) == 1  # type: ignore[misc]
        # A stored key whose role is called "admin" is still a key of its team.
        apps_rows = usage(apps_admin, days)
        assert {r["team"] for r in apps_rows} == {"apps"}
        assert sum(r["requests"] for r in apps_rows) == 3  # type: ignore[misc]
        everyone = usage(ADMIN_KEY, days)
        assert {r["team"] for r in everyone} == {"apps", "ops"}
        assert sum(r["requests"] for r in everyone) == 4  # type: ignore[misc]
