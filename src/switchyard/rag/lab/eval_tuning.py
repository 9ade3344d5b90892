"""Tuning in ``switchyard rag eval``. With ``--tune-queries/--tune-qrels`` the eval learns a query adapter
(``adapter.py``) for the corpus's collection from those labelled queries, leaving out every query it is
about to evaluate, saves it as a version of the collection and records it as the collection's model. Later
evals of the same corpus use the collection as tuned (as a gateway serving that collection would) unless
told to measure the base model; the JSON names the model and what it was tuned on."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from ..serving.adapted import ADAPTER_FILE, AdaptedEmbedder, is_adapter
from ..serving.embed import LocalEmbedder
from ..serving.tuned import TunedModels
from ..stores.base import CollectionStore, RagStore
from .adapter import AdapterOptions, fit_adapter, save_adapter
from .beir import Qrels


def tune_for_eval(
    store: RagStore,
    collection: str,
    base: LocalEmbedder,
    queries: Mapping[str, str],
    qrels: Qrels,
    evaluated: set[str],
    models: TunedModels,
    options: AdapterOptions | None = None,
) -> AdaptedEmbedder:
    """Fit, save and record an adapter from the labelled queries that are not ``evaluated``."""
    options = options or AdapterOptions()
    used_queries = [q for q in qrels if q in queries and q not in evaluated]
    pairs = [(queries[q], doc) for q in used_queries for doc in qrels[q]]
    started = time.perf_counter()
    weights, used = fit_adapter(store, collection, base, pairs, options)
    fields = {
        "method": "adapter",
        "base": base.model_id,
        "base_path": base.path,
        "train_queries": len(used_queries),
        "train_pairs": used,
        "left_out_queries": len([q for q in qrels if q in queries and q in evaluated]),
        "options": asdict(options),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    out, manifest = models.save(collection, ADAPTER_FILE, lambda folder: save_adapter(folder, weights), fields)
    store.set_embed_model(collection, manifest["model_id"])
    return AdaptedEmbedder(base, out, manifest)


def recorded_tuning(
    store: CollectionStore, collection: str, base: LocalEmbedder, models: TunedModels
) -> AdaptedEmbedder | None:
    """The adapter the collection was last tuned to, if it adapts ``base`` and is still on disk."""
    found = store.get_collection(collection)
    if found is None or found.embed_model == base.model_id:
        return None
    path = models.path_of(found.embed_model)
    if path is None or not is_adapter(path):
        return None
    adapted = AdaptedEmbedder.open(path, lambda _: base)
    return adapted if adapted.manifest.get("base") == base.model_id else None


def describe(embedder: AdaptedEmbedder) -> dict[str, Any]:
    """What the eval JSON says about the adapter it measured."""
    keys = ("model_id", "base", "train_queries", "train_pairs", "left_out_queries", "train_seconds", "created")
    return {k: embedder.manifest.get(k) for k in keys} | {"path": embedder.path}
