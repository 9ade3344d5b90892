"""What a router keeps on prompts it has not seen: the whole fitting procedure (features, regularisation
chosen by held-back log-loss, thresholds calibrated on out-of-fold predictions) is run again inside
each outer fold of a cross-validation, and its choices for the outer fold's prompts are pooled. The
figures come with bootstrap intervals over the prompts (percentile, ``level`` two-sided: 0.90 gives the
one-sided 95% bounds of the calibration)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

DEFAULT_LEVEL = 0.90
_RESAMPLES = 2000


@dataclass(frozen=True)
class HeldOut:
    target: float
    quality_kept: float  # routed correctness / the reference model's, pooled over the outer folds
    quality_kept_interval: tuple[float, float]
    cost_fraction: float  # routed cost / the reference model's cost
    cost_fraction_interval: tuple[float, float]
    prompts: int
    folds: int
    level: float
    choices: dict[str, float]  # share of prompts routed to each candidate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HeldOut:
        return cls(
            float(raw["target"]),
            float(raw["quality_kept"]),
            (float(raw["quality_kept_interval"][0]), float(raw["quality_kept_interval"][1])),
            float(raw["cost_fraction"]),
            (float(raw["cost_fraction_interval"][0]), float(raw["cost_fraction_interval"][1])),
            int(raw["prompts"]),
            int(raw["folds"]),
            float(raw["level"]),
            {str(k): float(v) for k, v in raw["choices"].items()},
        )

    def summary(self) -> str:
        """One line, e.g. for ``router fit``."""
        pct = round(self.level * 100)
        q_lo, q_hi = self.quality_kept_interval
        c_lo, c_hi = self.cost_fraction_interval
        return (
            f"quality kept {self.quality_kept:.3f} [{q_lo:.3f}, {q_hi:.3f}], cost fraction "
            f"{self.cost_fraction:.3f} [{c_lo:.3f}, {c_hi:.3f}] ({pct}% bootstrap intervals, {self.prompts} prompts, "
            f"nested {self.folds}-fold cross-validation, target {self.target:.2f})"
        )


def held_out(
    routed_ok: FloatArray,
    best_ok: FloatArray,
    routed_cost: FloatArray,
    best_cost: FloatArray,
    *,
    target: float,
    folds: int,
    choices: dict[str, float],
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> HeldOut:
    """Pooled ratios and their percentile bootstrap intervals (prompts resampled with replacement)."""
    n = len(routed_ok)
    rng = np.random.default_rng(seed)
    kept: list[FloatArray] = []
    cost: list[FloatArray] = []
    for start in range(0, _RESAMPLES, 250):  # in chunks: bounded memory for large tables
        idx = rng.integers(0, n, size=(min(250, _RESAMPLES - start), n))
        kept.append(routed_ok[idx].sum(axis=1) / np.maximum(best_ok[idx].sum(axis=1), 1e-12))
        cost.append(routed_cost[idx].sum(axis=1) / np.maximum(best_cost[idx].sum(axis=1), 1e-300))
    tail = (1.0 - level) / 2 * 100
    k_lo, k_hi = np.percentile(np.concatenate(kept), [tail, 100 - tail])
    c_lo, c_hi = np.percentile(np.concatenate(cost), [tail, 100 - tail])
    return HeldOut(
        target=target,
        quality_kept=float(routed_ok.sum() / max(float(best_ok.sum()), 1e-12)),
        quality_kept_interval=(float(k_lo), float(k_hi)),
        cost_fraction=float(routed_cost.sum() / max(float(best_cost.sum()), 1e-300)),
        cost_fraction_interval=(float(c_lo), float(c_hi)),
        prompts=n,
        folds=folds,
        level=level,
        choices=choices,
    )
