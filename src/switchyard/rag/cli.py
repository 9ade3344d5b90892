"""``switchyard rag``: collections, ingest, search, erasure, evaluation and tuning from the shell."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import GatewayConfig, Settings, load_config, server_options
from ..errors import SwitchyardError
from .lab.beir import read_corpus, read_qrels, read_queries
from .lab.eval import run, score, select_queries
from .serving.adapted import AdaptedEmbedder, is_adapter
from .serving.chunking import ChunkOptions
from .serving.embed import Embedder, LocalEmbedder
from .serving.ingest import Ingestor
from .serving.lexical import LEXICAL
from .serving.loaders import documents_from
from .serving.rerank import Reranker
from .serving.retrieval import RetrievalOptions, Retriever
from .serving.service import RagService
from .serving.tokenize import HFTokenizer
from .serving.tuned import TunedModels
from .stores.sqlite import SQLiteRagStore
from .types import Acl, Collection

app = typer.Typer(help="Local RAG: collections, ingest, search, erasure, evaluation, tuning.", no_args_is_help=True)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "switchyard" / "rag-eval"


@app.callback()
def _group() -> None:
    """Local RAG: collections, ingest, search, erasure, evaluation, tuning."""


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _eval_store_path(options: ChunkOptions) -> Path:
    """One cache store per chunking; each corpus is a collection named by its content hash, vectors are
    kept per model, and ingest skips what is already there: a later run over the same corpus, with a model
    seen before, embeds nothing."""
    key = f"all-MiniLM-L6-v2-tokenizer:{options.max_tokens}:{options.overlap}"
    return CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.rag.db"


def _corpus_key(corpus: Path, limit: int | None) -> str:
    h = hashlib.sha256(f"{limit}:".encode())
    with corpus.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return "eval-" + h.hexdigest()[:16]


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded models)")]
TeamsOpt = Annotated[list[str] | None, typer.Option(help="team (repeat for more; '*' for all)")]


def _service(config_path: Path | None) -> RagService:
    """The RAG service of the configured gateway, used as the operator (no ACL: like `keys`)."""
    settings = Settings()
    cfg = load_config(config_path or settings.config)
    return RagService.from_config(cfg, server_options(settings, cfg).db_path)


def _collection_row(c: Collection) -> dict[str, Any]:
    return {
        "name": c.name,
        "sensitivity": c.sensitivity,
        "acl": {"read": c.acl.read, "write": c.acl.write, "admin": c.acl.admin},
        "embed_model": c.embed_model,
        "documents": c.documents,
        "chunks": c.chunks,
    }


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="collection name")],
    sensitivity: Annotated[str, typer.Option(help="public, internal or confidential")] = "internal",
    read: TeamsOpt = None,
    write: TeamsOpt = None,
    admin: TeamsOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a collection; its ACL names the teams that may read, write and administer it."""
    with _run(config) as service:
        c = service.create(None, name, sensitivity, Acl(read or [], write or [], admin or []))
        typer.echo(json.dumps(_collection_row(c)))


@app.command("list")
def list_cmd(config: ConfigOpt = None) -> None:
    """List collections (one JSON object per line)."""
    with _run(config) as service:
        for c in service.visible(None):
            typer.echo(json.dumps(_collection_row(c)))


@app.command()
def acl(
    name: Annotated[str, typer.Argument(help="collection name")],
    read: TeamsOpt = None,
    write: TeamsOpt = None,
    admin: TeamsOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Replace a collection's ACL."""
    with _run(config) as service:
        c = service.set_acl(None, name, Acl(read or [], write or [], admin or []))
        typer.echo(json.dumps(_collection_row(c)))


@app.command()
def drop(name: Annotated[str, typer.Argument(help="collection name")], config: ConfigOpt = None) -> None:
    """Delete a collection with every document, chunk, vector and cached answer in it."""
    with _run(config) as service:
        service.delete(None, name)
        typer.echo(f"deleted {name}")


@app.command()
def ingest(
    name: Annotated[str, typer.Argument(help="collection name")],
    paths: Annotated[list[Path], typer.Argument(help="files or folders (txt, md, html, pdf)")],
    subject: Annotated[str | None, typer.Option(help="the data subject these documents are about")] = None,
    config: ConfigOpt = None,
) -> None:
    """Add files to a collection (a changed file replaces its chunks; an unchanged one is skipped)."""
    from rich.progress import Progress

    with _run(config) as service:
        docs = [d for p in paths for d in documents_from(p, subject)]
        with Progress(transient=True) as bar:
            task = bar.add_task(f"ingest {name}", total=len(docs))
            report = service.add(None, name, docs, lambda n: bar.advance(task, n))
        typer.echo(json.dumps(report.as_dict()))


@app.command()
def documents(name: Annotated[str, typer.Argument(help="collection name")], config: ConfigOpt = None) -> None:
    """List a collection's documents (one JSON object per line)."""
    with _run(config) as service:
        service.collection(None, name, "read")
        for d in service.store.list_documents(name, limit=10_000):
            typer.echo(json.dumps(d))


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="collection name")],
    doc_id: Annotated[str, typer.Argument(help="document id")],
    config: ConfigOpt = None,
) -> None:
    """Delete one document (text, chunks, vectors, index entries, cached answers), then compact."""
    with _run(config) as service:
        service.delete_document(None, name, doc_id)
        typer.echo(f"deleted {doc_id}")


