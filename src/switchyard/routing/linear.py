"""The small linear models behind the router, stored as plain arrays (no pickles): a multinomial
logistic regression over the joint outcome of two models, a binary one per candidate of the N-model
router, and a ridge regression for answer length. Fitting uses scikit-learn (imported on use);
predicting needs only numpy."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Joint outcome classes: 2 * cheap_ok + premium_ok.
BOTH_WRONG, PREMIUM_ONLY, CHEAP_ONLY, BOTH_RIGHT = 0, 1, 2, 3


@dataclass(frozen=True)
class Standardizer:
    mean: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, x: FloatArray, dense: int | None = None, gain: float = 1.0) -> Standardizer:
        """Centre every column; scale the first ``dense`` columns to unit variance and multiply the rest
        (embedding dimensions, already on one scale) by ``gain``."""
        dense = x.shape[1] if dense is None else dense
        std = x.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        scale[dense:] = 1.0 / gain
        return cls(x.mean(axis=0), scale)

    def __call__(self, x: FloatArray) -> FloatArray:
        return (x - self.mean) / self.scale


@contextmanager
def one_thread() -> Iterator[None]:
    """Run BLAS and OpenMP on one thread while fitting. The problems are small (hundreds of features,
    thousands of rows); on this 2-core machine shared with other jobs, two threads per pool made one
    logistic fit 20-40x slower than one thread (measured: 4.5 s against 0.18 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        yield
        return
    with threadpool_limits(limits=1):
        yield


def simplest_within_one_se(losses: dict[tuple[float, float], FloatArray]) -> tuple[float, float]:
    """Of settings ``(C, embedding gain)`` with per-prompt held-back losses, the least flexible one whose
    mean loss is within one standard error (of the paired difference) of the best one's. Picking the
    lowest loss on the same folds favours settings that fit the folds' noise, and the router's calibration
    then trusts predictions that are luckier than they will be on new prompts."""
    best = min(losses, key=lambda s: float(losses[s].mean()))
    n = len(losses[best])

    def close(setting: tuple[float, float]) -> bool:
        d = losses[setting] - losses[best]
        return float(d.mean()) <= (float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0)

    return min((s for s in losses if close(s)), key=lambda s: (s[0] * s[1] ** 2, s[0]))


def joint_outcome(cheap_ok: NDArray[np.bool_], premium_ok: NDArray[np.bool_]) -> NDArray[np.int64]:
    return 2 * cheap_ok.astype(np.int64) + premium_ok.astype(np.int64)


@dataclass(frozen=True)
class OutcomeClassifier:
    """P(joint outcome) for the four classes, from standardized features."""

    std: Standardizer
    coef: FloatArray  # (4, d)
    intercept: FloatArray  # (4,)

    @classmethod
    def fit(
        cls, x: FloatArray, y: NDArray[np.int64], c: float, gain: float, dense: int, seed: int = 0
    ) -> OutcomeClassifier:
        std = Standardizer.fit(x, dense, gain)
        z = std(x)
        coef = np.zeros((4, x.shape[1]))
        intercept = np.full(4, -30.0)  # classes never seen get ~zero probability
        present = np.unique(y)
        if len(present) == 1:
            intercept[present[0]] = 0.0
            return cls(std, coef, intercept)
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(z, y)
        classes = [int(k) for k in model.classes_]
        if len(classes) == 2:  # sklearn fits one logit for two classes: P(classes[1]) = sigmoid
            intercept[classes[0]] = 0.0
            coef[classes[1]], intercept[classes[1]] = model.coef_[0], model.intercept_[0]
        else:
            for row, k in enumerate(classes):
                coef[k], intercept[k] = model.coef_[row], model.intercept_[row]
        return cls(std, coef, intercept)

    def proba(self, x: FloatArray) -> FloatArray:
        logits = self.std(x) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        result: FloatArray = e / e.sum(axis=1, keepdims=True)
        return result

    def arrays(self, prefix: str) -> dict[str, FloatArray]:
        return {
            f"{prefix}mean": self.std.mean,
            f"{prefix}scale": self.std.scale,
            f"{prefix}coef": self.coef,
            f"{prefix}intercept": self.intercept,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, FloatArray], prefix: str) -> OutcomeClassifier:
        std = Standardizer(a[f"{prefix}mean"], a[f"{prefix}scale"])
        return cls(std, a[f"{prefix}coef"], a[f"{prefix}intercept"])


@dataclass(frozen=True)
class _Linear:
    """A linear map of standardized features, kept in an artifact's arrays under a prefix."""

    std: Standardizer
    coef: FloatArray  # (d,)
    intercept: float

    def arrays(self, prefix: str) -> dict[str, FloatArray]:
        return {
            f"{prefix}mean": self.std.mean,
            f"{prefix}scale": self.std.scale,
            f"{prefix}coef": self.coef,
            f"{prefix}intercept": np.array([self.intercept]),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, FloatArray], prefix: str) -> Self:
        std = Standardizer(a[f"{prefix}mean"], a[f"{prefix}scale"])
        return cls(std, a[f"{prefix}coef"], float(a[f"{prefix}intercept"][0]))


@dataclass(frozen=True)
class CorrectClassifier(_Linear):
    """P(one candidate answers correctly), an L2-regularised logistic regression on standardized features.

    Labels may be scores in [0, 1] (a judge's grade): a row then counts as a right answer with weight
    ``s`` and a wrong one with ``1 - s``, which is the cross-entropy of the score itself."""

    @classmethod
    def fit(cls, x: FloatArray, y: FloatArray, c: float, gain: float, dense: int, seed: int = 0) -> CorrectClassifier:
        std = Standardizer.fit(x, dense, gain)
        z = std(x)
        n = len(y)
        hard = bool(np.all((y == 0.0) | (y == 1.0)))
        if hard and float(np.ptp(y)) == 0.0:  # one class only: its smoothed share, no slope
            share = (float(y.sum()) + 0.5) / (n + 1.0)
            return cls(std, np.zeros(x.shape[1]), math.log(share / (1.0 - share)))
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        if hard:
            model.fit(z, y.astype(np.int64))
        else:
            labels = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])
            model.fit(np.vstack([z, z]), labels, sample_weight=np.concatenate([y, 1.0 - y]))
        return cls(std, np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0]))

    def proba(self, x: FloatArray) -> FloatArray:
        logits = self.std(x) @ self.coef + self.intercept
        result: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))
        return result


@dataclass(frozen=True)
class LengthModel(_Linear):
    """Ridge regression of log(output tokens) on standardized features; predicts tokens."""

    @classmethod
    def fit(cls, x: FloatArray, tokens: FloatArray, alpha: float = 10.0) -> LengthModel:
        std = Standardizer.fit(x)
        z = std(x)
        y = np.log(np.maximum(tokens, 1.0))
        intercept = float(y.mean())
        coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - intercept))
        return cls(std, np.asarray(coef, dtype=np.float64), intercept)

    @classmethod
    def constant(cls, tokens: float, dim: int) -> LengthModel:
        return cls(Standardizer(np.zeros(dim), np.ones(dim)), np.zeros(dim), float(np.log(max(tokens, 1.0))))

    def predict(self, x: FloatArray) -> FloatArray:
        result: FloatArray = np.exp(self.std(x) @ self.coef + self.intercept)
        return result
