"""Fusion of ranked lists: reciprocal rank fusion and weighted score fusion (min-max normalised per
list), both weighted per stage. A registry maps the configured name to the function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

Ranked = Sequence[tuple[int, float]]  # (chunk row id, score), best first


def rrf(lists: Mapping[str, Ranked], weights: Mapping[str, float], k: float = 60.0) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for stage, ranked in lists.items():
        w = weights.get(stage, 1.0)
        for rank, (rowid, _) in enumerate(ranked, start=1):
            scores[rowid] = scores.get(rowid, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def weighted(lists: Mapping[str, Ranked], weights: Mapping[str, float], k: float = 60.0) -> list[tuple[int, float]]:
    """Sum of weight x min-max normalised score; a chunk absent from a list scores 0 there. When a list's
    scores are all equal (a single hit, say), each of its chunks is that list's best: 1."""
    del k
    scores: dict[int, float] = {}
    for stage, ranked in lists.items():
        if not ranked:
            continue
        w = weights.get(stage, 1.0)
        values = [s for _, s in ranked]
        lo, hi = min(values), max(values)
        for rowid, s in ranked:
            normalised = (s - lo) / (hi - lo) if hi > lo else 1.0
            scores[rowid] = scores.get(rowid, 0.0) + w * normalised
    return sorted(scores.items(), key=lambda kv: -kv[1])


FUSIONS: dict[str, Callable[[Mapping[str, Ranked], Mapping[str, float], float], list[tuple[int, float]]]] = {
    "rrf": rrf,
    "weighted": weighted,
}
