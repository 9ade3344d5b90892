"""Every operation of the OpenAPI document, swept with no key, a wrong key, a revoked key and a key of another
team. Only the documented open routes answer without a valid key; another team's collection, document and
key are refused.

Where the API answers 404 instead of 403 on purpose: revoking another team's key (``DELETE
/v1/admin/keys/{key_id}``) by a key allowed ``keys:revoke`` is a 404, so a key id of another team is not
confirmed. RAG collections do not hide themselves: another team's existing collection is a 403
(``collection_forbidden``), an unknown one a 404. A stored response of another team is a 404, like an
unknown one (``GET`` / ``DELETE /v1/responses/{response_id}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from switchyard.config import AccessConfig
from switchyard.keys import create_key
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import MockUpstream

from ..conftest import ADMIN_KEY, RunningGateway
from ..rag.conftest import needs_model
from ..rag.gateway import rag_config

pytestmark = needs_model

# Routes anyone may call (and the dashboard, which takes a session cookie, never an API key).
OPEN = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/login"),
    ("post", "/login"),
    ("post", "/logout"),
    ("get", "/"),
}
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/v1/chat/completions"): CHAT,
    ("post", "/v1/embeddings"): {"model": "local-embed", "input": "hello"},
    ("post", "/v1/messages"): {"model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
    ("post", "/v1/responses"): {"model": "auto", "input": "hello"},
    ("post", "/v1/admin/keys"): {"team": "team-a"},
    ("post", "/v1/rag/collections"): {"name": "made-by-sweep"},
    ("patch", "/v1/rag/collections/{name}"): {"acl": {"read": ["team-b"], "write": ["team-b"], "admin": ["team-b"]}},
    ("post", "/v1/rag/collections/{name}/documents"): {"documents": [{"id": "d2", "text": "more text"}]},
    ("post", "/v1/rag/erase"): {"subject": "patient-1", "collections": ["owned-by-a"]},
    ("post", "/v1/rag/search"): {"collections": ["owned-by-a"], "query": "heart"},
}
# What a key of team B (no roles) gets where team A's resources or admin actions are concerned; the other
# operations (calling a model, listing what B may see, creating B's own collection) are B's to use.
TEAM_B_DENIED = {
    ("post", "/v1/admin/keys"): 403,
    ("get", "/v1/admin/keys"): 403,
    ("delete", "/v1/admin/keys/{key_id}"): 403,
    ("get", "/v1/admin/usage"): 403,
    ("get", "/metrics"): 403,
    ("get", "/v1/rag/collections/{name}"): 403,
    ("patch", "/v1/rag/collections/{name}"): 403,
    ("delete", "/v1/rag/collections/{name}"): 403,
    ("post", "/v1/rag/collections/{name}/documents"): 403,
    ("get", "/v1/rag/collections/{name}/documents"): 403,
    ("delete", "/v1/rag/collections/{name}/documents/{doc_id}"): 403,
    ("post", "/v1/rag/erase"): 403,
    ("post", "/v1/rag/search"): 403,
    ("get", "/v1/responses/{response_id}"): 404,
    ("delete", "/v1/responses/{response_id}"): 404,
}
TEAM_B_ALLOWED = {
    ("post", "/v1/chat/completions"),
    ("post", "/v1/embeddings"),
    ("post", "/v1/messages"),
    ("post", "/v1/responses"),
    ("get", "/v1/models"),
    ("get", "/v1/rag/collections"),
    ("post", "/v1/rag/collections"),
}


def _key(gw: RunningGateway, team: str, roles: tuple[str, ...] = ()) -> tuple[str, str]:
    store = SQLiteStore(gw.db_path)
    try:
        record, secret = create_key(store, team, roles=roles)
    finally:
        store.close()
    return record.id, secret


@pytest.fixture
def gw(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Any
) -> Iterator[RunningGateway]:
    cfg = rag_config(upstream.url, tmp_path / "models")
    cfg.access = AccessConfig(roles={"admin": ["*"], "keyadmin": ["keys:create", "keys:read", "keys:revoke"]})
    # The sweep makes hundreds of failed authentications from one address: lift the per-address bound
    # (tests/server/test_auth_hardening.py tests it).
    yield gateway_factory(cfg, classify=lambda _req: set(), auth_failures_per_minute=100_000, responses_store=True)


def _url(path: str, key_id: str, response_id: str) -> str:
    return path.format(name="owned-by-a", doc_id="d1", key_id=key_id, response_id=response_id)


def _call(
    gw: RunningGateway, method: str, path: str, key_id: str, headers: dict[str, str], response_id: str = "resp_x"
) -> httpx.Response:
    body = BODIES.get((method, path))
    url = gw.url + _url(path, key_id, response_id)
    return httpx.request(method.upper(), url, json=body, headers=headers, timeout=60, follow_redirects=False)


def test_every_operation_refuses_missing_wrong_revoked_and_other_team_keys(gw: RunningGateway) -> None:
    a_id, a_key = _key(gw, "team-a")
    _, b_key = _key(gw, "team-b")
    revoked_id, revoked_key = _key(gw, "team-a", roles=("admin",))
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    assert httpx.delete(f"{gw.v1}/admin/keys/{revoked_id}", headers=admin).status_code == 200
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {a_key}"}, timeout=60) as a:
        assert a.post("/v1/rag/collections", json={"name": "owned-by-a"}).status_code == 201
        docs = {"documents": [{"id": "d1", "text": "the heart has four chambers", "subject": "patient-1"}]}
        assert a.post("/v1/rag/collections/owned-by-a/documents", json=docs).status_code == 201
        stored = a.post("/v1/responses", json={"model": "auto", "input": "kept for team A"})
        assert stored.status_code == 200 and stored.json()["store"] is True
        response_id = stored.json()["id"]

    document = httpx.get(gw.url + "/openapi.json").json()
    operations = [(m, p) for p, item in document["paths"].items() for m in item]
    assert len(operations) >= 25
    callers = {
        "no key": {},
        "wrong key": {"authorization": "Bearer sy-not-a-key"},
        "wrong x-api-key": {"x-api-key": "sy-not-a-key"},
        "revoked key": {"authorization": f"Bearer {revoked_key}"},
        "revoked x-api-key": {"x-api-key": revoked_key},
    }
    unexpected: list[str] = []
    for method, path in operations:
        declared = document["paths"][path][method].get("security")
        if (method, path) in OPEN:
            assert declared == [] or {} in declared, (method, path)  # documented as open
            continue
        assert declared and {} not in declared, (method, path)  # documented as needing a key
        for who, headers in callers.items():
            r = _call(gw, method, path, a_id, headers, response_id)
            if r.status_code != 401:
                unexpected.append(f"{who}: {method.upper()} {path} -> {r.status_code}")
        r = _call(gw, method, path, a_id, {"authorization": f"Bearer {b_key}"}, response_id)
        if (method, path) in TEAM_B_DENIED:
            if r.status_code != TEAM_B_DENIED[(method, path)]:
                unexpected.append(f"team B: {method.upper()} {path} -> {r.status_code}")
        else:
            assert (method, path) in TEAM_B_ALLOWED, f"sweep does not cover {method.upper()} {path}"
            assert r.status_code < 300, (method, path, r.status_code, r.text)
            if path == "/v1/rag/collections" and method == "get":
                assert "owned-by-a" not in {c["name"] for c in r.json()["data"]}  # not listed to team B
    assert unexpected == []

    # team A's collection and document are untouched by all of the above
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {a_key}"}, timeout=60) as a:
        shown = a.get("/v1/rag/collections/owned-by-a").json()
        assert shown["documents"] == 1 and shown["acl"]["admin"] == ["team-a"]
        assert a.get(f"/v1/responses/{response_id}").json()["id"] == response_id


def test_open_routes_answer_without_a_key(gw: RunningGateway) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/login"):
        assert httpx.get(gw.url + path).status_code == 200, path
    home = httpx.get(gw.url + "/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/login"
    home = httpx.get(gw.url + "/", headers={"authorization": f"Bearer {ADMIN_KEY}"}, follow_redirects=False)
    assert home.status_code == 303  # an API key does not open the dashboard; only its session does


def test_another_teams_key_is_not_confirmed_to_a_key_admin(gw: RunningGateway) -> None:
    a_id, _ = _key(gw, "team-a")
    _, b_admin = _key(gw, "team-b", roles=("keyadmin",))
    headers = {"authorization": f"Bearer {b_admin}"}
    r = httpx.delete(f"{gw.v1}/admin/keys/{a_id}", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "key_not_found"  # as if it did not exist
    listed = httpx.get(f"{gw.v1}/admin/keys", headers=headers).json()["data"]
    assert a_id not in {k["id"] for k in listed}
    r = httpx.post(f"{gw.v1}/admin/keys", json={"team": "team-a"}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_team"
