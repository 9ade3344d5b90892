"""Measure the RAG store's retrieval back ends on a synthetic collection (Zipf-like random words, random
unit vectors): dense kNN by numpy brute force over float32 vectors loaded from the store (load time and
per-query time) and, where the store searches itself (PostgreSQL with pgvector: HNSW index, inner product),
the store's kNN per query with its recall@k against numpy's exact answer; BM25 by bm25s (index build and
per-query time) against the store's own lexical search (SQLite FTS5's bm25(), or PostgreSQL full-text search
ranked by ts_rank_cd with --store postgres). Prints a table, JSON last line.

    python bench/rag_store.py --docs 5000 --queries 200
    python bench/rag_store.py --store postgres --postgres-dsn postgresql://user@host/db   # or SWITCHYARD_RAG_POSTGRES_DSN

Against PostgreSQL the bench works in a collection of its own and deletes it when done; --no-pgvector keeps
vectors as bytea (the store's fallback when the server lacks the extension).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from switchyard.rag.serving.dense import DenseRetriever
from switchyard.rag.serving.lexical import Bm25sRetriever, Fts5Retriever
from switchyard.rag.stores.base import NewDocument, RagStore
from switchyard.rag.stores.open import DSN_ENV
from switchyard.rag.stores.postgres import PostgresRagStore
from switchyard.rag.stores.postgres_vectors import DEFAULT_EF_SEARCH
from switchyard.rag.stores.sqlite import SQLiteRagStore
from switchyard.rag.types import Chunk, Collection

WORDS = [f"w{i}" for i in range(20_000)]


def _text(rng: random.Random, n: int) -> str:
    # Zipf-like word frequencies, as in real text
    return " ".join(WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] for _ in range(n))


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--words", type=int, default=200, help="words per document")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--postgres-dsn", default=os.environ.get(DSN_ENV), help=f"default: ${DSN_ENV}")
    ap.add_argument("--no-pgvector", action="store_true", help="postgres: vectors as bytea, no kNN in SQL")
    ap.add_argument("--ef-search", type=int, default=DEFAULT_EF_SEARCH, help="postgres with pgvector: hnsw.ef_search")
    ap.add_argument("--k", type=int, default=100, help="hits per dense query (the retriever's depth)")
    ap.add_argument("--skip-lexical", action="store_true", help="dense only")
    args = ap.parse_args()
    if args.store == "postgres" and not args.postgres_dsn:
        ap.error(f"--store postgres needs --postgres-dsn or {DSN_ENV}")
    rng = random.Random(0)
    nprng = np.random.default_rng(0)
    name = f"bench-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        store: RagStore
        if args.store == "postgres":
            store = PostgresRagStore(args.postgres_dsn, pgvector=not args.no_pgvector, ef_search=args.ef_search)
        else:
            store = SQLiteRagStore(Path(tmp) / "bench.rag.db")
        store.create_collection(Collection(name, embed_model="m"))
        t0 = time.perf_counter()
        for i in range(args.docs):
            text = _text(rng, args.words)
            vec = nprng.standard_normal((1, args.dim)).astype(np.float32)
            vec /= np.linalg.norm(vec)
            chunk = Chunk(f"d{i}#0", f"d{i}", 0, text, args.words)
            store.put_document(name, NewDocument(f"d{i}", "", None, {}, str(i), text, [chunk], vec), "m")
        write_s = time.perf_counter() - t0
        queries = [_text(rng, 8) for _ in range(args.queries)]
        qvecs = nprng.standard_normal((args.queries, args.dim)).astype(np.float32)
        qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)

        dense = DenseRetriever(store, "m", use_store_search=False)
        t0 = time.perf_counter()
        dense.search(name, qvecs[0], args.k)  # loads the matrix
        load_s = time.perf_counter() - t0
        dense_ms = []
        exact: list[set[int]] = []
        for q in qvecs:
            t0 = time.perf_counter()
            hits = dense.search(name, q, args.k)
            dense_ms.append((time.perf_counter() - t0) * 1000)
            exact.append({r for r, _ in hits})
        in_store = DenseRetriever(store, "m")
        store_dense: dict[str, object] | None = None
        if in_store.native is not None:
            in_store.search(name, qvecs[0], args.k)  # warm the connection and the index pages
            store_ms, recall = [], []
            for q, want in zip(qvecs, exact, strict=True):
                t0 = time.perf_counter()
                hits = in_store.search(name, q, args.k)
                store_ms.append((time.perf_counter() - t0) * 1000)
                recall.append(len(want & {r for r, _ in hits}) / max(1, len(want)))
            store_dense = {**_ms(store_ms), "recall_at_k": round(statistics.mean(recall), 4)}

        bm25 = Bm25sRetriever(store)
        t0 = time.perf_counter()
        if not args.skip_lexical:
            bm25.index(name)
        build_s = time.perf_counter() - t0
        bm25_ms, fts_ms = [], []
        fts = Fts5Retriever(store)
        for q in queries if not args.skip_lexical else []:
            t0 = time.perf_counter()
            bm25.search(name, q, 100)
            bm25_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            fts.search(name, q, 100)
            fts_ms.append((time.perf_counter() - t0) * 1000)
        layout = "sqlite"
        if isinstance(store, PostgresRagStore):
            layout = store.vector_layout
            rows = store._q("SELECT sum(pg_total_relation_size(t)) FROM unnest(%s::text[]) t", (list(store.tables),))
            size_mb = float(rows[0][0] or 0) / 1e6  # the tables' size, other collections included
            store.delete_collection(name)
        else:
            size_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.rag.db*")) / 1e6
        store.close()
    lexical = "postgres ts_rank_cd" if args.store == "postgres" else "fts5 bm25()"
    report = {
        "store": args.store,
        "docs": args.docs,
        "dim": args.dim,
        "store_write_docs_per_s": round(args.docs / write_s, 1),
        "store_mb": round(size_mb, 1),
        "dense_load_s": round(load_s, 3),
        "vectors": layout,
        "k": args.k,
        "ef_search": args.ef_search if store_dense is not None else None,
        "dense": _ms(dense_ms),
        "store_dense": store_dense,
        "bm25s_build_s": round(build_s, 3),
        "bm25s": _ms(bm25_ms) if bm25_ms else None,
        "store_lexical": _ms(fts_ms) if fts_ms else None,
    }
    print(f"{args.store}: {args.docs} docs x {args.dim} dims, {args.queries} queries")
    print(f"  dense (numpy brute force): load {report['dense_load_s']} s, query {report['dense']}")
    if store_dense is not None:
        print(f"  dense in the store ({layout}, HNSW ef_search {args.ef_search}, k={args.k}): query {store_dense}")
    print(f"  bm25s: build {report['bm25s_build_s']} s, query {report['bm25s']}")
    print(f"  {lexical}: query {report['store_lexical']}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
