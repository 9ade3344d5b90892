from __future__ import annotations

from switchyard.rag.serving.embed import LocalEmbedder
from switchyard.rag.serving.ingest import Ingestor
from switchyard.rag.serving.lexical import Bm25sRetriever, Fts5Retriever
from switchyard.rag.serving.retrieval import RetrievalOptions, Retriever
from switchyard.rag.serving.tokenize import HFTokenizer
from switchyard.rag.stores.sqlite import SQLiteRagStore
from switchyard.rag.types import Collection, Document

from .corpus import DOCS, QUERIES


def _setup(store: SQLiteRagStore, tokenizer: HFTokenizer, embedder: LocalEmbedder) -> Ingestor:
    store.create_collection(Collection("med", embed_model=embedder.model_id))
    ingestor = Ingestor(store, tokenizer, embedder)
    report = ingestor.ingest("med", DOCS)
    assert report.added == len(DOCS) and report.chunks == len(DOCS)
    return ingestor


async def test_every_stage_finds_the_relevant_document(
    store: SQLiteRagStore, tokenizer: HFTokenizer, embedder: LocalEmbedder
) -> None:
    _setup(store, tokenizer, embedder)
    for fusion in ("rrf", "weighted"):
        retriever = Retriever(store, Bm25sRetriever(store), embedder, RetrievalOptions(fusion=fusion))
        for query, want in QUERIES.values():
            hits = await retriever.search(["med"], query, k=3)
            assert hits[0].chunk.doc_id == want, (fusion, query, [h.chunk.doc_id for h in hits])
            top = hits[0]
            assert set(top.stages) >= {"dense", "fused"} and top.stages["fused"]["rank"] == 1
            assert top.provenance()["collection"] == "med" and top.provenance()["chunk"] == f"{want}#0"
    dense_only = Retriever(store, None, embedder)
    hits = await dense_only.search(["med"], "snoring and feeling tired during the day")
    assert hits[0].chunk.doc_id == "sleep" and set(hits[0].stages) == {"dense"}
    fts = Retriever(store, Fts5Retriever(store), None)
    hits = await fts.search(["med"], "dialysis kidneys")
    assert hits[0].chunk.doc_id == "kidney" and set(hits[0].stages) == {"bm25"}


async def test_reingest_skips_unchanged_and_replaces_changed(
    store: SQLiteRagStore, tokenizer: HFTokenizer, embedder: LocalEmbedder
) -> None:
    ingestor = _setup(store, tokenizer, embedder)
    again = ingestor.ingest("med", DOCS)
    assert again.unchanged == len(DOCS) and again.added == 0 and again.embedded == 0
    changed = Document("kidney", "Haemodialysis and peritoneal dialysis replace kidney function.", "Nephrology")
    report = ingestor.ingest("med", [changed])
    assert report.replaced == 1 and report.embedded == 1
    bm25 = Bm25sRetriever(store)
    retriever = Retriever(store, bm25, embedder)
    hits = await retriever.search(["med"], "peritoneal")
    assert hits[0].chunk.doc_id == "kidney" and "peritoneal" in hits[0].chunk.text
    assert store.get_collection("med").chunks == len(DOCS)  # type: ignore[union-attr]
