"""Query adapters: the cheap way to tune a collection. A linear map ``q -> normalise(q + q W)`` is learned on
the query side only, against the collection's stored document vectors, which stay as they are: tuning takes
seconds instead of a fine-tune's minutes to hours, and nothing is re-embedded. A tuned version is a folder
with ``adapter.npy`` (W) and the manifest naming the base model it adapts (``serving/tuned.py``); applying
it at query time is ``serving/adapted.py``'s, fitting it is this module's.

Measured on SciFact (NOTES.md): the gain comes from questions about documents that training questions were
also about; on questions about other documents an adapter is neutral to slightly worse, which is why
``rag tune`` reports both kinds of held-out question before switching."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..serving.adapted import ADAPTER_FILE
from ..serving.embed import Embedder
from ..stores.base import ChunkIndex
from ..types import Matrix


@dataclass
class AdapterOptions:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    scale: float = 20.0  # cosine similarities x scale are the logits of the in-batch softmax
    seed: int = 0


def train_adapter(
    queries: Matrix,
    passages: Matrix,
    pairs: Sequence[tuple[int, int]],
    options: AdapterOptions,
    progress: Callable[[int, int], None] | None = None,
) -> Matrix:
    """Learn W from (query row, passage row) pairs with in-batch negatives: each query must pick its own
    passage among the batch's. Negatives are other training passages only, so the adapter cannot simply
    learn which documents are popular. Blocking, CPU; a few seconds for a thousand pairs."""
    import torch

    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    dim = queries.shape[1]
    weights = torch.zeros(dim, dim, requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=options.learning_rate)
    q_all = torch.from_numpy(np.array(queries, dtype=np.float32))  # copies: store matrices are read-only
    d_all = torch.from_numpy(np.array(passages, dtype=np.float32))
    steps = max(1, -(-len(pairs) // options.batch_size)) * options.epochs
    step = 0
    for _ in range(options.epochs):
        order = list(pairs)
        rng.shuffle(order)
        for start in range(0, len(order), options.batch_size):
            batch = _distinct_passages(order[start : start + options.batch_size])
            q = q_all[[p[0] for p in batch]]
            q = torch.nn.functional.normalize(q + q @ weights, dim=-1)
            logits = options.scale * q @ d_all[[p[1] for p in batch]].T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            step += 1
            if progress:
                progress(step, steps)
    return np.asarray(weights.detach().numpy(), dtype=np.float32)


def first_chunks(store: ChunkIndex, collection: str) -> dict[str, tuple[int, str]]:
    """Document id -> (row id, indexed text) of its first chunk (what a pair's passage is)."""
    rowids, texts = store.chunk_texts(collection)
    text_of = dict(zip(rowids, texts, strict=True))
    return {s.chunk.doc_id: (r, text_of[r]) for r, s in store.chunks(rowids).items() if s.chunk.ordinal == 0}


def fit_adapter(
    store: ChunkIndex,
    collection: str,
    base: Embedder,
    pairs: Sequence[tuple[str, str]],
    options: AdapterOptions,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Matrix, int]:
    """An adapter for ``base`` on the collection from (query text, document id) pairs, against the stored
    vectors of each document's first chunk (which must exist); returns W and how many pairs it used."""
    first = first_chunks(store, collection)
    rowids, matrix = store.vectors(collection, base.vectors_id)
    row_of = {int(r): i for i, r in enumerate(rowids)}
    usable = [(q, first[d][0]) for q, d in pairs if d in first and first[d][0] in row_of]
    if len(usable) < 2:  # in-batch negatives need two pairs
        from ...errors import InvalidRequest

        raise InvalidRequest(f"too few labelled pairs found in the collection ({len(usable)})", param="pairs")
    texts = list(dict.fromkeys(q for q, _ in usable))
    index = {q: i for i, q in enumerate(texts)}
    vectors = base.encode_queries(texts)
    weights = train_adapter(vectors, matrix, [(index[q], row_of[r]) for q, r in usable], options, progress)
    return weights, len(usable)


def _distinct_passages(batch: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One pair per passage: a repeated passage would be its own in-batch negative."""
    seen: set[int] = set()
    return [p for p in batch if not (p[1] in seen or seen.add(p[1]))]  # type: ignore[func-returns-value]


def save_adapter(folder: Path, weights: Matrix) -> None:
    folder.mkdir(parents=True, exist_ok=False)
    np.save(folder / ADAPTER_FILE, weights.astype(np.float32))
