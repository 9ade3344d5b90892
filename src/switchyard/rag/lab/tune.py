"""Domain tuning (``switchyard rag tune``) on (query, passage) pairs of a collection, from labelled pairs or
from questions the local chat model writes, with in-batch negatives (multiple-negatives ranking loss). Two
methods: ``adapter`` (the default) learns a query-side linear map in seconds and re-embeds nothing
(``adapter.py``); ``full`` fine-tunes the whole embedding model, then re-embeds the collection. Pairs are
split by a hash of their query id: one half trains, the other measures. The tuned version is saved
(``serving/tuned.py``) and measured on the held-out half against the current model, separately for held-out
questions about documents the training questions also asked about and about other documents; the
collection switches to it only when it measured better overall."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InvalidRequest
from ...providers.st_loader import load_sentence_transformer
from ..serving.adapted import AdaptedEmbedder
from ..serving.embed import Embedder, LocalEmbedder
from ..serving.ingest import Ingestor, IngestReport
from ..serving.retrieval import Retriever
from ..serving.service import RagService
from ..serving.tuned import MANIFEST
from .adapter import AdapterOptions, first_chunks, fit_adapter, save_adapter
from .beir import Qrels, half
from .eval import EvalRun, score


@dataclass
class TuneOptions:
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup: float = 0.1
    scale: float = 20.0  # cosine similarities x scale are the logits of the in-batch softmax
    max_seq_length: int = 256
    seed: int = 0


@dataclass
class Pair:
    qid: str
    query: str
    doc_id: str
    passage: str


@dataclass
class TuneResult:
    version: int
    path: str
    model_id: str
    accepted: bool
    train_pairs: int
    heldout_queries: int
    base: dict[str, Any] = field(default_factory=dict)
    tuned: dict[str, Any] = field(default_factory=dict)
    train_seconds: float = 0.0
    refit_model_id: str | None = None  # the fit on every pair the collection switched to (``refit``)
    refit_path: str | None = None


def first_passages(service: RagService, collection: str) -> dict[str, str]:
    """Document id -> the indexed text of its first chunk (what the dense index embeds)."""
    return {doc: text for doc, (_, text) in first_chunks(service.store, collection).items()}


def labelled_pairs(service: RagService, collection: str, queries: dict[str, str], qrels: Qrels) -> list[Pair]:
    """(query, passage) for every judged document present in the collection."""
    first = first_passages(service, collection)
    out = []
    for qid, docs in qrels.items():
        if qid in queries:
            out += [Pair(qid, queries[qid], d, first[d]) for d in docs if d in first]
    return out


QUESTION_PROMPT = (
    "Write one short question that the following passage answers. Reply with the question only.\n\n{passage}"
)


async def synthetic_pairs(
    service: RagService,
    collection: str,
    n: int,
    ask: Callable[[str], Awaitable[str]],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Pair], Qrels]:
    """Questions the local chat model writes for ``n`` passages (picked by hash), as labelled pairs."""
    first = first_passages(service, collection)
    picked = sorted(first, key=lambda d: hashlib.sha256(d.encode()).hexdigest())[:n]
    pairs: list[Pair] = []
    for i, doc_id in enumerate(picked):
        question = (await ask(QUESTION_PROMPT.format(passage=first[doc_id][:1500]))).strip().splitlines()
        if question and question[0].strip():
            pairs.append(Pair(f"syn-{doc_id}", question[0].strip(), doc_id, first[doc_id]))
        if progress:
            progress(i + 1, len(picked))
    return pairs, {p.qid: {p.doc_id: 1} for p in pairs}


def train(
    base_path: str,
    pairs: Sequence[Pair],
    out: Path,
    options: TuneOptions,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Fine-tune ``base_path`` on ``pairs`` and save the model to ``out`` (blocking, CPU)."""
    import torch

    model = load_sentence_transformer(base_path)
    model.max_seq_length = options.max_seq_length
    model.train()
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    steps_per_epoch = max(1, len(pairs) // options.batch_size)
    total = steps_per_epoch * options.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    warm = max(1, int(total * options.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    step = 0
    for _ in range(options.epochs):
        order = list(pairs)
        rng.shuffle(order)
        for b in range(steps_per_epoch):
            batch = _distinct_docs(order[b * options.batch_size : (b + 1) * options.batch_size])
            q = _embed(model, [p.query for p in batch])
            d = _embed(model, [p.passage for p in batch])
            logits = options.scale * q @ d.T
            loss = loss_fn(logits, torch.arange(len(batch)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if progress:
                progress(step, total)
    model.eval()
    out.mkdir(parents=True, exist_ok=False)
    model.save(str(out))


def _distinct_docs(batch: list[Pair]) -> list[Pair]:
    """One pair per passage in a batch: a repeated passage would be its own in-batch negative."""
    seen: set[str] = set()
    out = []
    for p in batch:
        if p.doc_id not in seen:
            seen.add(p.doc_id)
            out.append(p)
    return out


def _embed(model: Any, texts: list[str]) -> Any:
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize  # renamed in sentence-transformers 6
    features = prepare(texts)
    vectors = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(vectors, dim=-1)


def measure(
    service: RagService,
    collection: str,
    embedder: Embedder,
    queries: dict[str, str],
    qrels: Qrels,
    groups: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """Retrieval figures of ``embedder`` on the collection for ``queries`` (embeds missing vectors), overall
    and for each group of query ids."""
    ingestor = Ingestor(service.store, service.tokenizer(), embedder, service.chunking)
    ingestor.fill_vectors(collection)
    retriever = Retriever(service.store, service.lexical, embedder, service.options)
    qids = list(queries)
    vectors = embedder.encode_queries([queries[q] for q in qids])
    rankings, raws, latencies = [], [], []
    doc_of: dict[int, str] = {}
    for qid, vec in zip(qids, vectors, strict=True):
        t0 = time.perf_counter()
        results = retriever.first_stages([collection], queries[qid], vec)
        latencies.append((time.perf_counter() - t0) * 1000)
        need = [r for ranked in results.stages.values() for r, _ in ranked if r not in doc_of]
        for rowid, stored in service.store.chunks(need).items():
            doc_of[rowid] = stored.chunk.doc_id
        rankings.append(
            {
                s: list(dict.fromkeys(doc_of[r] for r, _ in ranked if r in doc_of))
                for s, ranked in results.stages.items()
            }
        )
        raws.append(results)
    run = EvalRun(qids, rankings, raws, latencies, IngestReport(), 1.0, 0)
    report = score(run, qrels)
    out: dict[str, Any] = {
        "final": {k: report[k] for k in ("ndcg@10", "mrr@10", "hit@1", "hit@10", "recall@100")},
        "stages": report["stages"],
    }
    out["groups"] = {}
    for name, members in (groups or {}).items():
        keep = [i for i, q in enumerate(qids) if q in members]
        if keep:
            part = EvalRun([qids[i] for i in keep], [rankings[i] for i in keep], [], [], IngestReport(), 1.0, 0)
            out["groups"][name] = {"queries": len(keep), "ndcg@10": score(part, qrels)["ndcg@10"]}
    return out


TuneMethod = Callable[[RagService, str, Embedder, list[Pair], Path, Any, Callable[[int, int], None] | None], None]


def _tune_full(
    service: RagService,
    collection: str,
    current: Embedder,
    pairs: list[Pair],
    out: Path,
    options: Any,
    progress: Callable[[int, int], None] | None,
) -> None:
    if not isinstance(current, LocalEmbedder):
        raise InvalidRequest("a full fine-tune starts from a model, not from a query adapter", param="method")
    train(current.path, pairs, out, options, progress)


def _tune_adapter(
    service: RagService,
    collection: str,
    current: Embedder,
    pairs: list[Pair],
    out: Path,
    options: Any,
    progress: Callable[[int, int], None] | None,
) -> None:
    weights, _ = fit_adapter(
        service.store, collection, current, [(p.query, p.doc_id) for p in pairs], options, progress
    )
    save_adapter(out, weights)


METHODS: dict[str, tuple[TuneMethod, type, str]] = {
    "adapter": (_tune_adapter, AdapterOptions, "adapter.npy"),
    "full": (_tune_full, TuneOptions, "model.safetensors"),
}


def tune(
    service: RagService,
    collection: str,
    pairs: list[Pair],
    qrels: Qrels,
    options: TuneOptions | AdapterOptions,
    progress: Callable[[int, int], None] | None = None,
    method: str = "full",
    refit: bool = False,
) -> TuneResult:
    """Fit on hash-half a, measure on half b against the current model, switch only when better; with
    ``refit``, a better method is fitted again on all pairs and the collection uses that fit."""
    if method not in METHODS:
        raise InvalidRequest(f"unknown tuning method {method!r}; use one of {sorted(METHODS)}", param="method")
    found = service.collection(None, collection, "admin")
    train_pairs = [p for p in pairs if half(p.qid) == "a"]
    heldout = {p.qid: p.query for p in pairs if half(p.qid) == "b"}
    if len(train_pairs) < 2 or not heldout:  # in-batch negatives need two pairs
        raise InvalidRequest(
            f"too few pairs to tune ({len(train_pairs)} to train, {len(heldout)} held out queries)", param="pairs"
        )
    current = service.embedder_for(found.embed_model)
    # the documents vectors must exist before an adapter learns against them, and for the base figures
    Ingestor(service.store, service.tokenizer(), current, service.chunking).fill_vectors(collection)
    out, manifest = _fit_version(
        service, collection, current, train_pairs, options, progress, method, heldout_queries=len(heldout)
    )
    version, model_id, seconds = manifest["version"], manifest["model_id"], manifest["train_seconds"]
    held_qrels = {q: qrels[q] for q in heldout if q in qrels}
    seen = {p.doc_id for p in train_pairs}
    groups = {
        "seen_documents": {q for q in held_qrels if set(held_qrels[q]) & seen},
        "new_documents": {q for q in held_qrels if not set(held_qrels[q]) & seen},
    }
    tuned_embedder: Embedder = (
        AdaptedEmbedder(current, out, manifest)
        if method == "adapter"
        else LocalEmbedder(str(out), shared=service.shared)
    )
    base_figures = measure(service, collection, current, heldout, held_qrels, groups)
    tuned_figures = measure(service, collection, tuned_embedder, heldout, held_qrels, groups)
    accepted = tuned_figures["final"]["ndcg@10"] > base_figures["final"]["ndcg@10"]
    manifest.update(
        {
            "measured_on": "held-out half b",
            "base_figures": base_figures,
            "tuned_figures": tuned_figures,
            "accepted": accepted,
        }
    )
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    result = TuneResult(
        version, str(out), model_id, accepted, len(train_pairs), len(heldout), base_figures, tuned_figures, seconds
    )
    if accepted and refit:
        # the method measured better: fit it again on every pair (held-out ones too) and use that fit
        refit_out, refit_manifest = _fit_version(
            service, collection, current, pairs, options, None, method, refit_of=model_id
        )
        refit_id = refit_manifest["model_id"]
        result.refit_model_id, result.refit_path = refit_id, str(refit_out)
        if tuned_embedder.vectors_id != current.vectors_id:  # the half-a fit's own vectors are not used
            service.store.drop_vectors(collection, tuned_embedder.vectors_id)
        model_id = refit_id
    if accepted:
        service.store.set_embed_model(collection, model_id)
        Ingestor(service.store, service.tokenizer(), service.embedder_for(model_id), service.chunking).fill_vectors(
            collection
        )
    elif tuned_embedder.vectors_id != current.vectors_id:
        service.store.drop_vectors(collection, tuned_embedder.vectors_id)
    return result


def _fit_version(
    service: RagService,
    collection: str,
    current: Embedder,
    pairs: list[Pair],
    options: TuneOptions | AdapterOptions,
    progress: Callable[[int, int], None] | None,
    method: str,
    **fields: Any,
) -> tuple[Path, dict[str, Any]]:
    """Train one version on ``pairs``; (its folder, its manifest, which also holds ``fields``)."""
    run_method, _, weights_file = METHODS[method]
    about: dict[str, Any] = {"method": method, "base": current.model_id, "base_path": getattr(current, "path", "")}
    about |= {"train_pairs": len(pairs), "options": asdict(options), **fields}

    def write(out: Path) -> None:  # runs before the manifest is written, so its time goes in it
        started = time.perf_counter()
        run_method(service, collection, current, pairs, out, options, progress)
        about["train_seconds"] = round(time.perf_counter() - started, 1)

    return service.tuned.save(collection, weights_file, write, about)
