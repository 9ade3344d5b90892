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
