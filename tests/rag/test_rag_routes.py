from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from switchyard.testing import Fault, MockUpstream

from ..conftest import RunningGateway
from .conftest import needs_model
from .corpus import DOCS
from .gateway import client, rag_config, team_key

pytestmark = needs_model


@pytest.fixture
def gw(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> Iterator[RunningGateway]:
    yield gateway_factory(rag_config(upstream.url, tmp_path / "models"), classify=lambda _req: set())


def _docs() -> list[dict[str, object]]:
    return [{"id": d.id, "title": d.title, "text": d.text, "subject": f"patient-{d.id}"} for d in DOCS]


def _cardiology(gw: RunningGateway, sensitivity: str = "confidential") -> str:
    key = team_key(gw, "cardiology")
    with client(gw, key) as c:
        r = c.post("/v1/rag/collections", json={"name": "cardio", "sensitivity": sensitivity})
        assert r.status_code == 201, r.text
        assert r.json()["acl"] == {"read": ["cardiology"], "write": ["cardiology"], "admin": ["cardiology"]}
        r = c.post("/v1/rag/collections/cardio/documents", json={"documents": _docs()})
        assert r.status_code == 201, r.text
        assert r.json()["added"] == len(DOCS)
    return key


def test_team_cannot_search_or_chat_over_another_teams_collection(gw: RunningGateway, upstream: MockUpstream) -> None:
    cardio = _cardiology(gw)
    onco = team_key(gw, "oncology")
    with client(gw, onco) as c:
        r = c.post("/v1/rag/search", json={"collections": ["cardio"], "query": "heart rhythm"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "collection_forbidden"
        assert c.get("/v1/rag/collections").json()["data"] == []
        assert c.get("/v1/rag/collections/cardio").status_code == 403
        r = c.post("/v1/rag/collections/cardio/documents", json={"documents": [{"id": "x", "text": "t"}]})
        assert r.status_code == 403
        assert c.delete("/v1/rag/collections/cardio").status_code == 403
    sdk = openai.OpenAI(base_url=gw.v1, api_key=onco, max_retries=0)
    before = len(upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "what treats atrial fibrillation?"}],
            extra_body={"switchyard": {"collections": ["cardio"]}},
        )
    assert err.value.status_code == 403
    assert len(upstream.requests) == before  # nothing was retrieved nor sent
    claude = anthropic.Anthropic(base_url=gw.url, api_key=onco, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        claude.messages.create(
            model="auto",
            max_tokens=20,
            messages=[{"role": "user", "content": "what treats atrial fibrillation?"}],
            extra_body={"switchyard": {"collections": ["cardio"]}},
        )
    assert denied.value.status_code == 403 and len(upstream.requests) == before
    with client(gw, cardio) as c:
        r = c.post("/v1/rag/search", json={"collections": ["cardio"], "query": "irregular heart rhythm", "k": 3})
        assert r.status_code == 200
        top = r.json()["data"][0]
        assert top["provenance"]["document"] == "heart" and top["id"] == "heart#0"
        assert {"bm25", "dense", "fused"} <= set(top["stages"]) and top["stages"]["fused"]["rank"] == 1
        # sharing read access by ACL lets oncology in
        r = c.patch("/v1/rag/collections/cardio", json={"acl": {"read": ["oncology"], "admin": ["cardiology"]}})
        assert r.status_code == 200, r.text
    with client(gw, onco) as c:
        assert c.post("/v1/rag/search", json={"collections": ["cardio"], "query": "heart"}).status_code == 200
        assert (
            c.post("/v1/rag/collections/cardio/documents", json={"documents": [{"id": "x", "text": "t"}]}).status_code
            == 403
        )


def test_admin_key_administers_but_does_not_read(gw: RunningGateway) -> None:
    cardio = _cardiology(gw)
    with client(gw) as c:
        assert [x["name"] for x in c.get("/v1/rag/collections").json()["data"]] == ["cardio"]
        assert c.post("/v1/rag/search", json={"collections": ["cardio"], "query": "heart"}).status_code == 403
        assert c.delete("/v1/rag/collections/cardio/documents/kidney").status_code == 200
        assert c.delete("/v1/rag/collections/cardio/documents/kidney").status_code == 404
        assert c.get("/v1/rag/collections/cardio/documents").status_code == 403
    with client(gw, cardio) as c:
        r = c.get("/v1/rag/collections/cardio/documents", params={"limit": "x"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
        assert len(c.get("/v1/rag/collections/cardio/documents").json()["data"]) == len(DOCS) - 1


def test_rag_chat_injects_cited_context_and_keeps_confidential_context_on_premises(
    gw: RunningGateway, upstream: MockUpstream
) -> None:
    key = _cardiology(gw)
    upstream.set_default(Fault.ok("Anticoagulants are used [heart#0]."))
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "What treats an irregular heart rhythm?"}],
        extra_body={"switchyard": {"collections": ["cardio"], "k": 2}},
    )
    resp = raw.parse()
    assert raw.headers["x-switchyard-model"] == "onprem"  # health-class context never goes to "cloud"
    sent = upstream.requests[-1].body
    assert sent["model"] == "onprem" and "switchyard" not in sent
    system = sent["messages"][0]
    assert system["role"] == "system" and "[heart#0]" in system["content"]
    assert "anticoagulants" in system["content"]
    rag = resp.model_extra["switchyard"]["rag"]  # type: ignore[index]
    assert rag["citations"] == ["heart#0"] and rag["sources"][0]["document"] == "heart"
    assert resp.choices[0].message.content == "Anticoagulants are used [heart#0]."


def test_streamed_rag_chat_ends_with_its_sources(gw: RunningGateway, upstream: MockUpstream) -> None:
    key = _cardiology(gw)
    upstream.set_default(Fault.ok("Anticoagulants are used [heart#0]."))
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "What treats an irregular heart rhythm?"}],
            stream=True,
            extra_body={"switchyard": {"collections": ["cardio"], "k": 2}},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Anticoagulants are used [heart#0]."
    blocks = [c.model_extra["switchyard"] for c in chunks if c.model_extra and "switchyard" in c.model_extra]
    assert len(blocks) == 1
    rag = blocks[0]["rag"]
    assert rag["citations"] == ["heart#0"] and rag["sources"][0]["document"] == "heart" and not rag["cached"]


def test_rag_chat_over_the_anthropic_messages_api(gw: RunningGateway, upstream: MockUpstream) -> None:
    key = _cardiology(gw)
    upstream.set_default(Fault.ok("Anticoagulants are used [heart#0]."))
    sdk = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    raw = sdk.messages.with_raw_response.create(
        model="auto",
        max_tokens=50,
        messages=[{"role": "user", "content": "What treats an irregular heart rhythm?"}],
        extra_body={"switchyard": {"collections": ["cardio"], "k": 2}},
    )
    assert raw.headers["x-switchyard-model"] == "onprem"  # health-class context stays on premises
    sent = upstream.requests[-1].body
    assert "[heart#0]" in sent["messages"][0]["content"] and "switchyard" not in sent
    message = raw.parse()
    assert message.content[0].text == "Anticoagulants are used [heart#0]."  # type: ignore[union-attr]
    rag = json.loads(raw.http_response.text)["switchyard"]["rag"]
    assert rag["citations"] == ["heart#0"] and rag["sources"][0]["document"] == "heart"


def test_streamed_anthropic_rag_chat_carries_its_sources_on_the_last_delta(
    gw: RunningGateway, upstream: MockUpstream
) -> None:
    key = _cardiology(gw)
    upstream.set_default(Fault.ok("Anticoagulants are used [heart#0]."))
    sdk = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    with sdk.messages.stream(
        model="auto",
        max_tokens=50,
        messages=[{"role": "user", "content": "What treats an irregular heart rhythm?"}],
        extra_body={"switchyard": {"collections": ["cardio"], "k": 2}},
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert final.content[0].text == "Anticoagulants are used [heart#0]."  # type: ignore[union-attr]
    deltas = [e for e in events if e.type == "message_delta"]
    assert len(deltas) == 1 and final.stop_reason == "end_turn"
    rag = (deltas[0].model_extra or {})["switchyard"]["rag"]
    assert rag["citations"] == ["heart#0"] and rag["sources"][0]["document"] == "heart" and not rag["cached"]


def test_rag_chat_over_internal_collection_may_use_the_cloud(gw: RunningGateway, upstream: MockUpstream) -> None:
    key = _cardiology(gw, sensitivity="internal")
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "dialysis"}],
        extra_body={"switchyard": {"collections": ["cardio"]}},
    )
    assert raw.headers["x-switchyard-model"] == "cloud"


