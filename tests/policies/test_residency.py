"""Residency through the real gateway: sensitive requests only reach upstreams in allowed localities,
or are refused with 403 — asserted on what the upstreams received."""

from __future__ import annotations

from collections.abc import Sequence

import openai
import pytest

from switchyard.config import GatewayConfig, RouteConfig, RoutePolicy
from switchyard.testing import MockUpstream
from tests.conftest import ADMIN_KEY
from tests.server.configs import masked_route, openai_model


def keyword_classifier(texts: Sequence[str]) -> set[str]:
    """A stand-in detector for policy tests (the real one is tested in tests/sensitivity)."""
    text = " ".join(texts).lower()
    return {cls for cls in ("health", "pii") if f"[{cls}]" in text}


@pytest.fixture
def setup(gateway_factory):  # type: ignore[no-untyped-def]
    with MockUpstream() as onprem, MockUpstream() as external:
        cfg = GatewayConfig(
            models=[
                openai_model("external", external.url, locality="us"),
                openai_model("eu-model", external.url, upstream_model="mock-b", locality="eu"),
                openai_model("local", onprem.url, locality="on_prem"),
            ],
            routes=[
                RouteConfig(
                    name="auto",
                    models=["external", "eu-model", "local"],
                    policy=RoutePolicy(residency={"health": ["on_prem"], "pii": ["on_prem", "eu"]}),
                ),
                RouteConfig(name="cloud", models=["external"]),
            ],
            default_policy=RoutePolicy(residency={"health": ["on_prem"]}),
        )
        gw = gateway_factory(cfg, classify=keyword_classifier)
        yield gw, onprem, external


def ask(gw, model: str, text: str):  # type: ignore[no-untyped-def]
    c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
    return c.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": text}])


def test_health_data_stays_on_prem(setup) -> None:  # type: ignore[no-untyped-def]
    gw, onprem, external = setup
    raw = ask(gw, "auto", "[health] patient notes")
    assert raw.headers["x-switchyard-model"] == "local"
    assert "residency: health -> on_prem" in raw.headers["x-switchyard-reason"]
    assert not any("patient" in r.raw.decode() for r in external.requests)
    assert any("patient" in r.raw.decode() for r in onprem.requests)
    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert rec.classes == ["health"] and rec.locality == "on_prem"


def test_pii_may_go_to_the_eu_but_not_the_us(setup) -> None:  # type: ignore[no-untyped-def]
    gw, _, external = setup
    raw = ask(gw, "auto", "[pii] my address")
    assert raw.headers["x-switchyard-model"] == "eu-model"
    assert {r.model for r in external.requests} == {"mock-b"}


def test_no_qualifying_candidate_is_403_not_egress(setup) -> None:  # type: ignore[no-untyped-def]
    gw, _, external = setup
    with pytest.raises(openai.PermissionDeniedError) as info:
        ask(gw, "cloud", "[health] chart")  # the route has no rules: the default policy's apply
    assert "health" in str(info.value) and "on_prem" in str(info.value)
    with pytest.raises(openai.PermissionDeniedError):
        ask(gw, "external", "[health] chart")  # a direct call is governed by the default policy too
    assert external.requests == []
    ok = ask(gw, "cloud", "nothing sensitive here")
    assert ok.headers["x-switchyard-model"] == "external"


