"""The local RAG store's settings in the YAML config."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from .models import Strict


def dsn_has_password(dsn: str) -> bool:
    """Whether a libpq URL (``postgresql://user:secret@host/db``) or key/value DSN names a password."""
    if "://" in dsn:
        netloc = urlsplit(dsn).netloc
        userinfo = netloc.rpartition("@")[0]
        query = urlsplit(dsn).query
        return ":" in userinfo or any(p.split("=", 1)[0].strip() == "password" for p in query.split("&"))
    return any(part.split("=", 1)[0].strip() == "password" for part in dsn.split() if "=" in part)


class RagRerankConfig(Strict):
    """A local cross-encoder directory (``path``) or a ``/v1/rerank``-style endpoint (``url``)."""

    path: str | None = None
    url: str | None = None
    model: str = "rerank"
    api_key_env: str | None = None
    depth: int = Field(default=30, ge=1, le=500, description="fused candidates the reranker sees")
    locality: str | None = Field(
        default=None,
        description="where the reranker runs: on_prem (the default for a local path) or a region; an endpoint "
        "(url) without one counts as outside the perimeter",
    )
    classes: list[str] = Field(
        default_factory=list,
        description="data classes a reranker outside the perimeter may receive; chunks of collections whose "
        "classes (rag.sensitivity_classes) are not all listed keep the fused order instead",
    )

    def may_receive(self, classes: set[str]) -> bool:
        """Whether chunks carrying ``classes`` may be sent to this reranker."""
        local = (self.locality or ("on_prem" if self.path and not self.url else None)) == "on_prem"
        return local or classes <= set(self.classes)


class RagConfig(Strict):
    """Local RAG (``switchyard.rag``): its own SQLite file, the embedding model, chunking, retrieval."""

    store: Literal["sqlite", "postgres"] = Field(
        default="sqlite", description="sqlite: one embedded file (db_path); postgres: tables on a server (postgres_dsn)"
    )
    db_path: str | None = Field(default=None, description="default: the ledger's path with suffix .rag.db")
    postgres_dsn: str | None = Field(
        default=None,
        description="rag.store postgres: a libpq URL or DSN without a password (secrets stay out of the file: "
        "PGPASSWORD, a .pgpass file, or the whole DSN in SWITCHYARD_RAG_POSTGRES_DSN); default: that variable",
    )

    @field_validator("postgres_dsn")
    @classmethod
    def _no_password_in_the_file(cls, dsn: str | None) -> str | None:
        if dsn is not None and dsn_has_password(dsn):
            raise ValueError(
                "a password does not belong in the config file: use PGPASSWORD or a .pgpass file, or put the "
                "whole DSN in SWITCHYARD_RAG_POSTGRES_DSN"
            )
        return dsn

    postgres_pool_size: int = Field(
        default=4, ge=1, le=64, description="rag.store postgres: connections the gateway keeps to the server (at most)"
    )
    postgres_pgvector: bool = Field(
        default=True,
        description="rag.store postgres: dense kNN in the server by pgvector (HNSW) when the vector extension is"
        " available; false: vectors as bytea, kNN by numpy in the gateway",
    )
    postgres_ef_search: int = Field(
        default=200,
        ge=10,
        le=1000,
        description="rag.store postgres with pgvector: HNSW search breadth (hnsw.ef_search, at least the hits"
        " asked for); higher finds more of the exact nearest chunks, slower",
    )
    embed_model: str = Field(default="local-embed", description="a sentence_transformers model of this config")
    chunk_tokens: int = Field(default=512, ge=16, le=8192)
    chunk_overlap: float = Field(default=0.12, ge=0, lt=0.5)
    lexical: Literal["bm25", "fts5", "store"] = Field(
        default="bm25", description="bm25: bm25s in memory; store (alias fts5): the store's own full-text search"
    )
    fusion: Literal["rrf", "weighted"] = "weighted"
    dense_weight: float = Field(default=0.5, ge=0, le=1, description="weight of dense scores; BM25 gets 1 - w")
    rrf_k: float = Field(default=60.0, gt=0)
    top_k: int = Field(default=5, ge=1, le=50, description="chunks injected into a RAG chat")
    max_collections_per_team: int = Field(
        default=100, ge=0, description="collections a team's keys may administer (create); the admin key is exempt"
    )
    max_documents_per_team: int = Field(
        default=100_000, ge=0, description="documents in the collections a team administers; the admin key is exempt"
    )
    rerank: RagRerankConfig | None = None
    sensitivity_classes: dict[str, list[str]] = Field(
        default_factory=lambda: {"confidential": ["health", "pii"], "internal": [], "public": []},
        description="sensitivity of a collection -> data classes its context carries into routing",
    )
    models_dir: str = Field(default="rag-models", description="tuned embedding models, one folder per version")
    cache_answers: bool = True
