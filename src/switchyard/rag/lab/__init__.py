"""Evaluation and tuning, run from the CLI, never by the gateway: BEIR-layout corpora, ranking metrics,
``rag eval`` and its fusion sweep, ``rag tune`` and query-adapter fitting. May import ``serving`` and
``stores``; nothing in ``serving`` imports this package."""
