"""/v1/messages through the real gateway with the official anthropic SDK, in front of a loopback
upstream that speaks the Anthropic Messages format natively, and of an OpenAI-format one."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from switchyard.config import ModelConfig, Price
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import config, openai_model


def claude(url: str) -> ModelConfig:
    return ModelConfig(
        name="claude-mock",
        provider="anthropic",
        base_url=url,
        upstream_model="mock-model",
        api_key_env="MOCK_ANTHROPIC_KEY",
        locality="us",
        price=Price(input=3.0, output=15.0, cached_input=0.3),
    )


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = config(claude(upstream.url), openai_model("gpt-mock", upstream.url))
    return gateway_factory(cfg, environ={"MOCK_ANTHROPIC_KEY": "upstream-secret"})


def client(gw) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=gw.url, api_key=ADMIN_KEY, max_retries=0, timeout=20)


def test_message_from_anthropic_upstream(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.ok(cached_tokens=2)])
    msg = client(gw).messages.create(
        model="claude-mock",
        max_tokens=50,
        system="be brief",
        messages=[{"role": "user", "content": "hello anthropic"}],
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: hello anthropic"
    assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "upstream-secret"
    assert sent.body["system"] == "be brief" and sent.body["max_tokens"] == 50
    gw.flush()
    rec = gw.ledger().recent(1)[0]
    assert (rec.endpoint, rec.served_model, rec.provider, rec.status) == ("messages", "claude-mock", "anthropic", 200)
    assert rec.cached_tokens == 2 and rec.output_tokens == msg.usage.output_tokens
    assert rec.cost > 0


def test_streamed_message_and_tools(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    with client(gw).messages.stream(
        model="claude-mock", max_tokens=50, messages=[{"role": "user", "content": "stream this please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream this please"
    assert final.usage.output_tokens > 0 and final.stop_reason == "end_turn"

    upstream.script([Fault.tool_call("lookup", {"q": "x"})])
    msg = client(gw).messages.create(
        model="claude-mock",
        max_tokens=50,
        tools=[{"name": "lookup", "description": "find", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "use the tool"}],
    )
    assert msg.stop_reason == "tool_use"
    block = next(b for b in msg.content if b.type == "tool_use")
    assert block.name == "lookup" and block.input == {"q": "x"}
    gw.flush()
    assert {r.status for r in gw.ledger().recent(5)} == {200}


def test_anthropic_client_against_an_openai_upstream(gw) -> None:  # type: ignore[no-untyped-def]
    with client(gw).messages.stream(
        model="gpt-mock", max_tokens=20, messages=[{"role": "user", "content": "cross format"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "echo: cross format"


def test_anthropic_errors_are_anthropic_shaped(gw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.NotFoundError):
        client(gw).messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    r = httpx.post(gw.url + "/v1/messages", json={"model": "claude-mock"}, headers={"x-api-key": ADMIN_KEY})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"] or "messages" in body["error"]["message"]
    r = httpx.post(gw.url + "/v1/messages", json={"model": "claude-mock"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
