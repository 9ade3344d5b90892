"""The OpenAI-compatible endpoints through a real gateway, with the official openai SDK as the client
and a real loopback upstream; every scenario checks the ledger rows it produced."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from switchyard.keys import create_key
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import config, openai_model


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = config(
        openai_model("gpt-mock", upstream.url),
        openai_model("cheap-mock", upstream.url, upstream_model="mock-b", tier="standard"),
        routes={"auto": ["gpt-mock", "cheap-mock"]},
    )
    return gateway_factory(cfg)


def client(gw, key: str = ADMIN_KEY) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0, timeout=20)


def test_chat_completion_is_served_and_recorded(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    raw = client(gw).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello there"}], max_tokens=20, temperature=0.1
    )
    resp = raw.parse()
    assert resp.choices[0].message.content == "echo: hello there"
    assert raw.headers["x-switchyard-route"] == "auto"
    assert raw.headers["x-switchyard-model"] == "gpt-mock"
    assert resp.usage is not None and resp.usage.prompt_tokens > 0
    sent = upstream.requests[-1].body
    assert sent["model"] == "mock-model" and sent["max_tokens"] == 20 and sent["temperature"] == 0.1

    gw.flush()
    rec = gw.ledger().get(raw.headers["x-request-id"])
    assert rec is not None
    assert (rec.status, rec.served_model, rec.route, rec.provider, rec.locality) == (
        200,
        "gpt-mock",
        "auto",
        "openai",
        "us",
    )
    assert rec.input_tokens == resp.usage.prompt_tokens and rec.output_tokens == resp.usage.completion_tokens
    assert not rec.tokens_estimated
    expected = (rec.input_tokens * 2.0 + rec.output_tokens * 8.0) / 1e6
    assert rec.cost == pytest.approx(expected)
    assert [a.status for a in rec.attempts] == ["ok"] and rec.fallback_chain == ["gpt-mock"]


def test_stream_with_usage(gw) -> None:  # type: ignore[no-untyped-def]
    stream = client(gw).chat.completions.create(
        model="gpt-mock",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    gw.flush()
    rec = gw.ledger().recent(1)[0]
    assert rec.stream and rec.status == 200 and rec.output_tokens == chunks[-1].usage.completion_tokens
    assert rec.ttft_ms is not None and rec.ttft_ms <= rec.latency_ms


def test_tools_and_response_format_pass_through(gw, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.tool_call("get_weather", {"city": "Paris"})])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    resp = client(gw).chat.completions.create(
        model="gpt-mock",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="auto",
        seed=7,
        user="u1",
        stop=["\n\n"],
        response_format={"type": "json_object"},
    )
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert resp.choices[0].finish_reason == "tool_calls"
    sent = upstream.requests[-1].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["seed"] == 7 and sent["user"] == "u1" and sent["response_format"] == {"type": "json_object"}


def test_unknown_fields_are_dropped_unless_the_model_passes_them(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(
        config(
            openai_model("strict", upstream.url),
            openai_model("open", upstream.url, unknown_params="pass", params={"top_k": 5}),
        )
    )
    c = client(gw)
    for name in ("strict", "open"):
        c.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "x"}], extra_body={"repetition_penalty": 1.1}
        )
    strict, open_ = upstream.requests[-2].body, upstream.requests[-1].body
    assert "repetition_penalty" not in strict and "top_k" not in strict
    assert open_["repetition_penalty"] == 1.1 and open_["top_k"] == 5


def test_embeddings_and_models(gw) -> None:  # type: ignore[no-untyped-def]
    # the mock serves embeddings on any model name
    c = client(gw)
    models = {m.id for m in c.models.list()}
    assert {"gpt-mock", "cheap-mock", "auto"} <= models


def test_keys_are_hashed_and_checked(gw) -> None:  # type: ignore[no-untyped-def]
    record, secret = create_key(gw.gateway.store, "team-a")
    stored = gw.ledger().list_keys()
    assert all(secret not in (k.secret_hash, k.prefix) for k in stored)
    resp = client(gw, secret).chat.completions.create(model="gpt-mock", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "echo: hi"
    with pytest.raises(openai.AuthenticationError):
        client(gw, "sy-wrong").chat.completions.create(model="gpt-mock", messages=[{"role": "user", "content": "hi"}])
    gw.gateway.store.revoke_key(record.id)
    gw.gateway.auth._cache.clear()
    with pytest.raises(openai.AuthenticationError):
        client(gw, secret).chat.completions.create(model="gpt-mock", messages=[{"role": "user", "content": "hi"}])
    gw.flush()
    teams = {r.team for r in gw.ledger().recent(10)}
    assert "team-a" in teams


BAD_INPUTS = [
    # (body bytes, headers, status, param or message fragment)
    (b"{not json", {}, 400, "malformed JSON"),
    (b"[]", {}, 400, "JSON object"),
    (b'{"model": "gpt-mock"}', {}, 400, "messages"),
    (b'{"model": "gpt-mock", "messages": "hi"}', {}, 400, "messages"),
    (b'{"model": "gpt-mock", "messages": [{"role": "wizard", "content": "x"}]}', {}, 400, "messages.0.role"),
    (
        b'{"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
        {},
        400,
        "temperature",
    ),
    (b'{"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}', {}, 400, "max_tokens"),
    (b'{"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}], "n": 3}', {}, 400, "n"),
    (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', {}, 404, "nope"),
]


@pytest.mark.parametrize(("body", "headers", "status", "fragment"), BAD_INPUTS)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(gw, body, headers, status, fragment) -> None:  # type: ignore[no-untyped-def]
    h = {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json", **headers}
    r = httpx.post(gw.v1 + "/chat/completions", content=body, headers=h)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert fragment in err["message"] or fragment == err["param"]
    ok = httpx.post(
        gw.v1 + "/chat/completions",
        json={"model": "gpt-mock", "messages": [{"role": "user", "content": "still there?"}]},
        headers=h,
    )
    assert ok.status_code == 200


def test_auth_and_size_errors(gw) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(gw.v1 + "/chat/completions", json=body)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    big = {"model": "gpt-mock", "messages": [{"role": "user", "content": "x" * (5 * 1024 * 1024)}]}
    r = httpx.post(gw.v1 + "/chat/completions", json=big, headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert httpx.get(gw.url + path).status_code == 200
    paths = httpx.get(gw.url + "/openapi.json").json()["paths"]
    assert "/v1/chat/completions" in paths and "/metrics" in paths
    from switchyard.server import (
        admin_routes,
        anthropic_routes,
        metrics_routes,
        openai_routes,
        rag_routes,
        responses_routes,
    )

    for module in (openai_routes, responses_routes, anthropic_routes, admin_routes, metrics_routes, rag_routes):
        for route in module.routes:  # every API route is documented, with each of its methods
            path = route.path.replace(":path}", "}")
            assert path in paths, path
            assert {m.lower() for m in route.methods or ()} - {"head"} <= set(paths[path]), path
    assert httpx.get(gw.url + "/v2/nothing").status_code == 404