@app.command()
def erase(
    subject: Annotated[str, typer.Option(help="the data subject to erase")],
    collection: Annotated[list[str] | None, typer.Option(help="only these collections")] = None,
    config: ConfigOpt = None,
) -> None:
    """Right to erasure: delete every document about a subject, then compact the store."""
    with _run(config) as service:
        typer.echo(json.dumps({"subject": subject, "erased": service.erase_subject(None, subject, collection)}))


@app.command()
def search(
    names: Annotated[list[str], typer.Argument(help="collection(s)")],
    query: Annotated[str, typer.Option("--query", "-q", help="what to look for")],
    k: Annotated[int, typer.Option("-k", help="how many chunks")] = 5,
    config: ConfigOpt = None,
) -> None:
    """Search collections; one JSON hit per line, with per-stage scores and provenance."""
    import asyncio

    with _run(config) as service:
        for h in asyncio.run(service.search(None, names, query, k)):
            typer.echo(json.dumps({"id": h.chunk.id, "score": h.score, "stages": h.stages, **h.provenance()}))


@contextmanager
def _run(config: Path | None) -> Iterator[RagService]:
    try:
        service = _service(config)
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    try:
        yield service
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    finally:
        service.close()


@app.command()
def tune(
    name: Annotated[str, typer.Argument(help="collection to tune for")],
    queries: Annotated[Path | None, typer.Option(help="labelled queries (BEIR queries.jsonl)")] = None,
    qrels: Annotated[Path | None, typer.Option(help="their judgements (qrels TSV: query-id, doc id, score)")] = None,
    synthetic: Annotated[int, typer.Option(help="else: questions the local chat model writes for N passages")] = 200,
    chat_model: Annotated[str, typer.Option(help="the chat model that writes synthetic questions")] = "local-chat",
    method: Annotated[
        str,
        typer.Option(help="adapter (a query-side map, seconds, nothing re-embedded) or full (fine-tune the model)"),
    ] = "adapter",
    epochs: Annotated[int | None, typer.Option(help="training epochs (default: the method's)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="pairs per step (in-batch negatives)")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="learning rate (default: the method's)")] = None,
    refit: Annotated[
        bool, typer.Option("--refit", help="once it measured better, fit again on every pair and use that")
    ] = False,
    store: Annotated[Path | None, typer.Option(help="a RAG store file other than the configured one")] = None,
    models_dir: Annotated[Path | None, typer.Option(help="where tuned versions go (default: rag.models_dir)")] = None,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default)")] = 0,
    config: ConfigOpt = None,
) -> None:
    """Fine-tune the embedding model for a collection; the new version replaces the current one only if it
    measures better on held-out queries (hash half b; half a trains). JSON last line."""
    import asyncio

    from .lab.tune import METHODS, labelled_pairs, synthetic_pairs
    from .lab.tune import tune as run_tune

    _set_threads(threads)
    settings = Settings()
    try:
        cfg = load_config(config or settings.config)
        if models_dir is not None:
            cfg.rag.models_dir = str(models_dir)
        if store is not None:
            cfg.rag.db_path = str(store)
        service = RagService.from_config(cfg, server_options(settings, cfg).db_path)
        service.collection(None, name, "admin")
        if (queries is None) != (qrels is None):
            raise _fail("give both --queries and --qrels, or neither (synthetic questions)")
        if queries is not None and qrels is not None:
            judged = read_qrels(qrels)
            pairs = labelled_pairs(service, name, read_queries(queries), judged)
        else:
            show = _progress()
            pairs, judged = asyncio.run(
                synthetic_pairs(service, name, synthetic, _asker(cfg, chat_model), lambda i, n: show("questions", i, n))
            )
        typer.echo(f"{len(pairs)} pairs", err=True)
        if method not in METHODS:
            raise _fail(f"--method must be one of {sorted(METHODS)}")
        given = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
        opts = METHODS[method][1](**{k: v for k, v in given.items() if v is not None})
        result = run_tune(
            service,
            name,
            pairs,
            judged,
            opts,
            lambda s, t: typer.echo(f"step {s}/{t}", err=True),
            method=method,
            refit=refit,
        )
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    verdict = "switched to" if result.accepted else "kept the current model; saved but not used:"
    typer.echo(
        f"{verdict} {result.model_id} ({result.path}); held-out nDCG@10 {result.base['final']['ndcg@10']} -> "
        f"{result.tuned['final']['ndcg@10']}"
    )
    if result.refit_model_id:
        typer.echo(f"refitted on all {len(pairs)} pairs: {result.refit_model_id} ({result.refit_path}) is in use")
    for group, figures in result.tuned.get("groups", {}).items():
        before = result.base["groups"].get(group, {}).get("ndcg@10")
        typer.echo(f"  {group.replace('_', ' ')} ({figures['queries']} queries): {before} -> {figures['ndcg@10']}")
    typer.echo(json.dumps(asdict(result)))


def _asker(cfg: GatewayConfig, model_name: str) -> Callable[[str], Awaitable[str]]:
    """One prompt -> the answer of a configured chat model (a provider of the gateway, used directly)."""
    import os

    from ..providers.base import ProviderContext
    from ..providers.registry import default_registry
    from ..providers.transport import HttpTransport
    from ..types import ChatRequest

    model = cfg.model(model_name)
    if model is None or model.kind != "chat":
        raise _fail(f"no chat model {model_name!r} in the config")
    ctx = ProviderContext(http=HttpTransport(), environ=dict(os.environ))
    provider = default_registry().create(model, model.all_deployments()[0], ctx)

    async def ask(prompt: str) -> str:
        req = ChatRequest.model_validate(
            {"model": model_name, "messages": [{"role": "user", "content": prompt}], "max_tokens": 48, "temperature": 0}
        )
        return (await provider.chat(req)).content or ""

    return ask


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
    rerank_depth: Annotated[int, typer.Option(help="fused candidates the reranker sees")] = 30,
    threads: Annotated[int, typer.Option(help="torch threads for embedding (0: torch's default)")] = 0,
    max_seq_length: Annotated[
        int,
        typer.Option(
            help="tokens the embedding model reads per chunk: 128 (MiniLM's training length) keeps a cold "
            "SciFact run under 5 minutes on 2 cores; 0 = the model's own limit (256: ~0.01 nDCG more, ~6x slower)"
        ),
    ] = 128,
    sweep_fusion: Annotated[
        bool, typer.Option("--sweep-fusion", help="also choose fusion settings on half a, report half b")
    ] = False,
    tune_queries: Annotated[
        Path | None, typer.Option(help="labelled queries to tune a query adapter on (evaluated ones are left out)")
    ] = None,
    tune_qrels: Annotated[Path | None, typer.Option(help="their judgements (qrels TSV)")] = None,
    base_model: Annotated[
        bool, typer.Option("--base-model", help="measure the base model even if the collection was tuned")
    ] = False,
    models_dir: Annotated[Path, typer.Option(help="where the eval collections' tuned versions go")] = (
        CACHE.parent / "rag-models"
    ),
    limit_docs: Annotated[int | None, typer.Option(help="only the first N documents (smoke tests)")] = None,
    limit_queries: Annotated[int | None, typer.Option(help="only the first N queries (smoke tests)")] = None,
) -> None:
    """Measure retrieval on a BEIR-layout collection, per stage; the JSON line comes last. A collection
    tuned by an earlier eval (``--tune-queries``) is measured as tuned unless ``--base-model``."""
    try:
        docs = read_corpus(corpus)[:limit_docs]
        judged = read_qrels(qrels)
        picked = select_queries(read_queries(queries), judged, half)
        if limit_queries is not None:
            picked = dict(list(picked.items())[:limit_queries])
        if lexical not in LEXICAL:
            raise _fail(f"--lexical must be one of {sorted(LEXICAL)}")
        if (tune_queries is None) != (tune_qrels is None):
            raise _fail("give both --tune-queries and --tune-qrels, or neither")
        options = ChunkOptions(max_tokens=chunk_tokens)
        _set_threads(threads)
        embedder, base_path = _eval_embedder(embed_model, max_seq_length or None)
        path = store or _eval_store_path(options)
        rag_store = SQLiteRagStore(path)
        name = _corpus_key(corpus, limit_docs)
        if rag_store.get_collection(name) is None:
            rag_store.create_collection(Collection(name, embed_model=embedder.model_id))
        opts = RetrievalOptions(fusion=fusion, rrf_k=rrf_k, rerank_depth=rerank_depth)
        if dense_weight is not None:
            opts.weights = {"bm25": 1 - dense_weight, "dense": dense_weight}
        reranker = _reranker(rerank_url, rerank_model, rerank_path)
        used: dict[str, Any] = {"embedder": embedder, "tuning": None}

        def build_retriever() -> Retriever:
            from .lab.eval_tuning import describe, recorded_tuning, tune_for_eval

            models = TunedModels(models_dir)
            chosen: AdaptedEmbedder | None = None
            if tune_queries is not None and tune_qrels is not None:
                if not isinstance(embedder, LocalEmbedder):
                    raise _fail("--tune-queries tunes a base model, not the adapter given in --embed-model")
                labelled = read_queries(tune_queries)
                chosen = tune_for_eval(rag_store, name, embedder, labelled, read_qrels(tune_qrels), set(picked), models)
            elif embed_model is None and not base_model and isinstance(embedder, LocalEmbedder):
                chosen = recorded_tuning(rag_store, name, embedder, models)
            if chosen is not None:
                used.update(embedder=chosen, tuning=describe(chosen))
            return Retriever(rag_store, LEXICAL[lexical](rag_store), used["embedder"], opts, reranker)

        ingestor = Ingestor(rag_store, HFTokenizer(base_path), embedder, options)
        result = run(build_retriever, ingestor, name, docs, picked, None if as_json else _progress())
    except SwitchyardError as exc:
        raise _fail(exc.message) from None
    report = score(result, judged)
    report["store"] = str(path)
    report["embed_model"] = used["embedder"].model_id
    report["tuning"] = used["tuning"]
    report["half"] = half
    report["fusion"] = {"method": opts.fusion, "weights": opts.weights, "rrf_k": opts.rrf_k}
    if sweep_fusion:
        from .lab.sweep import sweep

        current = {"fusion": opts.fusion, "dense_weight": opts.weights.get("dense", 0.5), "rrf_k": opts.rrf_k}
        report["sweep"] = sweep(result, judged, current)
    if not as_json:
        _print_table(report)
    typer.echo(json.dumps(report))


def _eval_embedder(path: Path | None, max_seq_length: int | None) -> tuple[Embedder, str | None]:
    """The embedder a model directory holds (a model, or a query adapter over the base its manifest
    names), and the directory of the model that embeds documents (its tokenizer chunks them)."""
    if path is not None and is_adapter(path):
        adapted = AdaptedEmbedder.open(
            path, lambda manifest: LocalEmbedder(manifest.get("base_path") or None, max_seq_length=max_seq_length)
        )
        base = adapted.base
        return adapted, base.path if isinstance(base, LocalEmbedder) else None
    return LocalEmbedder(path, max_seq_length=max_seq_length), str(path) if path else None


def _set_threads(threads: int) -> None:
    """On a loaded 2-core machine one torch thread embeds faster than two (measured: NOTES.md)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def _reranker(url: str | None, model: str, path: Path | None) -> Reranker | None:
    from .serving.rerank import CrossEncoderReranker, RemoteReranker

    if path is not None:
        return CrossEncoderReranker(path)
    if url:
        return RemoteReranker(url, model)
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
        f"query p50 {report['query_p50_ms']} ms, p95 {report['query_p95_ms']} ms (end to end, "
        f"{report['latency_queries']} queries; batched query embedding {report['query_embed_ms_batched']} ms each)"
    )
