"""``embedding``: cosine similarity between the answer and the reference (a text, or a list: the most
similar counts), embedded by the injected embedder (``ScorerDeps``; by default the local ``local-embed``
model). The value is the similarity clipped to [0, 1]; passed when it reaches ``threshold``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ..errors import ScorerError
from ..types import Answer, EvalItem, Score
from .base import Args, ScorerKind, reference_values
from .deps import ScorerDeps


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths ({len(a)} and {len(b)})")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


class EmbeddingArgs(Args):
    threshold: float = Field(default=0.8, ge=-1.0, le=1.0)


def _references(item: EvalItem) -> list[str]:
    refs = reference_values(item)
    if not all(isinstance(r, str) and r.strip() for r in refs):
        raise ScorerError("an embedding reference is a non-empty text (or a list of them)", field="reference")
    return [str(r) for r in refs]


class EmbeddingScorer:
    def __init__(self, args: EmbeddingArgs, deps: ScorerDeps) -> None:
        self.args = args
        self.deps = deps

    async def score(self, item: EvalItem, answer: Answer) -> Score:
        refs = _references(item)
        if not answer.text.strip():
            return Score.of(False, "empty answer", similarity=0.0)
        vectors = await self.deps.get_embedder()([answer.text, *refs])
        if len(vectors) != len(refs) + 1:
            raise ScorerError(f"the embedder returned {len(vectors)} vectors for {len(refs) + 1} texts")
        similarity = max(cosine(vectors[0], v) for v in vectors[1:])
        passed = similarity >= self.args.threshold
        detail = f"similarity {similarity:.3f} {'>=' if passed else '<'} threshold {self.args.threshold}"
        return Score(min(1.0, max(0.0, similarity)), passed, detail, {"similarity": similarity})


def _check(args: EmbeddingArgs, item: EvalItem) -> None:
    _references(item)


def kinds() -> list[ScorerKind[Any]]:
    return [ScorerKind("embedding", EmbeddingArgs, EmbeddingScorer, _check, "cosine similarity to the reference")]
