"""The call core with no server: chat, stream, embeddings and a RAG chat through ``Gateway`` against
real loopback upstreams. Each call leaves exactly one ledger record with the policies' reasons, and
settles its budget reservation to what the call cost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from switchyard.config import (
    BudgetConfig,
    GatewayConfig,
    RouteConfig,
    RoutePolicy,
    Settings,
    load_config,
)
from switchyard.errors import PermissionDenied
from switchyard.gateway import Gateway
from switchyard.rag.types import Document
from switchyard.store.base import LedgerRecord
from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import MockUpstream
from switchyard.types import ChatRequest, EmbeddingRequest, Principal
from tests.conftest import ADMIN_KEY, need_embedded_chat
from tests.rag.gateway import rag_config
from tests.server.configs import openai_model

APPS = Principal(key_id="key-apps", team="apps")


@pytest.fixture
def upstream() -> Any:
    with MockUpstream(models=["mock-model", "mock-b"]) as up:
        yield up


@pytest.fixture
async def open_gateway(tmp_path: Path) -> AsyncIterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def make(config: GatewayConfig, **kw: Any) -> Gateway:
        settings = Settings(db_path=tmp_path / f"gw{len(made)}.db", admin_key=ADMIN_KEY, ledger_flush_interval=0.02)
        gw = Gateway(settings, config, environ={}, **kw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        if gw.started:
            await gw.aclose()


async def records(gw: Gateway) -> dict[str, LedgerRecord]:
    """Every record the gateway wrote, by id (closing the gateway flushes its ledger writer)."""
    await gw.aclose()
    store = SQLiteStore(gw.options.db_path)
    try:
        return {r.id: r for r in store.recent(1000)}
    finally:
        store.close()


def budgeted(url: str) -> GatewayConfig:
    return GatewayConfig(
        models=[
            openai_model("cheap", url, upstream_model="mock-b", price={"input": 0.5, "output": 1.0}),
            openai_model("premium", url, price={"input": 5.0, "output": 20.0}),
        ],
        routes=[RouteConfig(name="auto", models=["cheap", "premium"], policy=RoutePolicy(strategy="cascade"))],
        budgets=[BudgetConfig(team="apps", usd_per_day=10.0)],
    )


def usd_day_used(gw: Gateway) -> float:
    return next(u.used for u in gw.budgets.current_use() if u.limit_name == "usd_per_day")


def ask(text: str, model: str = "auto", **kw: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], **kw)


async def test_chat_records_cost_counterfactual_reasons_and_settles_the_budget(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    gw = open_gateway(budgeted(upstream.url))
    await gw.start(warm=False)
    result = await gw.chat(APPS, ask("hello there"))
    assert result.response.content == "echo: hello there"
    assert result.info.model == "cheap" and result.info.route == "auto"
    assert "cascade: cheap -> premium" in result.info.reason
    usage = result.response.usage
    assert usage is not None and usage.prompt_tokens > 0
    cost = gw.prices["cheap"].cost(usage)
    # The reservation (worst case) was replaced by what the call cost.
    assert usd_day_used(gw) == pytest.approx(cost, rel=1e-9, abs=1e-15)
    rec = (await records(gw))[result.info.id]
    assert (rec.served_model, rec.route, rec.endpoint, rec.status, rec.stream) == ("cheap", "auto", "chat", 200, False)
    assert (rec.input_tokens, rec.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert rec.cost == pytest.approx(cost, rel=1e-12)
    assert rec.counterfactual_cost == pytest.approx(gw.prices["premium"].cost(usage), rel=1e-12)
    assert rec.reasons == ["cascade: cheap -> premium"]
    assert [a.model for a in rec.attempts] == ["cheap"]
    assert rec.team == "apps" and rec.key_id == "key-apps"


async def test_stream_relays_chunks_then_records_once(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    gw = open_gateway(budgeted(upstream.url))
    await gw.start(warm=False)
    stream = await gw.stream(APPS, ask("stream me", stream_options={"include_usage": True}))
    assert stream.info.model == "cheap"
    text = "".join([c.content async for c in stream if c.content])
    assert text == "echo: stream me" == stream.text
    assert stream.usage is not None
    cost = gw.prices["cheap"].cost(stream.usage)
    assert usd_day_used(gw) == pytest.approx(cost, rel=1e-9, abs=1e-15)
    every = await records(gw)
    assert list(every) == [stream.info.id]
    rec = every[stream.info.id]
    assert rec.stream and rec.status == 200 and rec.output_tokens == stream.usage.completion_tokens
    assert rec.cost == pytest.approx(cost, rel=1e-12)


async def test_a_stream_closed_early_is_recorded_as_the_caller_gone(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    gw = open_gateway(budgeted(upstream.url))
    await gw.start(warm=False)
    stream = await gw.stream(APPS, ask("a b c d e f g h"))
    async for chunk in stream:
        if chunk.content:
            break
    await stream.aclose()
    rec = (await records(gw))[stream.info.id]
    assert rec.status == 499 and rec.error_class is not None
    assert rec.output_tokens > 0  # what was generated until then is counted


async def test_a_refusal_releases_the_reservation_and_leaves_no_spend(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    cfg = budgeted(upstream.url)
    cfg.default_policy = RoutePolicy(residency={"health": ["on_prem"]})
    gw = open_gateway(cfg, classify=lambda texts: {"health"} if any("chart" in t for t in texts) else set())
    await gw.start(warm=False)
    with pytest.raises(PermissionDenied):
        await gw.chat(APPS, ask("the patient's chart", model="premium"))
    assert usd_day_used(gw) == 0.0
    assert upstream.requests == []


async def test_embeddings_pass_the_policies_and_are_recorded(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[openai_model("emb", upstream.url, kind="embedding", price={"input": 0.1, "output": 0.0})],
        budgets=[BudgetConfig(team="apps", usd_per_day=1.0)],
    )
    gw = open_gateway(cfg)
    await gw.start(warm=False)
    result = await gw.embed(APPS, EmbeddingRequest(model="emb", input=["first text", "second text"], dimensions=8))
    assert len(result.vectors) == 2 and all(len(v) == 8 for v in result.vectors)
    assert result.usage.prompt_tokens > 0
    assert usd_day_used(gw) == pytest.approx(gw.prices["emb"].cost(result.usage), rel=1e-9, abs=1e-15)
    rec = (await records(gw))[result.info.id]
    assert (rec.endpoint, rec.served_model, rec.status, rec.input_tokens) == (
        "embeddings",
        "emb",
        200,
        result.usage.prompt_tokens,
    )


async def test_health_data_is_not_embedded_by_a_remote_model(open_gateway, upstream) -> None:  # type: ignore[no-untyped-def]
    """Residency applies to embedding inputs: the shipped detector finds a clinical note, and the only
    embedding model is outside the perimeter, so the request is refused and nothing leaves."""
    cfg = GatewayConfig(
        models=[openai_model("remote-embed", upstream.url, kind="embedding", locality="us")],
        default_policy=RoutePolicy(residency={"health": ["on_prem"]}),
    )
    gw = open_gateway(cfg)
    await gw.start(warm=False)
    note = "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. ON METOPROLOL 25MG BID."
    with pytest.raises(PermissionDenied) as info:
        await gw.embed(APPS, EmbeddingRequest(model="remote-embed", input=[note]))
    assert info.value.code == "residency_violation" and "health" in info.value.message
    assert upstream.requests == []
    ok = await gw.embed(APPS, EmbeddingRequest(model="remote-embed", input="the boiling point of water"))
    assert ok.info.model == "remote-embed"


async def test_rag_chat_is_a_chat_with_retrieval_in_front(open_gateway, upstream, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A confidential collection's context carries its data classes into routing: the answer stays on
    premises, the sources come back with the result, and the ledger keeps the classes and reasons."""
    gw = open_gateway(rag_config(upstream.url, tmp_path / "models"))
    await gw.start(warm=False)
    service = gw.rag.get()
    service.create(APPS, "ward", "confidential")
    service.add(APPS, "ward", [Document("note-1", "The ward rounds start at seven in the morning.", "Rounds")])
    request = ask("When do the ward rounds start?", switchyard={"collections": ["ward"], "k": 2})
    result = await gw.chat(APPS, request)
    assert result.info.model == "onprem"
    assert "residency: health -> on_prem" in result.info.reason
    assert result.rag is not None and [h.chunk.doc_id for h in result.rag.hits] == ["note-1"]
    sent = upstream.requests[-1].raw.decode()
    assert "seven in the morning" in sent and '"switchyard"' not in sent
    rec = (await records(gw))[result.info.id]
    assert rec.classes == ["health", "pii"] and rec.served_model == "onprem" and rec.locality == "on_prem"


