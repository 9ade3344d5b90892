"""The RAG service the server and CLI share: collections checked against their ACLs, ingest, search,
deletion and erasure, over one store. Built from the gateway config; models load lazily (first ingest or
search), in the gateway's shared model table, so ``local-embed`` and RAG hold one copy."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from ...config import GatewayConfig, RagConfig
from ...errors import ConfigError, InvalidRequest, NotFound, QuotaExceeded
from ...providers.transport import HttpTransport
from ...types import Principal
from ..stores.base import AnswerCache, RagStore
from ..stores.open import open_store, rag_db_path
from ..types import SENSITIVITIES, Acl, Collection, Document, Hit, Sensitivity
from .acl import Action, check, default_acl, may
from .adapted import AdaptedEmbedder, is_adapter
from .chunking import ChunkOptions
from .embed import Embedder, LocalEmbedder
from .ingest import Ingestor, IngestReport
from .lexical import LEXICAL, LexicalRetriever
from .rerank import Reranker, make_reranker
from .retrieval import RetrievalOptions, Retriever
from .tokenize import HFTokenizer, Tokenizer
from .tuned import TunedModels

__all__ = ["RagService", "rag_db_path"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RagService:
    def __init__(
        self,
        store: RagStore,
        cfg: RagConfig,
        *,
        embed_path: str | None,
        shared: MutableMapping[str, Any] | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.embed_path = embed_path
        self.shared: MutableMapping[str, Any] = shared if shared is not None else {}
        self.reranker = reranker
        self.tuned = TunedModels(Path(cfg.models_dir))
        self.options = RetrievalOptions(
            fusion=cfg.fusion,
            weights={"bm25": 1 - cfg.dense_weight, "dense": cfg.dense_weight},
            rrf_k=cfg.rrf_k,
            rerank_depth=cfg.rerank.depth if cfg.rerank else 30,
        )
        self.chunking = ChunkOptions(cfg.chunk_tokens, cfg.chunk_overlap)
        self._lexical: LexicalRetriever = LEXICAL[cfg.lexical](store)
        self._tokenizer: Tokenizer | None = None
        self._embedders: dict[str, Embedder] = {}
        self._retrievers: dict[str, Retriever] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        config: GatewayConfig,
        ledger_path: str,
        *,
        shared: MutableMapping[str, Any] | None = None,
        transport: HttpTransport | None = None,
    ) -> RagService:
        cfg = config.rag
        model = config.model(cfg.embed_model)
        if model is not None and model.provider != "sentence_transformers":
            raise ConfigError(f"rag.embed_model {cfg.embed_model!r} must be a local sentence_transformers model")
        path = model.path if model is not None else None
        reranker = None
        if cfg.rerank is not None:
            spec = cfg.rerank.model_dump()
            if cfg.rerank.api_key_env:
                import os

                spec["api_key"] = os.environ.get(cfg.rerank.api_key_env)
            reranker = make_reranker(spec, transport)
        return cls(open_store(cfg, ledger_path), cfg, embed_path=path, shared=shared, reranker=reranker)

    @property
    def lexical(self) -> LexicalRetriever:
        return self._lexical

    @property
    def answers(self) -> AnswerCache:
        """Where RAG chat keeps the answers it was asked to cache (the store; erased with what they cite)."""
        return self.store

    # --- models
    def default_embedder(self) -> Embedder:
        return self.embedder_for(None)

    def embedder_for(self, model_id: str | None) -> Embedder:
        """The embedder of a collection: the configured model, or a tuned version it was switched to."""
        with self._lock:
            if model_id is not None and model_id in self._embedders:
                return self._embedders[model_id]
            base = self._embedders.get("")
            if base is None:
                base = self._embedders[""] = LocalEmbedder(self.embed_path, shared=self.shared)
                self._embedders[base.model_id] = base
            if model_id is None or model_id == base.model_id or not model_id:
                return base
            path = self.tuned.path_of(model_id)
            if path is None:
                raise ConfigError(f"no local model with id {model_id!r} (base or under {self.cfg.models_dir})")
        # outside the lock: an adapter's base is resolved through this method again
        embedder: Embedder
        if is_adapter(path):
            embedder = AdaptedEmbedder.open(path, lambda manifest: self.embedder_for(str(manifest["base"])))
        else:
            embedder = LocalEmbedder(path, shared=self.shared)
        with self._lock:
            return self._embedders.setdefault(model_id, embedder)

    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = HFTokenizer(self.embed_path)
        return self._tokenizer

    def retriever(self, model_id: str) -> Retriever:
        embedder = self.embedder_for(model_id)
        with self._lock:
            found = self._retrievers.get(embedder.model_id)
            if found is None:
                found = Retriever(self.store, self._lexical, embedder, self.options, self.reranker)
                self._retrievers[embedder.model_id] = found
            return found

    # --- collections
    def collection(self, principal: Principal | None, name: str, action: Action) -> Collection:
        found = self.store.get_collection(name)
        if found is None:
            raise NotFound(f"no collection {name!r}", param="collection", code="collection_not_found")
        if principal is not None:
            check(principal, found, action)
        return found

    def create(
        self, principal: Principal | None, name: str, sensitivity: str = "internal", acl: Acl | None = None
    ) -> Collection:
        if not NAME.match(name):
            raise InvalidRequest("a collection name is 1-64 letters, digits, '.', '_' or '-'", param="name")
        if sensitivity not in SENSITIVITIES:
            raise InvalidRequest(f"sensitivity must be one of {', '.join(SENSITIVITIES)}", param="sensitivity")
        if principal is not None:
            acl = default_acl(principal, acl)
            self._within_quota(principal, collections=1)
        sens: Sensitivity = sensitivity  # type: ignore[assignment]
        collection = Collection(name, sens, acl or Acl(), self.default_embedder().model_id)
        self.store.create_collection(collection)
        return self.store.get_collection(name) or collection

    def _within_quota(self, principal: Principal, *, collections: int = 0, documents: int = 0) -> None:
        """Per-team quotas on what a team's keys may create: collections it administers, documents in them."""
        if principal.is_admin:
            return
        owned = [c for c in self.store.list_collections() if principal.team in c.acl.admin]
        if collections and len(owned) + collections > self.cfg.max_collections_per_team:
            raise QuotaExceeded(
                f"team {principal.team!r} administers {len(owned)} collections: the quota is "
                f"{self.cfg.max_collections_per_team} (rag.max_collections_per_team)"
            )
        held = sum(c.documents for c in owned)
        if documents and held + documents > self.cfg.max_documents_per_team:
            raise QuotaExceeded(
                f"team {principal.team!r} holds {held} documents; {documents} more would pass the quota of "
                f"{self.cfg.max_documents_per_team} (rag.max_documents_per_team)"
            )

    def visible(self, principal: Principal | None) -> list[Collection]:
        every = self.store.list_collections()
        if principal is None:
            return every
        return [c for c in every if may(principal, c, "read") or may(principal, c, "admin")]

    def set_acl(self, principal: Principal | None, name: str, acl: Acl) -> Collection:
        self.collection(principal, name, "admin")
        self.store.set_acl(name, acl)
        return self.collection(None, name, "read")

    def delete(self, principal: Principal | None, name: str) -> None:
        self.collection(principal, name, "admin")
        self.store.delete_collection(name)
        self.store.compact()

    # --- documents
    def ingestor(self, collection: Collection) -> Ingestor:
        return Ingestor(self.store, self.tokenizer(), self.embedder_for(collection.embed_model), self.chunking)

    def add(
        self,
        principal: Principal | None,
        name: str,
        docs: Iterable[Document],
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        collection = self.collection(principal, name, "write")
        if principal is not None:
            docs = list(docs)
            self._within_quota(principal, documents=len(docs))
        return self.ingestor(collection).ingest(name, docs, progress)

    def delete_document(self, principal: Principal | None, name: str, doc_id: str) -> int:
        self.collection(principal, name, "write")
        n = self.store.delete_documents(name, [doc_id])
        if not n:
            raise NotFound(f"no document {doc_id!r} in {name!r}", param="document", code="document_not_found")
        self.store.compact()
        return n

    def erase_subject(
        self, principal: Principal | None, subject: str, names: Sequence[str] | None = None
    ) -> dict[str, int]:
        """Erase a data subject's documents in ``names`` (each of which the caller must administer), or in
        every collection the caller administers. Deletions are made physical (compaction) before this
        returns."""
        if not subject:
            raise InvalidRequest("'subject' is required", param="subject")
        if names:
            targets = [self.collection(principal, name, "admin").name for name in names]
        else:
            every = self.store.list_collections()
            targets = [c.name for c in every if principal is None or may(principal, c, "admin")]
        erased = self.store.delete_subject(subject, targets)
        if any(erased.values()):  # nothing erased: nothing to make physical (no compaction for free)
            self.store.compact()
        return erased

    # --- search
    def readable(self, principal: Principal | None, names: Sequence[str]) -> list[Collection]:
        if not names:
            raise InvalidRequest("name at least one collection", param="collections")
        return [self.collection(principal, n, "read") for n in dict.fromkeys(names)]

    async def search(self, principal: Principal | None, names: Sequence[str], query: str, k: int) -> list[Hit]:
        """Every store call runs in a worker thread: the event loop never waits for the store."""
        if not query.strip():
            raise InvalidRequest("'query' must not be empty", param="query")
        collections = await asyncio.to_thread(self.readable, principal, names)
        groups: dict[tuple[str, bool], list[str]] = {}
        rerank = self.cfg.rerank
        for c in collections:
            # A reranker outside the perimeter gets only chunks whose data classes it may receive.
            allowed = rerank is None or rerank.may_receive(self.classes_for([c]))
            groups.setdefault((c.embed_model, allowed), []).append(c.name)
        hits: list[Hit] = []
        for (model_id, allowed), members in groups.items():
            hits += await self.retriever(model_id).search(members, query, k, rerank=allowed)
        return sorted(hits, key=lambda h: -h.score)[:k]

    def classes_for(self, collections: Sequence[Collection]) -> set[str]:
        out: set[str] = set()
        for c in collections:
            out.update(self.cfg.sensitivity_classes.get(c.sensitivity, []))
        return out

    def close(self) -> None:
        self.store.close()