def test_bad_requests_name_the_field(gw: RunningGateway) -> None:
    key = team_key(gw, "cardiology")
    with client(gw, key) as c:
        r = c.post("/v1/rag/collections", json={"name": "bad name!"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "name"
        r = c.post("/v1/rag/collections", json={"name": "ok", "sensitivity": "secret"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "sensitivity"
        assert c.post("/v1/rag/search", json={"collections": ["nope"], "query": "x"}).status_code == 404
        r = c.post("/v1/rag/search", json={"collections": [], "query": "x"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "collections"
        assert c.post("/v1/rag/collections", json={"name": "ok"}).status_code == 201
        again = c.post("/v1/rag/collections", json={"name": "ok"})
        assert again.status_code == 409, again.text  # as documented: the name exists already
        assert again.json()["error"]["param"] == "name" and again.json()["error"]["code"] == "already_exists"
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        sdk.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"switchyard": {"collections": ["ok"], "k": 0}},
        )
    assert "switchyard.k" in str(err.value)


def test_erasure_endpoint_drops_cached_answers(gw: RunningGateway, upstream: MockUpstream) -> None:
    key = _cardiology(gw)
    upstream.set_default(Fault.ok("Dialysis [kidney#0]."))
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    ask = {
        "model": "auto",
        "messages": [{"role": "user", "content": "what filters blood when kidneys fail?"}],
        "extra_body": {"switchyard": {"collections": ["cardio"], "k": 1, "cache": True}},
    }
    first = sdk.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    sent = len(upstream.requests)
    again = sdk.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    assert "x-switchyard-cache" not in first.headers and again.headers["x-switchyard-cache"] == "hit"
    assert again.parse().choices[0].message.content == "Dialysis [kidney#0]." and len(upstream.requests) == sent
    gw.flush()  # the cached answer is in the ledger too: no model, no cost, the reason says why
    hit = gw.ledger().get(again.headers["x-request-id"])
    assert (hit.status, hit.cost, hit.served_model, hit.team) == (200, 0.0, None, "cardiology")
    assert "rag: cached answer" in hit.reasons
    with client(gw, team_key(gw, "oncology")) as c:
        assert c.post("/v1/rag/erase", json={"subject": "patient-kidney", "collections": ["cardio"]}).status_code == 403
    with client(gw, key) as c:
        # Administering the collection is not enough: erasure (which rewrites the store) needs rag:erase.
        denied = c.post("/v1/rag/erase", json={"subject": "patient-kidney"})
        assert denied.status_code == 403 and "rag:erase" in denied.json()["error"]["message"]
    with client(gw, team_key(gw, "cardiology", roles=("privacy",))) as c:
        r = c.post("/v1/rag/erase", json={"subject": "patient-kidney"})
        assert r.status_code == 200 and r.json()["erased"] == {"cardio": 1}
        hits = c.post("/v1/rag/search", json={"collections": ["cardio"], "query": "dialysis kidneys"}).json()["data"]
        assert all(h["provenance"]["document"] != "kidney" for h in hits)
    after = sdk.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    assert "x-switchyard-cache" not in after.headers and len(upstream.requests) == sent + 1


def test_any_key_can_no_longer_make_the_store_compact(gw: RunningGateway) -> None:
    """The exploit: any valid key POSTed /v1/rag/erase for a subject in no collection of its own, and the
    store was compacted (VACUUM under the store lock) each time. Now erasure needs rag:erase, and an
    erasure that erased nothing compacts nothing."""
    with client(gw, team_key(gw, "anyone")) as c:
        r = c.post("/v1/rag/erase", json={"subject": "nobody"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_action"
    with client(gw, team_key(gw, "anyone", roles=("privacy",))) as c:
        r = c.post("/v1/rag/erase", json={"subject": "nobody"})
        assert r.status_code == 200 and r.json()["erased"] == {}


def test_collections_and_documents_have_per_team_quotas(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    cfg = rag_config(upstream.url, tmp_path / "models")
    cfg.rag.max_collections_per_team = 1
    cfg.rag.max_documents_per_team = 2
    gw = gateway_factory(cfg, classify=lambda _req: set())
    with client(gw, team_key(gw, "small")) as c:
        assert c.post("/v1/rag/collections", json={"name": "one"}).status_code == 201
        second = c.post("/v1/rag/collections", json={"name": "two"})
        assert second.status_code == 429 and second.json()["error"]["code"] == "quota_exceeded"
        docs = [{"id": f"d{i}", "text": f"document number {i}"} for i in range(3)]
        too_many = c.post("/v1/rag/collections/one/documents", json={"documents": docs})
        assert too_many.status_code == 429 and "max_documents_per_team" in too_many.json()["error"]["message"]
        assert c.post("/v1/rag/collections/one/documents", json={"documents": docs[:2]}).status_code == 201
        assert c.post("/v1/rag/collections/one/documents", json={"documents": docs[2:]}).status_code == 429
    with client(gw) as admin:  # the admin key is exempt
        assert admin.post("/v1/rag/collections", json={"name": "three"}).status_code == 201


def test_confidential_context_is_not_sent_out_masked_unless_the_route_says_so(
    upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    """The exploit: on a route with ``pseudonymize: true`` a confidential collection's retrieved context
    went to the cloud model with only the detected spans masked. Now such context stays in the residency
    rules' localities unless the route also sets ``pseudonymize_context``."""
    cfg = rag_config(upstream.url, tmp_path / "models")
    cfg.routes[0].policy.pseudonymize = True  # auto: cloud first, then onprem; health -> on_prem
    gw = gateway_factory(cfg, classify=lambda _texts: set())
    _cardiology(gw)
    sdk = openai.OpenAI(base_url=gw.v1, api_key=team_key(gw, "cardiology"), max_retries=0)
    ask = {
        "model": "auto",
        "messages": [{"role": "user", "content": "what filters blood when kidneys fail?"}],
        "extra_body": {"switchyard": {"collections": ["cardio"], "k": 1}},
    }
    raw = sdk.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    assert raw.headers["x-switchyard-model"] == "onprem"
    assert all('"model":"cloud"' not in r.raw.decode().replace(" ", "") for r in upstream.requests)

    cfg2 = rag_config(upstream.url, tmp_path / "models2")
    cfg2.routes[0].policy.pseudonymize = True
    cfg2.routes[0].policy.pseudonymize_context = True  # said in so many words
    gw2 = gateway_factory(cfg2, classify=lambda _texts: set())
    _cardiology(gw2)
    sdk2 = openai.OpenAI(base_url=gw2.v1, api_key=team_key(gw2, "cardiology"), max_retries=0)
    raw2 = sdk2.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    assert (
        raw2.headers["x-switchyard-model"] == "cloud"
        and "pseudonymized for cloud" in raw2.headers["x-switchyard-reason"]
    )


def test_a_collection_without_searchable_words_is_searched_without_error(gw: RunningGateway) -> None:
    """Found by the fuzzer: BM25 over chunks with no indexable word (only numbers) raised a 500."""
    with client(gw) as c:
        assert c.post("/v1/rag/collections", json={"name": "digits"}).status_code == 201
        docs = {"documents": [{"id": "d0", "text": "0"}]}
        assert c.post("/v1/rag/collections/digits/documents", json=docs).status_code == 201
        r = c.post("/v1/rag/search", json={"collections": ["digits"], "query": "zero"})
        assert r.status_code == 200
