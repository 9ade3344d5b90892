"""What the gateway runs for a request or an ingest: the RAG service and holder, RAG chat, ingest
(loaders, blocks, chunking, tokenize, embed), retrieval (lexical, dense, fusion, rerank), access control,
and opening a collection's tuned embedder (``tuned``, ``adapted``). Nothing here imports ``rag.lab``."""
