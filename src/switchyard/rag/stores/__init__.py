"""The RAG store: the protocols by concern (``base``), the embedded SQLite store, the PostgreSQL store with
its vector layouts, and ``open_store`` (``open``), the registry every caller opens a store through."""