async def test_a_cancelled_call_that_cannot_be_stopped_is_charged_its_whole_allowance(open_gateway) -> None:  # type: ignore[no-untyped-def]
    """llama.cpp's non-streamed chat runs to its end once started: a caller that leaves is charged the
    counted prompt plus the output it allowed (max_tokens), marked estimated, with the budget's tokens."""
    need_embedded_chat()
    cfg = load_config(None)
    cfg.budgets = [BudgetConfig(team="apps", tokens_per_minute=100_000)]
    gw = open_gateway(cfg)
    await gw.start(warm=False)
    request = ask("Write a long story about a dragon.", model="local-chat", max_tokens=40)
    task = asyncio.create_task(gw.chat(APPS, request))
    member = gw.pools["local-chat"].members[0]
    for _ in range(2000):  # until the call is with the provider (bounded: 10 s)
        if member.in_flight:
            break
        await asyncio.sleep(0.005)
    assert member.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    prompt = gw.tokens.count(request.prompt_text())
    used = next(u.used for u in gw.budgets.current_use() if u.limit_name == "tokens_per_minute")
    assert used == prompt + 40
    rec = next(iter((await records(gw)).values()))
    assert (rec.status, rec.input_tokens, rec.output_tokens, rec.tokens_estimated) == (499, prompt, 40, True)
