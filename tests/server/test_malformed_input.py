"""Malformed or unbounded input is refused at the edge with a 400 that names the field (or a 503 past the
connection bound), before any policy or upstream sees it (issue 11 #7, #11)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from switchyard.config import GatewayConfig
from switchyard.testing import MockUpstream
from switchyard.types import MAX_MESSAGES, MAX_OUTPUT_TOKENS
from tests.conftest import ADMIN_KEY, free_port

from .configs import masked_route, openai_model


def post(gw, body: dict[str, object]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        gw.v1 + "/chat/completions", json=body, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )


def test_a_text_part_whose_text_is_not_a_string_is_refused_not_sent(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The exploit: the detector read the list's text and found the SSN, the masking step skipped the
    part (not a string), and the upstream outside the perimeter received the SSN in clear."""
    with MockUpstream() as external:
        gw = gateway_factory(masked_route(external.url))
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


def test_max_tokens_is_bounded(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    msg = [{"role": "user", "content": "x"}]
    r = post(gw, {"model": "m", "messages": msg, "max_tokens": MAX_OUTPUT_TOKENS + 1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
    assert upstream.requests == []


def test_serve_answers_503_past_max_connections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The process bounds its open connections: with a bound of 2, one held open and the request's own, the
    request gets 503 at once."""
    config = tmp_path / "gw.yaml"
    config.write_text(
        "models:\n  - {name: m, provider: openai, base_url: 'http://127.0.0.1:9/v1', locality: us}\n"
        "routes: [{name: auto, models: [m]}]\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "SWITCHYARD_CONFIG": str(config),
        "SWITCHYARD_DB_PATH": str(tmp_path / "l.db"),
        "SWITCHYARD_MAX_CONNECTIONS": "2",  # counts the connection being answered too
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        time.sleep(0.5)  # the probe's connection is gone
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # held open, no request
            time.sleep(0.2)
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            assert r.status_code == 503
        # Once the held connection is closed (and noticed), requests are served again.
        statuses = []
        for _ in range(50):
            statuses.append(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code)
            if statuses[-1] == 200:
                break
            time.sleep(0.1)
        assert statuses[-1] == 200, statuses
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_values_of_the_wrong_json_type_are_refused_not_coerced(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The OpenAPI document says integer, number, boolean: a fuzzer's ``false`` or ``"5"`` where an integer is
    documented must be a 400 naming the field, not quietly read as 0 or 5 (pydantic's lax mode did)."""
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    msg = [{"role": "user", "content": "x"}]
    for field, value in [
        ("max_tokens", False),
        ("max_tokens", "5"),
        ("max_tokens", 5.5),
        ("stream", "true"),
        ("stream", 1),
        ("temperature", "1"),
        ("seed", True),
        ("n", "1"),
        ("seed", -9223372036854775809),  # past int64: JSON parsers read it as a float, -2**63 once rounded
        ("seed", 2**63),
    ]:
        r = post(gw, {"model": "m", "messages": msg, field: value})
        assert r.status_code == 400, (field, value, r.text)
        assert r.json()["error"]["param"] == field, (field, value)
    r = post(gw, {"model": "m", "messages": msg, "stream_options": {"include_usage": "yes"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream_options.include_usage"
    assert upstream.requests == []
    assert post(gw, {"model": "m", "messages": msg, "max_tokens": 5, "temperature": 1}).status_code == 200
    # JSON Schema's "integer" includes 5.0, so the document admits it: it is the integer 5
    assert post(gw, {"model": "m", "messages": msg, "max_tokens": 5.0}).status_code == 200
    assert upstream.requests[-1].body["max_tokens"] == 5


def test_anthropic_values_of_the_wrong_json_type_are_refused(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    msg = [{"role": "user", "content": "x"}]
    headers = {"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
    for field, value in [("max_tokens", "100"), ("max_tokens", True), ("stream", "false"), ("top_k", "3")]:
        body = {"model": "m", "messages": msg, "max_tokens": 100, field: value}
        r = httpx.post(gw.url + "/v1/messages", json=body, headers=headers, timeout=30)
        assert r.status_code == 400, (field, value, r.text)
        assert field in r.json()["error"]["message"], (field, value)
    assert upstream.requests == []


def test_anthropic_top_k_past_64_bits_is_refused_as_the_document_says(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    """The fuzzer found the document admitting any non-negative top_k while the server refused 2**63 (past
    int64, read as a float): both now say the same."""
    gw = gateway_factory(GatewayConfig(models=[openai_model("m", upstream.url)]))
    headers = {"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10, "top_k": 2**63}
    r = httpx.post(gw.url + "/v1/messages", json=body, headers=headers, timeout=30)
    assert r.status_code == 400 and "top_k" in r.json()["error"]["message"]
    doc = httpx.get(gw.url + "/openapi.json", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30).json()
    found = [
        s["properties"]["top_k"] for s in doc["components"]["schemas"].values() if "top_k" in s.get("properties", {})
    ]
    top_k = found[0]["anyOf"][0] if "anyOf" in found[0] else found[0]
    assert found and top_k["minimum"] == 0 and top_k["exclusiveMaximum"] == 2**63
    body["top_k"] = 2**63 - 1
    assert httpx.post(gw.url + "/v1/messages", json=body, headers=headers, timeout=30).status_code == 200
