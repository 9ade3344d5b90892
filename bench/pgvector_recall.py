"""How much of the exact dense top k pgvector's HNSW index finds, on real embeddings: the titles of the
SciFact corpus (../shared/data/scifact, 5,183) embedded by the local MiniLM as one-chunk documents in a
PostgreSQL store, the train claims (809) as queries; recall@k and per-query time of the store's kNN for
each hnsw.ef_search, against numpy's exact answer over the same vectors. Titles only, to keep the
embedding cost small (about 1.5 min on one core). Prints a table, JSON last line.

    python bench/pgvector_recall.py --postgres-dsn postgresql://user@host/db   # or SWITCHYARD_RAG_POSTGRES_DSN

Works in a collection of its own and deletes it when done; the server needs the vector extension.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from switchyard.rag.serving.dense import DenseRetriever
from switchyard.rag.serving.embed import LocalEmbedder
from switchyard.rag.stores.base import NewDocument
from switchyard.rag.stores.open import DSN_ENV
from switchyard.rag.stores.postgres import PostgresRagStore
from switchyard.rag.stores.postgres_vectors import PgVectorLayout
from switchyard.rag.types import Chunk, Collection

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def _lines(path: Path, field: str, limit: int) -> list[str]:
    out = []
    with path.open() as f:
        for line in f:
            out.append(str(json.loads(line)[field]))
            if len(out) == limit:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres-dsn", default=os.environ.get(DSN_ENV), help=f"default: ${DSN_ENV}")
    ap.add_argument("--data", type=Path, default=SCIFACT, help="a folder with corpus.jsonl, queries_train.jsonl")
    ap.add_argument("--docs", type=int, default=0, help="first N titles (0: all)")
    ap.add_argument("--queries", type=int, default=0, help="first N claims (0: all)")
    ap.add_argument("--ef-search", default="40,100,200", help="comma-separated hnsw.ef_search values")
    ap.add_argument("--k", default="10,100", help="comma-separated hits per query")
    args = ap.parse_args()
    if not args.postgres_dsn:
        ap.error(f"needs --postgres-dsn or {DSN_ENV}")
    titles = _lines(args.data / "corpus.jsonl", "title", args.docs or -1)
    claims = _lines(args.data / "queries_train.jsonl", "text", args.queries or -1)
    embedder = LocalEmbedder(batch_size=64)
    t0 = time.perf_counter()
    vectors, queries = embedder.encode(titles), embedder.encode(claims)
    embed_s = time.perf_counter() - t0

    store = PostgresRagStore(args.postgres_dsn)
    native = store.native_dense()
    if not isinstance(native, PgVectorLayout):
        store.close()
        sys.exit("the server has no vector extension (pgvector): nothing to measure")
    name = f"recall-{os.getpid()}"
    rows: list[dict[str, object]] = []
    try:
        store.create_collection(Collection(name, embed_model=embedder.model_id))
        t0 = time.perf_counter()
        for i, title in enumerate(titles):
            chunk = Chunk(f"t{i}#0", f"t{i}", 0, title, len(title.split()))
            doc = NewDocument(f"t{i}", "", None, {}, str(i), title, [chunk], vectors[i : i + 1])
            store.put_document(name, doc, embedder.model_id)
        write_s = time.perf_counter() - t0
        exact = DenseRetriever(store, embedder.model_id, use_store_search=False)
        in_store = DenseRetriever(store, embedder.model_id)
        for k in (int(x) for x in args.k.split(",")):
            want = [{r for r, _ in exact.search(name, q, k)} for q in queries]
            for ef in (int(x) for x in args.ef_search.split(",")):
                native.ef_search = ef
                in_store.search(name, queries[0], k)  # warm
                ms, recall = [], []
                for q, best in zip(queries, want, strict=True):
                    t0 = time.perf_counter()
                    got = {r for r, _ in in_store.search(name, q, k)}
                    ms.append((time.perf_counter() - t0) * 1000)
                    recall.append(len(best & got) / max(1, len(best)))
                ms.sort()
                rows.append(
                    {
                        "k": k,
                        "ef_search": ef,
                        "recall_at_k": round(statistics.mean(recall), 4),
                        "p50_ms": round(statistics.median(ms), 3),
                        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3),
                    }
                )
        store.delete_collection(name)
    finally:
        store.close()
    report = {
        "docs": len(titles),
        "queries": len(claims),
        "dim": int(vectors.shape[1]),
        "pgvector": native.version,
        "embed_s": round(embed_s, 1),
        "store_write_docs_per_s": round(len(titles) / write_s, 1),
        "runs": rows,
    }
    print(f"pgvector {native.version}: {len(titles)} SciFact titles x {vectors.shape[1]} dims, {len(claims)} claims")
    for r in rows:
        print(f"  k={r['k']} ef_search={r['ef_search']}: recall@k {r['recall_at_k']}, {r['p50_ms']} / {r['p95_ms']} ms")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