def test_real_detector_keeps_a_clinical_note_on_prem(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The shipped detector, end to end: a nursing note naming a patient is health data; it is served
    on-prem, and the external upstream receives nothing of it."""
    note = (
        "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. BP 150/90, HR 104. "
        "ON METOPROLOL 25MG BID. WIFE MARY AT BEDSIDE, CALL 617-555-0142."
    )
    with MockUpstream() as onprem, MockUpstream() as external:
        cfg = GatewayConfig(
            models=[
                openai_model("external", external.url, locality="us"),
                openai_model("local", onprem.url, locality="on_prem"),
            ],
            routes=[
                RouteConfig(
                    name="auto",
                    models=["external", "local"],
                    policy=RoutePolicy(residency={"health": ["on_prem"], "pii": ["on_prem", "eu"]}),
                )
            ],
        )
        gw = gateway_factory(cfg)  # no classifier injected: the gateway builds its detector
        raw = ask(gw, "auto", note)
        assert raw.headers["x-switchyard-model"] == "local"
        assert external.requests == []
        assert "MILLER" in onprem.requests[-1].raw.decode()
        plain = ask(gw, "auto", "What is the boiling point of water at sea level?")
        assert plain.headers["x-switchyard-model"] == "external"
        gw.flush()
        rec = gw.ledger().get(raw.headers["x-request-id"])
        assert "health" in rec.classes and rec.locality == "on_prem"


def test_pseudonymized_text_leaves_masked_and_comes_back_restored(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    text = "My name is John Miller and my email is john.miller@example.com, phone 617-555-0142."
    with MockUpstream() as external:
        gw = gateway_factory(masked_route(external.url))
        raw = ask(gw, "masked", text)
        assert raw.parse().choices[0].message.content == "echo: " + text
        assert "pseudonymized for external" in raw.headers["x-switchyard-reason"]
        sent = external.requests[-1].raw.decode()
        for secret in ("John Miller", "john.miller@example.com", "617-555-0142"):
            assert secret not in sent
        c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        stream = c.chat.completions.create(model="masked", messages=[{"role": "user", "content": text}], stream=True)
        assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices) == "echo: " + text
        assert "john.miller@example.com" not in external.requests[-1].raw.decode()


def test_health_data_is_refused_for_a_remote_embedding_model(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """/v1/embeddings passes residency like chat: with the shipped detector, a clinical note is health data,
    the only embedding model is outside the perimeter, so the SDK gets 403 and the upstream receives nothing.
    (Before the call core, embeddings skipped residency and the note went out.)"""
    note = "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. ON METOPROLOL 25MG BID."
    with MockUpstream() as external:
        cfg = GatewayConfig(
            models=[openai_model("remote-embed", external.url, kind="embedding", locality="us")],
            default_policy=RoutePolicy(residency={"health": ["on_prem"]}),
        )
        gw = gateway_factory(cfg)
        c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as info:
            c.embeddings.create(model="remote-embed", input=[note])
        assert info.value.code == "residency_violation"
        assert external.requests == []
        ok = c.embeddings.with_raw_response.create(model="remote-embed", input=["the boiling point of water"])
        assert ok.headers["x-switchyard-model"] == "remote-embed" and len(external.requests) == 1


def remote_and_local(external: MockUpstream, onprem: MockUpstream, **policy: object) -> GatewayConfig:
    return GatewayConfig(
        models=[
            openai_model("external", external.url, locality="us"),
            openai_model("local", onprem.url, locality="on_prem"),
        ],
        routes=[
            RouteConfig(
                name="auto", models=["external", "local"], policy=RoutePolicy(residency={"pii": ["on_prem"]}, **policy)
            )
        ],
    )


def test_a_tool_description_is_scanned_like_a_message(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The exploit: only messages were scanned, so personal data in a tool's description or schema (or in
    `user`, a message name, an unknown field) went out of the perimeter."""
    with MockUpstream() as onprem, MockUpstream() as external:
        gw = gateway_factory(remote_and_local(external, onprem))
        c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        tool = {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look up the account of Mary Okafor, phone 617-555-0142.",
                "parameters": {"type": "object", "properties": {}},
            },
        }
        raw = c.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "what is the weather?"}], tools=[tool]
        )
        assert raw.headers["x-switchyard-model"] == "local" and external.requests == []
        raw = c.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hello"}], extra_body={"note": "call 617-555-0142"}
        )
        assert raw.headers["x-switchyard-model"] == "local" and external.requests == []


@pytest.mark.parametrize(("setting", "outcome"), [("restrict", "local"), ("refuse", 403), ("allow", "external")])
def test_an_image_cannot_be_scanned_so_the_route_decides(gateway_factory, setting: str, outcome: object) -> None:  # type: ignore[no-untyped-def]
    with MockUpstream() as onprem, MockUpstream() as external:
        gw = gateway_factory(remote_and_local(external, onprem, unscannable=setting))
        c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        content = [{"type": "text", "text": "what is in this scan?"}, image]
        if outcome == 403:
            with pytest.raises(openai.PermissionDeniedError) as info:
                c.chat.completions.create(model="auto", messages=[{"role": "user", "content": content}])
            assert info.value.code == "unscannable_content" and external.requests == []
            return
        raw = c.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": content}])
        assert raw.headers["x-switchyard-model"] == outcome


def test_pseudonymization_masks_tool_definitions_too(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    with MockUpstream() as external:
        gw = gateway_factory(masked_route(external.url))
        c = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0)
        tool = {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look up the account of Mary Okafor, phone 617-555-0142.",
                "parameters": {
                    "type": "object",
                    "properties": {"who": {"type": "string", "description": "e.g. mary.okafor@example.com"}},
                },
            },
        }
        c.chat.completions.create(
            model="masked",
            messages=[{"role": "user", "content": "hello"}],
            tools=[tool],
            user="mary.okafor@example.com",
        )
        sent = external.requests[-1].raw.decode()
        for secret in ("617-555-0142", "mary.okafor@example.com", "Mary Okafor"):
            assert secret not in sent


def test_a_large_request_is_classified_in_the_worker_process(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """Over 64 KB the shipped detector runs in its worker process; the decision is the same."""
    note = "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. CALL 617-555-0142. "
    with MockUpstream() as onprem, MockUpstream() as external:
        gw = gateway_factory(remote_and_local(external, onprem))
        raw = ask(gw, "auto", note + "the ward was quiet tonight. " * 3000)
        assert raw.headers["x-switchyard-model"] == "local" and external.requests == []
        assert gw.gateway.detector_process is not None and gw.gateway.detector_process._pool is not None
