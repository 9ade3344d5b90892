"""What the upstream says about the gateway's own credentials does not reach the client, and a redirect
does not carry the gateway's API key elsewhere (issue 11, low)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from switchyard.config import GatewayConfig
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import openai_model

UPSTREAM_KEY = "sk-proj-Zq81yT0pLm4Rk2Vw9Xc7Nb5Ha3Gd6Fs1"


def chat(gw) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        gw.v1 + "/chat/completions", json=body, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=20
    )


def test_an_upstream_401_does_not_echo_the_key_tail(upstream: MockUpstream, gateway_factory, caplog) -> None:  # type: ignore[no-untyped-def]
    """The exploit: OpenAI's 401 says "Incorrect API key provided: sk-proj-****...Fs1"; the gateway passed
    that message to any client, leaking part of the gateway's own key."""
    gw = gateway_factory(
        GatewayConfig(models=[openai_model("m", upstream.url, api_key_env="UP_KEY", retry={"max_retries": 0})]),
        environ={"UP_KEY": UPSTREAM_KEY},
    )
    upstream.set_default(Fault.status(401, f"Incorrect API key provided: sk-proj-********{UPSTREAM_KEY[-12:]}"))
    r = chat(gw)
    assert r.status_code == 502
    message = r.json()["error"]["message"]
    assert message == "upstream answered 401: the upstream refused the gateway's credentials"
    assert UPSTREAM_KEY[-12:] not in caplog.text  # the log has the upstream's words, redacted
    assert "Incorrect API key provided" in caplog.text


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("location", self.target + self.path)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting(upstream: MockUpstream) -> Iterator[str]:
    handler = type("Redirect", (_Redirect,), {"target": upstream.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_does_not_carry_the_api_key(redirecting: str, upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(
        GatewayConfig(models=[openai_model("m", redirecting, api_key_env="UP_KEY", retry={"max_retries": 0})]),
        environ={"UP_KEY": UPSTREAM_KEY},
    )
    r = chat(gw)
    assert r.status_code == 502 and "307" in r.json()["error"]["message"]
    assert upstream.requests == []  # the redirect target never saw the request, nor the key
