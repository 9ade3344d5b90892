"""Fitting the N-model router (``NRouter``) so that its quality promise holds on prompts it has not seen.

1. Features: text statistics of the whole prompt and the embedding of its end (``features.py``).
2. Per candidate, a logistic regression of correctness; its L2 strength and embedding gain: the least
   flexible within one standard error of the lowest out-of-fold log-loss (k-fold: 10 folds below 2,000
   prompts, else 5).
3. Costs: per candidate, per-token prices (given, or fitted to the recorded costs by non-negative least
   squares over input tokens and output tokens) and a ridge model of output tokens.
4. Calibration: on the out-of-fold predictions, for each target quality, the largest exchange rate
   ``lambda`` (the cheapest routing) up to which, from the most conservative one, the lower bound of the
   quality kept on a new sample stays at the target (a bootstrap band over the lambda path, ``calibration.py``).
5. The held-out estimate: steps 2-4 are run again inside each outer fold of a nested cross-validation
   (regularisation as chosen in step 2), and the outer folds' routed prompts are pooled (``estimate.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .calibration import DEFAULT_TARGETS, Promise, calibrate_path
from .choice import ALWAYS_BEST, ALWAYS_CHEAPEST, KIND, Features, featurize, route
from .costs import Price, Tokenizer, TokenPrice, call_cost
from .data import RouterDataError
from .estimate import HeldOut, held_out
from .features import PROMPT_STATS, Encoder
from .linear import CorrectClassifier, LengthModel, one_thread, simplest_within_one_se
from .model import FitOptions, kfold_splits
from .outcomes import Outcomes

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Folds = list[tuple[IntArray, IntArray]]
Setting = tuple[float, float]  # (C, embedding gain)

# The exchange rates the calibration tries, from the most conservative to the cheapest.
LAMBDA_GRID: tuple[float, ...] = (ALWAYS_BEST, 0.0, *(float(v) for v in np.geomspace(1e-3, 1e3, 241)), ALWAYS_CHEAPEST)


@dataclass
class _Train:
    feats: Features
    y: FloatArray  # (n, N)
    costs: FloatArray  # (n, N), as billed
    out: FloatArray  # (n, N) output tokens (1 where unknown)
    prices: list[Price]
    dense: int
    reference: int


@dataclass
class Fitted:
    """What ``NRouter`` is made of: its metadata and, per candidate, its classifier and length model."""

    meta: dict[str, Any]
    classifiers: list[CorrectClassifier]
    lengths: list[LengthModel]


def fit_candidates(
    outcomes: Outcomes,
    *,
    target_quality: float,
    encoder: Encoder,
    tokenizer: Tokenizer,
    options: FitOptions | None = None,
) -> Fitted:
    """Train and calibrate; the held-out estimate is made at ``target_quality`` (also ``choose``'s default)."""
    opts = options or FitOptions()
    n = len(outcomes)
    k = opts.folds or (10 if n < 2000 else 5)
    if n < 2 * k or n < 4 * opts.nested_folds:
        raise RouterDataError(f"{n} prompts are too few to train, calibrate and check a router")
    if not 0 < target_quality <= 1:
        raise RouterDataError("the target quality must be in (0, 1]")
    enc, tok = encoder, tokenizer
    with one_thread():
        feats = featurize(outcomes.prompts, enc, tok, opts.tail_chars)
        data = _prepare(outcomes, feats)
        folds = kfold_splits(n, k, opts.seed)
        settings, losses, p_oof = _select(data, folds, opts)
        out_oof = _oof_lengths(data, folds)
        lambdas = _calibrate(data, p_oof, out_oof, np.arange(n), opts.targets, opts)
        estimate = _nested(data, settings, outcomes.names, target_quality, opts) if opts.nested_folds else None
        classifiers = [_classifier(data, np.arange(n), j, settings[j], opts.seed) for j in range(len(outcomes.names))]
        lengths = [_length(data, np.arange(n), j) for j in range(len(outcomes.names))]
    means = {
        "input_tokens": float(feats.tokens.mean()),
        "output_tokens": {name: float(lengths[j].predict(feats.x).mean()) for j, name in enumerate(outcomes.names)},
    }
    meta: dict[str, Any] = {
        "kind": KIND,
        "candidates": [
            {
                "name": name,
                "price": {"input": data.prices[j].input, "output": data.prices[j].output},
                "price_source": "given" if outcomes.prices is not None else "fitted",
                "output_tokens_known": outcomes.output_tokens is not None,
                "quality": float(data.y[:, j].mean()),
                "mean_cost": float(data.costs[:, j].mean()),
                "c": settings[j][0],
                "embedding_gain": settings[j][1],
                "held_back_log_loss": round(losses[j], 5),
            }
            for j, name in enumerate(outcomes.names)
        ],
        "reference": outcomes.names[data.reference],
        "target_quality": target_quality,
        "embedding_model": enc.model_id,
        "features": {"prompt": list(PROMPT_STATS), "embed_tail_chars": opts.tail_chars},
        "lambdas": {f"{t:.2f}": _encode(v) for t, v in sorted(lambdas.items())},
        "training": {
            "rows": n,
            "dropped": outcomes.dropped,
            "data_sha256": outcomes.digest(),
            "folds": k,
            "margin_z": opts.margin_z,
            "confidence_z": opts.confidence_z,
            "holdout": opts.holdout,
            "seed": opts.seed,
            "means": means,
        },
        "held_out": estimate.as_dict() if estimate else None,
    }
    return Fitted(meta, classifiers, lengths)


def _encode(value: float) -> float | str:
    return value if np.isfinite(value) else ("inf" if value > 0 else "-inf")


def _prepare(outcomes: Outcomes, feats: Features) -> _Train:
    y, costs = outcomes.correct, outcomes.costs
    out = outcomes.output_tokens if outcomes.output_tokens is not None else np.ones_like(costs)
    if outcomes.prices is not None:
        prices: list[Price] = [outcomes.prices[name] for name in outcomes.names]
    else:
        prices = [fit_price(feats.tokens, out[:, j], costs[:, j]) for j in range(len(outcomes.names))]
    quality = y.mean(axis=0)
    # The reference: the most accurate candidate; among equals, the cheaper.
    reference = int(min(range(len(quality)), key=lambda j: (-round(float(quality[j]), 12), float(costs[:, j].mean()))))
    return _Train(feats, y, costs, out, prices, len(PROMPT_STATS), reference)


def fit_price(input_tokens: FloatArray, output_tokens: FloatArray, costs: FloatArray) -> TokenPrice:
    """USD per 1M input and output tokens that best reproduce the costs (non-negative least squares).
    With unknown output tokens (all 1) the output rate is the per-call remainder."""
    from scipy.optimize import nnls  # type: ignore[import-untyped]

    a = np.column_stack([input_tokens, output_tokens]) / 1e6
    rates, _ = nnls(a, costs)
    return TokenPrice(float(rates[0]), float(rates[1]))


def _classifier(data: _Train, rows: IntArray, j: int, setting: Setting, seed: int) -> CorrectClassifier:
    return CorrectClassifier.fit(data.feats.x[rows], data.y[rows, j], setting[0], setting[1], data.dense, seed)


def _length(data: _Train, rows: IntArray, j: int) -> LengthModel:
    tokens = data.out[rows, j]
    if float(np.ptp(tokens)) == 0.0:
        return LengthModel.constant(float(tokens[0]) if len(tokens) else 1.0, data.feats.x.shape[1])
    return LengthModel.fit(data.feats.x[rows], tokens)


def _log_losses(y: FloatArray, p: FloatArray) -> FloatArray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    result: FloatArray = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return result


def _select(data: _Train, folds: Folds, opts: FitOptions) -> tuple[list[Setting], list[float], FloatArray]:
    """Per candidate, the least flexible setting within one standard error of the lowest out-of-fold
    log-loss (``linear.simplest_within_one_se``); its loss and predictions."""
    n, k = data.y.shape
    grid = [(c, g) for g in opts.embedding_gains for c in opts.c_grid]
    settings: list[Setting] = []
    losses: list[float] = []
    p_oof = np.zeros((n, k))
    for j in range(k):
        held: dict[Setting, FloatArray] = {}
        per_prompt: dict[Setting, FloatArray] = {}
        for setting in grid:
            held[setting] = _oof(data, np.arange(n), folds, j, setting, opts.seed)
            per_prompt[setting] = _log_losses(data.y[:, j], held[setting])
        chosen = simplest_within_one_se(per_prompt)
        settings.append(chosen)
        losses.append(float(per_prompt[chosen].mean()))
        p_oof[:, j] = held[chosen]
    return settings, losses, p_oof


def _oof(data: _Train, rows: IntArray, folds: Folds, j: int, setting: Setting, seed: int) -> FloatArray:
    """Out-of-fold P(correct) of candidate j over ``rows`` (folds index into ``rows``)."""
    p = np.zeros(len(rows))
    for train, test in folds:
        clf = _classifier(data, rows[train], j, setting, seed)
        p[test] = clf.proba(data.feats.x[rows[test]])
    return p


def _oof_lengths(data: _Train, folds: Folds, rows: IntArray | None = None) -> FloatArray:
    rows = np.arange(len(data.y)) if rows is None else rows
    out = np.zeros((len(rows), data.y.shape[1]))
    for train, test in folds:
        for j in range(data.y.shape[1]):
            out[test, j] = _length(data, rows[train], j).predict(data.feats.x[rows[test]])
    return out


def _relative_costs(data: _Train, rows: IntArray, out: FloatArray) -> FloatArray:
    cost = np.column_stack([call_cost(data.feats.tokens[rows], out[:, j], data.prices[j]) for j in range(out.shape[1])])
    result: FloatArray = cost / max(float(cost[:, data.reference].mean()), 1e-300)
    return result


def _choices(data: _Train, p: FloatArray, rel: FloatArray) -> IntArray:
    """Column chosen per prompt at every lambda of ``LAMBDA_GRID``: (L, n)."""
    return np.stack([route(p, rel, lam, data.reference) for lam in LAMBDA_GRID])


def _calibrate(
    data: _Train, p: FloatArray, out: FloatArray, rows: IntArray, targets: Sequence[float], opts: FitOptions
) -> dict[float, float]:
    """Lambda per target from held-back predictions ``p`` and output tokens ``out`` of ``rows``;
    non-increasing as the target rises."""
    choices = _choices(data, p, _relative_costs(data, rows, out))
    y = data.y[rows]
    routed = y[np.arange(len(rows))[None, :], choices]
    chosen = calibrate_path(routed, y[:, data.reference], targets or DEFAULT_TARGETS, promise(opts))
    return {t: LAMBDA_GRID[i] for t, i in chosen.items()}


def promise(opts: FitOptions) -> Promise:
    return Promise(opts.confidence_z, opts.holdout, opts.margin_z, seed=opts.seed)


def _nested(data: _Train, settings: list[Setting], names: Sequence[str], target: float, opts: FitOptions) -> HeldOut:
    """Steps 2-4 inside each outer fold; the outer folds' choices pooled."""
    n, k = data.y.shape
    ref = data.reference
    chosen = np.zeros(n, dtype=np.int64)
    for train, test in kfold_splits(n, opts.nested_folds, opts.seed + 1):
        inner = kfold_splits(len(train), opts.nested_folds, opts.seed + 2)
        p_in = np.column_stack([_oof(data, train, inner, j, settings[j], opts.seed) for j in range(k)])
        lam = _calibrate(data, p_in, _oof_lengths(data, inner, train), train, (target,), opts)[target]
        classifiers = [_classifier(data, train, j, settings[j], opts.seed) for j in range(k)]
        lengths = [_length(data, train, j) for j in range(k)]
        p = np.column_stack([c.proba(data.feats.x[test]) for c in classifiers])
        out_train = np.column_stack([m.predict(data.feats.x[train]) for m in lengths])
        out_test = np.column_stack([m.predict(data.feats.x[test]) for m in lengths])
        scale = float(call_cost(data.feats.tokens[train], out_train[:, ref], data.prices[ref]).mean())
        cost = np.column_stack([call_cost(data.feats.tokens[test], out_test[:, j], data.prices[j]) for j in range(k)])
        chosen[test] = route(p, cost / max(scale, 1e-300), lam, ref)
    rows = np.arange(n)
    return held_out(
        data.y[rows, chosen],
        data.y[:, ref],
        data.costs[rows, chosen],
        data.costs[:, ref],
        target=target,
        folds=opts.nested_folds,
        choices={name: float(np.mean(chosen == j)) for j, name in enumerate(names)},
        seed=opts.seed,
    )
