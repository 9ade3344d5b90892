"""The rerank stage against a real loopback ``/v1/rerank`` server (no reranker model ships offline)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from switchyard.config import RagRerankConfig
from switchyard.errors import UpstreamProtocolError, UpstreamStatusError
from switchyard.rag.cli import app
from switchyard.rag.serving.embed import LocalEmbedder
from switchyard.rag.serving.ingest import Ingestor
from switchyard.rag.serving.lexical import Bm25sRetriever
from switchyard.rag.serving.rerank import RemoteReranker
from switchyard.rag.serving.retrieval import RetrievalOptions, Retriever
from switchyard.rag.serving.tokenize import HFTokenizer
from switchyard.rag.stores.sqlite import SQLiteRagStore
from switchyard.rag.types import Collection
from switchyard.testing import MockUpstream

from ..conftest import RunningGateway
from .corpus import DOCS
from .gateway import client, rag_config, team_key
from .test_eval_cli import _beir


class RerankServer:
    """Scores each document by how many times it contains ``favour`` (a word the test picks)."""

    def __init__(self) -> None:
        self.favour = "dialysis"
        self.mode = "ok"
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if self.mode == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "garbage":
            return web.Response(text="not json")
        results = [
            {"index": i, "relevance_score": float(doc.lower().count(self.favour))}
            for i, doc in enumerate(body["documents"])
        ]
        return web.json_response({"results": sorted(results, key=lambda r: -r["relevance_score"])})


@pytest.fixture
def server() -> Iterator[RerankServer]:
    """The server runs on its own event loop in a thread, so sync and async tests can both call it."""
    state = RerankServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, web.AppRunner] = {}

    async def start() -> None:
        application = web.Application()
        application.router.add_post("/v1/rerank", state.handle)
        runner = web.AppRunner(application)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        state.url = f"http://127.0.0.1:{port}/v1/rerank"
        holder["runner"] = runner
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(10)
    yield state
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def test_rerank_stage_reorders_and_reports_scores(
    server: RerankServer, store: SQLiteRagStore, tokenizer: HFTokenizer, embedder: LocalEmbedder
) -> None:
    store.create_collection(Collection("med", embed_model=embedder.model_id))
    Ingestor(store, tokenizer, embedder).ingest("med", DOCS)
    reranker = RemoteReranker(server.url, "my-reranker", api_key="secret")
    retriever = Retriever(store, Bm25sRetriever(store), embedder, RetrievalOptions(rerank_depth=4), reranker)
    try:
        hits = await retriever.search(["med"], "cancer treatment", k=3)
        sent = server.bodies[-1]
        assert sent["model"] == "my-reranker" and sent["query"] == "cancer treatment" and len(sent["documents"]) == 4
        # the server favours "dialysis": the kidney document comes first although fusion ranked it lower
        assert hits[0].chunk.doc_id == "kidney" and hits[0].stages["rerank"] == {"rank": 1.0, "score": 1.0}
        assert hits[0].stages["fused"]["rank"] > 1
        server.mode = "fail"
        with pytest.raises(UpstreamStatusError):
            await retriever.search(["med"], "cancer", k=3)
        server.mode = "garbage"
        with pytest.raises(UpstreamProtocolError):
            await retriever.search(["med"], "cancer", k=3)
    finally:
        await reranker.aclose()


def test_eval_reports_a_rerank_stage(server: RerankServer, tmp_path: Path) -> None:
    corpus, queries, qrels = _beir(tmp_path)
    args = ["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels), "--json"]
    out = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "e.rag.db"), "--rerank-url", server.url])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["final_stage"] == "rerank" and set(report["stages"]) == {"bm25", "dense", "fused", "rerank"}
    assert report["ndcg@10"] == report["stages"]["rerank"]["ndcg@10"]
    assert len(server.bodies) == len(DOCS) - 2  # one call per judged query


def test_a_remote_reranker_gets_no_confidential_chunks(
    server: RerankServer, upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    """The exploit: a remote reranker received the query and the chunks of every collection searched,
    confidential ones included, with no locality check. A reranker has a locality now; outside the
    perimeter it gets only chunks whose data classes it is allowed (``rag.rerank.classes``)."""
    cfg = rag_config(upstream.url, tmp_path / "models")
    cfg.rag.rerank = RagRerankConfig(url=server.url, depth=4)
    gw = gateway_factory(cfg, classify=lambda _texts: set())
    key = team_key(gw, "cardiology")
    with client(gw, key) as c:
        for name, sensitivity in (("ward", "confidential"), ("leaflets", "internal")):
            assert c.post("/v1/rag/collections", json={"name": name, "sensitivity": sensitivity}).status_code == 201
            docs = [{"id": d.id, "title": d.title, "text": d.text} for d in DOCS]
            assert c.post(f"/v1/rag/collections/{name}/documents", json={"documents": docs}).status_code == 201
        ward = c.post("/v1/rag/search", json={"collections": ["ward"], "query": "cancer treatment", "k": 3})
        assert ward.status_code == 200 and all("rerank" not in h["stages"] for h in ward.json()["data"])
        assert server.bodies == []  # nothing of the confidential collection reached it
        leaflets = c.post("/v1/rag/search", json={"collections": ["leaflets"], "query": "cancer treatment", "k": 3})
        assert leaflets.status_code == 200 and all("rerank" in h["stages"] for h in leaflets.json()["data"])
        assert len(server.bodies) == 1


def test_a_reranker_on_premises_or_allowed_the_classes_gets_them() -> None:
    assert RagRerankConfig(path="/models/ce").may_receive({"health", "pii"})
    assert RagRerankConfig(url="http://10.0.0.5/v1/rerank", locality="on_prem").may_receive({"health"})
    assert not RagRerankConfig(url="https://rerank.example/v1/rerank").may_receive({"health"})
    assert RagRerankConfig(url="https://rerank.example/v1/rerank", classes=["pii", "health"]).may_receive({"health"})
    assert RagRerankConfig(url="https://rerank.example/v1/rerank").may_receive(set())
