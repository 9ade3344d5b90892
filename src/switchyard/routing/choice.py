"""How the N-model router chooses: per prompt and candidate, P(correct) and the predicted cost relative to
the reference model's mean; the choice maximises ``p - lambda * relative cost`` (``nrouter.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .costs import Tokenizer
from .features import Encoder, embedded_text, prompt_stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

KIND = "n-model"  # ``meta["kind"]`` of an N-model artifact

ALWAYS_BEST = float("-inf")  # the lambda that always picks the reference model
ALWAYS_CHEAPEST = float("inf")


@dataclass(frozen=True)
class Scores:
    """Predictions for a batch of prompts, columns in the router's candidate order."""

    names: tuple[str, ...]
    p: FloatArray  # (n, N) P(correct)
    cost: FloatArray  # (n, N) predicted USD per call
    scale: float  # the reference model's mean cost per call on the training prompts, at these prices

    @property
    def relative_cost(self) -> FloatArray:
        result: FloatArray = self.cost / max(self.scale, 1e-300)
        return result


@dataclass(frozen=True)
class Pick:
    """One prompt's route: the choice first, then the other allowed candidates by utility."""

    choice: str
    order: list[str]
    p: dict[str, float]
    cost: dict[str, float]
    utility: dict[str, float]
    lam: float
    target_quality: float


def route(
    p: FloatArray, relative_cost: FloatArray, lam: float, reference: int, allowed: Sequence[int] | None = None
) -> IntArray:
    """Column index chosen per row: the highest ``p - lam * relative_cost`` among ``allowed`` (all by
    default), ties to the cheaper; ``ALWAYS_BEST`` picks the reference (the most likely right when the
    reference is not allowed), ``inf`` the cheapest."""
    cols = np.arange(p.shape[1]) if allowed is None else np.asarray(allowed, dtype=np.int64)
    if lam == ALWAYS_BEST:
        if reference in cols:
            return np.full(p.shape[0], reference, dtype=np.int64)
        return np.asarray(cols[np.argmax(p[:, cols], axis=1)], dtype=np.int64)
    sub_p, sub_c = p[:, cols], relative_cost[:, cols]
    cheapest = lam == ALWAYS_CHEAPEST
    score = -sub_c + 1e-9 * sub_p if cheapest else sub_p - lam * sub_c - 1e-12 * sub_c
    return np.asarray(cols[np.argmax(score, axis=1)], dtype=np.int64)


@dataclass
class Features:
    tokens: FloatArray  # cl100k_base input tokens
    x: FloatArray  # text statistics (``dense`` columns), then the embedding


def featurize(prompts: Sequence[str], encoder: Encoder, tok: Tokenizer, tail_chars: int | None) -> Features:
    tokens = tok.count_many(prompts)
    stats = prompt_stats(prompts, tokens)
    if not prompts:
        return Features(tokens, stats)
    vectors = encoder.encode([embedded_text(p, tail_chars) for p in prompts])
    return Features(tokens, np.hstack([stats, vectors]))
