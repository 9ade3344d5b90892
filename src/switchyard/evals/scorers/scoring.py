"""The one entry point a run needs: ``await Scoring(deps).score(item, answer)``."""

from __future__ import annotations

from ..types import Answer, EvalItem, Score
from .base import Scorer, ScorerRegistry
from .deps import ScorerDeps
from .registry import default_registry


class Scoring:
    """Scores answers to items with each item's scorer spec. Each distinct spec is built once and kept
    (by ``ScorerSpec.key``) for the life of this object, so a set of a thousand items with one scorer
    compiles its patterns or reaches its embedder once."""

    def __init__(self, deps: ScorerDeps | None = None, registry: ScorerRegistry | None = None) -> None:
        self.deps = deps or ScorerDeps()
        self.registry = registry or default_registry()
        self._built: dict[str, Scorer] = {}

    def scorer(self, item: EvalItem) -> Scorer:
        key = item.scorer.key
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = self.registry.build(item.scorer, self.deps)
        return found

    async def score(self, item: EvalItem, answer: Answer) -> Score:
        """Raises ``ScorerError`` for a spec or reference the scorer cannot use (``load_eval_set`` reports
        those at load time); an answer it cannot read is a failed score."""
        return await self.scorer(item).score(item, answer)
