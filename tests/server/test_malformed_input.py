"""Malformed input is refused at the edge with a 400 that names the field, before any policy or upstream
sees it (issue 11 #7, #11)."""

from __future__ import annotations

import httpx

from switchyard.config import GatewayConfig, RouteConfig, RoutePolicy
from switchyard.testing import MockUpstream
from switchyard.types import MAX_MESSAGES
from tests.conftest import ADMIN_KEY

from .configs import openai_model


def post(gw, body: dict[str, object]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        gw.v1 + "/chat/completions", json=body, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )


def test_a_text_part_whose_text_is_not_a_string_is_refused_not_sent(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The exploit: the detector read the list's text and found the SSN, the masking step skipped the
    part (not a string), and the upstream outside the perimeter received the SSN in clear."""
    with MockUpstream() as external:
        cfg = GatewayConfig(
            models=[openai_model("external", external.url, locality="us")],
            routes=[
                RouteConfig(
                    name="masked",
                    models=["external"],
                    policy=RoutePolicy(residency={"pii": ["on_prem"]}, pseudonymize=True),
                )
            ],
        )
        gw = gateway_factory(cfg)
        part = {"type": "text", "text": ["My SSN is 123-45-6789, call me at 617-555-0142"]}
        r = post(gw, {"model": "masked", "messages": [{"role": "user", "content": [part]}]})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["param"] == "messages.0.content" and "not a string" in err["message"]
        untyped = post(gw, {"model": "masked", "messages": [{"role": "user", "content": [{"text": "hi"}]}]})
        assert untyped.status_code == 400 and untyped.json()["error"]["param"] == "messages.0.content"
        assert external.requests == []
        ok = post(gw, {"model": "masked", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
        assert ok.status_code == 200


def test_the_message_count_is_bounded(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    many = [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1)
    r = post(gw, {"model": "m", "messages": many})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    assert str(MAX_MESSAGES) in r.json()["error"]["message"]
    assert upstream.requests == []
