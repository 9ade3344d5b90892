"""The rerank stage against a real loopback ``/v1/rerank`` server (no reranker model ships offline)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

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

from .corpus import DOCS
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
