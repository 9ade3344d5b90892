"""Local RAG: collections with access control, structure-aware chunking, hybrid retrieval (BM25 + dense
kNN + fusion + optional rerank), erasure by document or data subject, evaluation and domain tuning.

Three wings, imported one way (``lab`` -> ``serving`` -> ``stores``): ``serving/`` is what the gateway
runs for a request or an ingest, ``stores/`` the store protocols and implementations (an embedded SQLite
file ``<db stem>.rag.db`` by default, or PostgreSQL), ``lab/`` evaluation and tuning, which the gateway never
loads. ``types.py`` holds the records all three share; ``cli.py`` is ``switchyard rag``.
"""
