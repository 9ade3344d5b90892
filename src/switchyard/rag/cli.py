"""``switchyard rag``: collections, ingest, search, erasure, evaluation and tuning from the shell."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import SwitchyardError
from .beir import read_corpus, read_qrels, read_queries
from .chunking import ChunkOptions
from .embed import LocalEmbedder
from .eval import run, score, select_queries
from .ingest import Ingestor
from .lexical import LEXICAL
from .rerank import Reranker
from .retrieval import RetrievalOptions, Retriever
from .sqlite_store import SQLiteRagStore
from .tokenize import HFTokenizer
from .types import Collection

app = typer.Typer(help="Local RAG: collections, ingest, search, erasure, evaluation, tuning.", no_args_is_help=True)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "switchyard" / "rag-eval"


@app.callback()
def _group() -> None:
    """Local RAG: collections, ingest, search, erasure, evaluation, tuning."""


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _eval_store_path(model_id: str, options: ChunkOptions) -> Path:
    """One cache store per model and chunking; each corpus is a collection named by its content hash, and
    ingest skips documents already there, so a later run over the same corpus embeds nothing."""
    key = f"{model_id}:{options.max_tokens}:{options.overlap}"
    return CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.rag.db"


def _corpus_key(corpus: Path, limit: int | None) -> str:
    h = hashlib.sha256(f"{limit}:".encode())
    with corpus.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return "eval-" + h.hexdigest()[:16]


@app.command("eval")
def eval_cmd(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option(help="qrels TSV (query-id, corpus-id, score)")],
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON line")] = False,
    half: Annotated[str, typer.Option(help="all, or the hash-half a / b of the queries")] = "all",
    fusion: Annotated[str, typer.Option(help="rrf or weighted")] = RetrievalOptions.fusion,
    dense_weight: Annotated[float | None, typer.Option(help="weight of the dense list (bm25 gets 1 - w)")] = None,
    rrf_k: Annotated[float, typer.Option(help="k of reciprocal rank fusion")] = RetrievalOptions.rrf_k,
    lexical: Annotated[str, typer.Option(help="bm25 (bm25s) or fts5 (SQLite)")] = "bm25",
    embed_model: Annotated[
        Path | None, typer.Option(help="embedding model directory (default: embedded MiniLM)")
    ] = None,
    chunk_tokens: Annotated[int, typer.Option(help="chunk size in tokens")] = ChunkOptions.max_tokens,
    store: Annotated[
        Path | None, typer.Option(help="RAG store file (default: a cache keyed by corpus + model)")
    ] = None,
    rerank_url: Annotated[str | None, typer.Option(help="a /v1/rerank endpoint")] = None,
    rerank_model: Annotated[str, typer.Option(help="model name sent to the rerank endpoint")] = "rerank",
    rerank_path: Annotated[Path | None, typer.Option(help="a local cross-encoder directory")] = None,
    threads: Annotated[int, typer.Option(help="torch threads for embedding (0: torch's default)")] = 0,
    limit_docs: Annotated[int | None, typer.Option(help="only the first N documents (smoke tests)")] = None,
    limit_queries: Annotated[int | None, typer.Option(help="only the first N queries (smoke tests)")] = None,
) -> None:
    """Measure retrieval on a BEIR-layout collection, per stage; the JSON line comes last."""
    try:
        docs = read_corpus(corpus)[:limit_docs]
        judged = read_qrels(qrels)
        picked = select_queries(read_queries(queries), judged, half)
        if limit_queries is not None:
            picked = dict(list(picked.items())[:limit_queries])
        if lexical not in LEXICAL:
            raise _fail(f"--lexical must be one of {sorted(LEXICAL)}")
        options = ChunkOptions(max_tokens=chunk_tokens)
        _set_threads(threads)
        embedder = LocalEmbedder(embed_model)
        path = store or _eval_store_path(embedder.model_id, options)
        rag_store = SQLiteRagStore(path)
        name = _corpus_key(corpus, limit_docs)
        if rag_store.get_collection(name) is None:
            rag_store.create_collection(Collection(name, embed_model=embedder.model_id))
        opts = RetrievalOptions(fusion=fusion, rrf_k=rrf_k)
        if dense_weight is not None:
            opts.weights = {"bm25": 1 - dense_weight, "dense": dense_weight}
        reranker = _reranker(rerank_url, rerank_model, rerank_path)
        retriever = Retriever(rag_store, LEXICAL[lexical](rag_store), embedder, opts, reranker)
        ingestor = Ingestor(rag_store, HFTokenizer(embed_model), embedder, options)
        result = run(retriever, ingestor, name, docs, picked, None if as_json else _progress())
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    report = score(result, judged)
    report["store"] = str(path)
    report["embed_model"] = embedder.model_id
    report["half"] = half
    report["fusion"] = {"method": opts.fusion, "weights": opts.weights, "rrf_k": opts.rrf_k}
    if not as_json:
        _print_table(report)
    typer.echo(json.dumps(report))


def _set_threads(threads: int) -> None:
    """On a loaded 2-core machine one torch thread embeds faster than two (measured: NOTES.md)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def _reranker(url: str | None, model: str, path: Path | None) -> Reranker | None:
    from .rerank import CrossEncoderReranker, RemoteReranker

    if path is not None:
        return CrossEncoderReranker(path)
    if url:
        from ..providers.transport import HttpTransport

        return RemoteReranker(url, model, HttpTransport())
    return None


def _progress() -> Callable[[str, int, int], None]:
    shown: dict[str, int] = {}

    def show(phase: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done == total or done // step != shown.get(phase, -1):
            shown[phase] = done // step
            typer.echo(f"{phase}: {done}/{total}", err=True)

    return show


def _print_table(report: dict[str, Any]) -> None:
    names = ("ndcg@10", "mrr@10", "hit@1", "hit@3", "hit@10", "recall@100")
    typer.echo(f"{'stage':<8}" + "".join(f"{n:>11}" for n in names))
    for stage, m in report["stages"].items():
        typer.echo(f"{stage:<8}" + "".join(f"{m[n]:>11.4f}" for n in names))
    typer.echo(
        f"{report['queries']} queries, {report['documents']} documents ({report['chunks']} chunks); "
        f"ingest {report['ingest_docs_per_s'] or 'cached'} docs/s ({report['ingest_seconds']} s); "
        f"query p50 {report['query_p50_ms']} ms, p95 {report['query_p95_ms']} ms"
    )
