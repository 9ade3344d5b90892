"""Local RAG: collections with access control, structure-aware chunking, hybrid retrieval (BM25 + dense
kNN + fusion + optional rerank), erasure by document or data subject, evaluation and domain tuning.

Everything is kept in the gateway's own building: an embedded SQLite file (``<db stem>.rag.db``) holds
documents, chunks, vectors (float32 blobs) and the FTS5 lexical index.
"""
