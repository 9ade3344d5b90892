"""The mock upstream, driven by the official openai and anthropic SDKs and by raw httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import anthropic
import httpx
import httpx2
import openai
import pytest

import switchyard.testing
from switchyard.testing import Answer, AnswerCall, Fault, FaultKind, MockUpstream, _wire
from switchyard.wire.anthropic import finish_reason

TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        },
    }
]
HELLO: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello mock world"},
]


@pytest.fixture(scope="module")
def server() -> Iterator[MockUpstream]:
    with MockUpstream() as upstream:
        yield upstream


@pytest.fixture
def upstream(server: MockUpstream) -> MockUpstream:
    server.reset()
    return server


@pytest.fixture(scope="module")
def oai(server: MockUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def claude(server: MockUpstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=5) as client:
        yield client


def test_public_api_matches_all() -> None:
    from switchyard.testing import answers, mock_upstream, replay

    homes = (answers, mock_upstream, replay)
    for name in switchyard.testing.__all__:
        assert any(getattr(switchyard.testing, name) is getattr(m, name, None) for m in homes), name
    public = {n for n in dir(switchyard.testing) if not n.startswith("_") and n[0].isupper()}
    assert public == set(switchyard.testing.__all__)


# --- OpenAI wire format -------------------------------------------------------------------------------


def test_openai_completion_echoes_and_counts_words(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="gpt-mock", messages=HELLO)
    assert resp.choices[0].message.content == "echo: hello mock world"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "gpt-mock"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (5, 4, 9)


def test_openai_max_tokens_truncates_with_length(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="m", messages=HELLO, max_tokens=2)
    assert resp.choices[0].message.content == "echo: hello"
    assert resp.choices[0].finish_reason == "length"


def test_openai_stream_with_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(model="m", messages=HELLO, stream=True, stream_options={"include_usage": True})
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello mock world"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_stream_without_usage_ends_with_done(upstream: MockUpstream) -> None:
    body = {"model": "m", "messages": HELLO, "stream": True}
    with httpx.Client(base_url=upstream.url) as client:
        r = client.post("/v1/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert all("usage" not in json.loads(e[6:]) for e in events[:-1])


def test_openai_tool_call_when_required(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="m", messages=HELLO, tools=TOOLS, tool_choice="required")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "hello mock world", "days": 1}
    auto = oai.chat.completions.create(model="m", messages=HELLO, tools=TOOLS)
    assert auto.choices[0].message.content == "echo: hello mock world"


def test_openai_scripted_tool_call_streams(upstream: MockUpstream, oai: openai.OpenAI) -> None:
    upstream.script([Fault.tool_call("lookup", {"query": "a fairly long query string"})])
    stream = oai.chat.completions.create(model="m", messages=HELLO, stream=True)
    calls = [tc for c in stream if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].id and calls[0].function is not None and calls[0].function.name == "lookup"
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == {"query": "a fairly long query string"}
    assert len(calls) > 2  # the arguments come in several fragments


def test_answer_hook_gives_tool_calls_as_sent() -> None:
    """Parallel calls from an ``answer`` hook, broken arguments included, on both wires, streamed or not."""
    calls = (AnswerCall("get_weather", '{"city": "Oslo", "days": 2}'), AnswerCall("get_weather", '{"city": "Rome",'))

    def hook(route: str, body: dict[str, object]) -> Answer:
        return Answer("", 7, 11, tool_calls=calls)

    with (
        MockUpstream(answer=hook) as up,
        openai.OpenAI(base_url=up.url + "/v1", api_key="x", max_retries=0, timeout=5) as client,
    ):
        resp = client.chat.completions.create(model="m", messages=HELLO, tools=TOOLS)
        choice = resp.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        got = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or [] if c.type == "function"]
        assert got == [(c.name, c.arguments) for c in calls]
        assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (7, 11)
        pieces: dict[int, str] = {}
        for chunk in client.chat.completions.create(model="m", messages=HELLO, tools=TOOLS, stream=True):
            for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                pieces[delta.index] = pieces.get(delta.index, "") + (
                    delta.function.arguments or "" if delta.function else ""
                )
        assert [pieces[0], pieces[1]] == [c.arguments for c in calls]
        with anthropic.Anthropic(base_url=up.url, api_key="x", max_retries=0, timeout=5) as claude:
            msg = claude.messages.create(model="m", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        assert msg.stop_reason == "tool_use"
        assert [b.input for b in msg.content if b.type == "tool_use"] == [
            {"city": "Oslo", "days": 2},
            '{"city": "Rome",',
        ]


def test_embeddings_are_deterministic_unit_vectors(oai: openai.OpenAI) -> None:
    first = oai.embeddings.create(model="e", input=["alpha", "beta"])  # the SDK asks for base64
    again = oai.embeddings.create(model="e", input="alpha", encoding_format="float")
    assert [len(d.embedding) for d in first.data] == [8, 8]
    assert first.data[0].embedding == pytest.approx(again.data[0].embedding, abs=1e-6)
    assert first.data[0].embedding != first.data[1].embedding
    assert math.isclose(sum(v * v for v in again.data[0].embedding), 1.0, rel_tol=1e-6)
    assert first.usage.prompt_tokens == 2
    assert len(oai.embeddings.create(model="e", input="x", dimensions=32).data[0].embedding) == 32


def test_embeddings_base64_raw(upstream: MockUpstream) -> None:
    body = {"model": "e", "input": "alpha", "encoding_format": "base64"}
    r = httpx.post(upstream.url + "/v1/embeddings", json=body)
    vector = struct.unpack("<8f", base64.b64decode(r.json()["data"][0]["embedding"]))
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)


def test_models(upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    assert [m.id for m in oai.models.list()] == ["mock-model"]
    assert [m.id for m in claude.models.list()] == ["mock-model"]
    assert upstream.pending == 0


# --- Anthropic wire format ----------------------------------------------------------------------------


def test_anthropic_message_with_cache_reads(upstream: MockUpstream, claude: anthropic.Anthropic) -> None:
    upstream.script([Fault.ok(cached_tokens=2)])
    msg = claude.messages.create(
        model="claude-mock", max_tokens=100, system="be brief", messages=[{"role": "user", "content": "hi there"}]
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: hi there"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.output_tokens) == (2, 2, 3)


def test_anthropic_stream_event_sequence(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="m", max_tokens=3, messages=[{"role": "user", "content": "one two three four"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(kinds)
    assert final.content[0].type == "text" and final.content[0].text == "echo: one two"
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 3


def test_anthropic_tool_use(claude: anthropic.Anthropic) -> None:
    tool: anthropic.types.ToolParam = {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    msg = claude.messages.create(
        model="m",
        max_tokens=50,
        tools=[tool],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Paris"}],
    )
    assert msg.stop_reason == "tool_use"
    block = msg.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}
    with claude.messages.stream(
        model="m",
        max_tokens=50,
        tools=[tool],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Oslo"}],
    ) as stream:
        streamed = stream.get_final_message().content[0]
    assert streamed.type == "tool_use" and streamed.input == {"city": "Oslo"}


def test_anthropic_validation_like_the_real_api(upstream: MockUpstream, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="role"):
        claude.messages.create(model="m", max_tokens=5, messages=[{"role": "system", "content": "x"}])
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(upstream.url + "/v1/messages", json=body)  # no anthropic-version header
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert upstream.requests[-1].fault is None


# --- faults -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_status_faults(upstream: MockUpstream, oai: openai.OpenAI, code: int, error: type[Exception]) -> None:
    upstream.script([Fault.status(code, "scripted")])
    with pytest.raises(error, match="scripted") as info:
        oai.chat.completions.create(model="m", messages=HELLO)
    assert isinstance(info.value, openai.APIStatusError) and info.value.status_code == code
    assert oai.chat.completions.create(model="m", messages=HELLO).choices[0].message.content  # queue consumed


def test_rate_limit_retry_after_and_anthropic_shape(upstream: MockUpstream, claude: anthropic.Anthropic) -> None:
    upstream.script([Fault.rate_limited(retry_after=0.25), Fault.status(503)])
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["retry-after-ms"] == "250"
    assert info.value.body["error"] == {"type": "rate_limit_error", "message": "mock upstream error 429"}  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.status_code == 503 and overloaded.value.type == "overloaded_error"


def test_reset_is_a_connection_error(upstream: MockUpstream, oai: openai.OpenAI) -> None:
    upstream.fail_next(1, Fault.reset())
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=HELLO)
    assert upstream.client_disconnects == 0  # the server hung up, not the client


def test_malformed_json(upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    upstream.script([Fault.malformed(), Fault.malformed(after_chunks=1), Fault.malformed()])
    with pytest.raises((json.JSONDecodeError, openai.APIResponseValidationError)):
        oai.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(json.JSONDecodeError):
        list(oai.chat.completions.create(model="m", messages=HELLO, stream=True))
    with pytest.raises((json.JSONDecodeError, anthropic.APIResponseValidationError)):
        claude.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_cut_stream(upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    upstream.script([Fault.cut(after_chunks=2), Fault.cut(after_chunks=3), Fault.cut()])
    received: list[str] = []
    with pytest.raises((httpx2.HTTPError, openai.APIError)):
        for chunk in oai.chat.completions.create(model="m", messages=HELLO, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert received == ["", "echo:"]
    with (
        pytest.raises((httpx2.HTTPError, anthropic.APIError)),
        claude.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "a b c"}]) as s,
    ):
        s.get_final_message()
    with pytest.raises((httpx2.HTTPError, openai.APIError)):  # a plain body cut in half
        oai.chat.completions.create(model="m", messages=HELLO)


def test_stream_error_event(upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    upstream.script([Fault.stream_error(after_chunks=2, message="boom"), Fault.stream_error(code=529)])
    with pytest.raises(openai.APIError, match="boom"):
        list(oai.chat.completions.create(model="m", messages=HELLO, stream=True))
    with (
        pytest.raises(anthropic.APIError, match="mock upstream error 529"),
        claude.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "a b"}]) as s,
    ):
        s.get_final_message()


def test_slow_response_times_out_and_counts_disconnect(upstream: MockUpstream) -> None:
    upstream.script([Fault.slow(1.0)])
    client = openai.OpenAI(base_url=upstream.url + "/v1", api_key="x", max_retries=0, timeout=0.1)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=HELLO)
    assert upstream.wait_until(lambda u: u.client_disconnects == 1)


def test_slow_first_chunk_and_slow_stream(upstream: MockUpstream) -> None:
    upstream.script([Fault.slow_first_chunk(0.2), Fault.slow_stream(0.02)])
    body = {"model": "m", "messages": HELLO, "stream": True}
    with httpx.Client(base_url=upstream.url) as client:
        start = time.perf_counter()
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            headers_at = time.perf_counter() - start
            next(r.iter_bytes())
            first_at = time.perf_counter() - start
        assert headers_at < first_at and first_at >= 0.2  # the headers came first, the body 0.2 s in
        start = time.perf_counter()
        r = client.post("/v1/chat/completions", json=body)
        assert time.perf_counter() - start >= 5 * 0.02  # 7 events, 6 pauses
        assert r.text.endswith("data: [DONE]\n\n")


def test_client_disconnect_midstream_is_counted(upstream: MockUpstream) -> None:
    upstream.set_default(Fault.slow_stream(0.1))
    body = {"model": "m", "messages": HELLO, "stream": True}
    with httpx.Client(base_url=upstream.url) as client, client.stream("POST", "/v1/chat/completions", json=body) as r:
        next(r.iter_lines())
    assert upstream.wait_until(lambda u: u.client_disconnects == 1)
    assert upstream.client_disconnects == 1


# --- request log and scripting ------------------------------------------------------------------------


def test_request_log_records_what_was_sent(upstream: MockUpstream, oai: openai.OpenAI) -> None:
    upstream.script([Fault.status(500)])
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="m", messages=HELLO, temperature=0.5)
    oai.chat.completions.create(model="m", messages=HELLO)
    first, second = upstream.requests
    assert (first.method, first.path, first.query, first.model) == ("POST", "/v1/chat/completions", "", "m")
    assert first.headers["authorization"] == "Bearer x"
    assert first.body["temperature"] == 0.5 and first.body["messages"] == HELLO
    assert first.fault is not None and first.fault.kind is FaultKind.STATUS
    assert second.fault == Fault.ok() and first.time <= second.time


def test_per_model_queues_and_defaults(upstream: MockUpstream) -> None:
    upstream.script([Fault.status(503)], model="big")
    upstream.set_default(Fault.status(404), model="missing")
    with httpx.Client(base_url=upstream.url + "/v1") as client:

        def status(model: str) -> int:
            return client.post("/chat/completions", json={"model": model, "messages": HELLO}).status_code

        assert [status("small"), status("big"), status("big"), status("missing"), status("missing")] == [
            200,
            503,
            200,
            404,
            404,
        ]
    assert upstream.connections >= 1
    assert upstream.pending == 0


def test_api_key_is_enforced() -> None:
    with MockUpstream(api_key="secret") as upstream:
        bad = openai.OpenAI(base_url=upstream.url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=HELLO)
        good = anthropic.Anthropic(base_url=upstream.url, api_key="secret", max_retries=0)
        assert good.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content


def test_keep_alive_reuses_one_connection(upstream: MockUpstream) -> None:
    before = upstream.connections
    with httpx.Client(base_url=upstream.url) as client:
        for _ in range(20):
            assert client.post("/v1/chat/completions", json={"model": "m", "messages": HELLO}).status_code == 200
    assert upstream.connections == before + 1


async def test_many_concurrent_async_requests(upstream: MockUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=upstream.url + "/v1", api_key="x", max_retries=0) as client:

        async def one(i: int) -> str | None:
            messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": f"n {i}"}]
            if i % 2:
                resp = await client.chat.completions.create(model="m", messages=messages)
                return resp.choices[0].message.content
            stream = await client.chat.completions.create(model="m", messages=messages, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream])

        answers = await asyncio.gather(*(one(i) for i in range(40)))
    assert answers == [f"echo: n {i}" for i in range(40)]
    assert await upstream.async_wait_until(lambda u: len(u.requests) == 40)


def test_standalone_process_and_control_endpoints() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard.testing.mock_upstream", "--port", "0", "--record"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        with httpx.Client(base_url=url) as client:
            faults = {"faults": [{"kind": "status", "code": 503}]}
            assert client.post("/_mock/script", json=faults).json()["pending"] == 1
            body = {"model": "m", "messages": HELLO}
            assert client.post("/v1/chat/completions", json=body).status_code == 503
            assert client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            assert client.get("/_mock/stats").json()["requests"] == 2
            client.post("/_mock/script", json={"faults": [{"kind": "reset"}]})
            with pytest.raises(httpx.TransportError):  # the reset works on uvloop too
                client.post("/v1/chat/completions", json=body)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.mark.parametrize("finish", sorted(_wire.ANTHROPIC_STOP))
def test_mock_stop_reasons_read_back_as_the_finish(finish: str) -> None:
    """The mock's own stop-reason table and the gateway's upstream one agree (neither is derived from the
    other, so this is a check, not a tautology)."""
    assert finish_reason(_wire.ANTHROPIC_STOP[finish]) == finish
