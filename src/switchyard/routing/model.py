"""The quality/cost router: predicts, per prompt, whether the cheap model answers as well as the premium
one, and sends a prompt to premium when the quality it expects to lose per unit of money saved is above
a threshold calibrated for the target quality.

One model serves both policies:

- ``mode="route"`` decides before any call, from the prompt (embedding + text statistics); the saving
  is premium cost minus cheap cost, output lengths predicted from the prompt;
- ``mode="verify"`` is the cascade's learned verifier: the cheap answer is already paid for, so the
  saving is the premium call; when trained with cheap answers it also reads the answer's features.

The classifier is a multinomial logistic regression over the joint outcome (both wrong, premium only,
cheap only, both right), so ``P(cheap as good) = 1 - P(premium only)`` and the expected quality lost
by choosing cheap is ``P(premium only) - P(cheap only)``. Its regularisation is chosen by held-back
log-loss; the thresholds are calibrated on the same held-back (out-of-fold) predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from . import artifact
from .answers import ANSWER_FEATURES, answer_features
from .calibration import CONFIDENCE_Z, DEFAULT_TARGETS, Promise, calibrate, lookup
from .costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE, Price, Tokenizer, TokenPrice, call_cost
from .data import DEFAULT_CHEAP, DEFAULT_PREMIUM, OutcomeTable, RouterDataError
from .estimate import HeldOut, held_out
from .features import DEFAULT_TAIL_CHARS, PROMPT_STATS, Encoder, LocalEncoder, prompt_stats
from .linear import (
    CHEAP_ONLY,
    PREMIUM_ONLY,
    LengthModel,
    OutcomeClassifier,
    joint_outcome,
    one_thread,
    simplest_within_one_se,
)
from .trained import Trained

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Mode = Literal["route", "verify"]


@dataclass(frozen=True)
class FitOptions:
    # Inverse L2 strengths and embedding gains (text features are standardized, the unit-length
    # embedding is multiplied by the gain): every pair is tried, the best held-back log-loss wins.
    c_grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    embedding_gains: tuple[float, ...] = (1.0, 3.0)
    folds: int | None = None  # None: 10 below 2,000 rows, else 5
    # The promise's confidence (1.645: the target holds ~95% of the time), the size of the new sample it
    # is about (None: as many prompts as trained on; math.inf: the long run) and, instead of the bootstrap
    # band, a fixed calibration margin in standard errors (calibration.py).
    margin_z: float | None = None
    confidence_z: float = CONFIDENCE_Z
    holdout: float | None = None
    targets: tuple[float, ...] = DEFAULT_TARGETS
    cost_aware: bool = True  # divide expected loss by the prompt's own relative saving
    seed: int = 0
    nested_folds: int = 5  # outer folds of the held-out estimate; 0: no estimate
    tail_chars: int | None = DEFAULT_TAIL_CHARS  # N-model router: the end of the prompt the encoder reads


@dataclass(frozen=True)
class Assessment:
    """Per-prompt predictions. ``score`` above a threshold means premium."""

    p_as_good: FloatArray
    expected_loss: FloatArray
    savings_usd: FloatArray
    relative_savings: FloatArray
    score: FloatArray


@dataclass(frozen=True)
class Decision:
    """One prompt's prediction and choice, for ``explain`` and route headers."""

    p_as_good: float
    expected_loss: float
    savings_usd: float
    relative_savings: float
    score: float
    threshold: float
    target_quality: float
    premium: bool


@dataclass
class _Inputs:
    """Features of a batch of prompts (and cheap answers, in verify mode)."""

    tokens: FloatArray
    outcome_x: FloatArray  # text features first (``dense`` columns), then the embedding
    dense: int
    length_x: FloatArray
    cheap_tokens: FloatArray | None = None  # known when the cheap answer is


@dataclass
class RouterModel(Trained):
    meta: dict[str, Any]
    outcome: OutcomeClassifier
    premium_length: LengthModel
    cheap_length: LengthModel
    encoder: Encoder | None = None
    tokenizer: Tokenizer = field(default_factory=Tokenizer)

    # ---- features -------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        mode: Mode = self.meta["mode"]
        return mode

    @property
    def uses_answers(self) -> bool:
        return bool(self.meta["uses_answers"])

    @property
    def thresholds(self) -> dict[float, float]:
        return artifact.decode_thresholds(self.meta["thresholds"])

    def _inputs(self, prompts: Sequence[str], answers: Sequence[str] | None) -> _Inputs:
        return _featurize(prompts, answers if self.uses_answers else None, self._encoder(), self.tokenizer)

    # ---- prediction -----------------------------------------------------------------------------
    def assess(
        self,
        prompts: Sequence[str],
        answers: Sequence[str] | None = None,
        *,
        cheap_price: Price | None = None,
        premium_price: Price | None = None,
    ) -> Assessment:
        """Predictions for prompts (and, for a verifier trained on answers, the cheap answers)."""
        if self.uses_answers and answers is None:
            raise RouterDataError("this verifier reads the cheap model's answers: pass them")
        inputs = self._inputs(prompts, answers)
        return self._assess(inputs, cheap_price, premium_price)

    def _assess(self, inputs: _Inputs, cheap_price: Price | None, premium_price: Price | None) -> Assessment:
        proba = self.outcome.proba(inputs.outcome_x)
        premium_out = self.premium_length.predict(inputs.length_x)
        cheap_out = self.cheap_length.predict(inputs.length_x) if inputs.cheap_tokens is None else inputs.cheap_tokens
        return _score(self.meta, proba, inputs.tokens, premium_out, cheap_out, cheap_price, premium_price)

    def predict(self, prompts: Sequence[str], answers: Sequence[str] | None = None) -> FloatArray:
        """P(the cheap model's answer is as good as the premium one's), per prompt."""
        return self.assess(prompts, answers).p_as_good

    def threshold(self, target_quality: float) -> float:
        """Score threshold for a target quality (fraction of premium quality to keep)."""
        return lookup(self.thresholds, target_quality)

    def choose_premium(self, assessment: Assessment, target_quality: float) -> BoolArray:
        result: BoolArray = assessment.score > self.threshold(target_quality)
        return result

    def explain(
        self,
        prompt: str,
        target_quality: float,
        answer: str | None = None,
        *,
        cheap_price: Price | None = None,
        premium_price: Price | None = None,
    ) -> Decision:
        """One prompt's prediction and choice; prices default to the ones the router was trained with."""
        a = self.assess(
            [prompt], None if answer is None else [answer], cheap_price=cheap_price, premium_price=premium_price
        )
        threshold = self.threshold(target_quality)
        return Decision(
            float(a.p_as_good[0]),
            float(a.expected_loss[0]),
            float(a.savings_usd[0]),
            float(a.relative_savings[0]),
            float(a.score[0]),
            threshold,
            target_quality,
            bool(a.score[0] > threshold),
        )

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, root: Path) -> Path:
        """Write a new artifact version under ``root`` (and make it current); returns its directory."""
        arrays = {
            **self.outcome.arrays("outcome_"),
            **self.premium_length.arrays("premium_len_"),
            **self.cheap_length.arrays("cheap_len_"),
        }
        return artifact.write_artifact(root, self.meta, arrays)

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None) -> RouterModel:
        """Load the current version under ``path`` (or the version directory ``path``)."""
        meta, arrays = artifact.read_artifact(path)
        model = cls(
            meta,
            OutcomeClassifier.from_arrays(arrays, "outcome_"),
            LengthModel.from_arrays(arrays, "premium_len_"),
            LengthModel.from_arrays(arrays, "cheap_len_"),
            encoder,
        )
        expected = meta["embedding_model"]
        if expected is not None and model._encoder().model_id != expected:
            raise RouterDataError(
                f"{path}: trained with embedding model {expected}, but {model._encoder().model_id} is loaded"
            )
        return model

    # ---- training -------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        table: OutcomeTable,
        *,
        mode: Mode = "route",
        cheap_model: str = DEFAULT_CHEAP,
        premium_model: str = DEFAULT_PREMIUM,
        cheap_price: Price = BENCH_CHEAP_PRICE,
        premium_price: Price = BENCH_PREMIUM_PRICE,
        encoder: Encoder | None = None,
        options: FitOptions | None = None,
        target_quality: float = 0.95,
    ) -> RouterModel:
        """Train on a table of per-prompt outcomes. In verify mode, cheap answers are used when the
        table has them for every row. The held-out estimate (``meta["held_out"]``, unless
        ``options.nested_folds`` is 0) is made at ``target_quality``."""
        opts = options or FitOptions()
        k = opts.folds or (10 if len(table) < 2000 else 5)
        if len(table) < 2 * k or len(table) < 4 * opts.nested_folds:
            raise RouterDataError(f"{len(table)} rows are too few to train and calibrate a router")
        with one_thread():
            return cls._fit(
                table, mode, cheap_model, premium_model, cheap_price, premium_price, encoder, opts, k, target_quality
            )

    @classmethod
    def _fit(
        cls,
        table: OutcomeTable,
        mode: Mode,
        cheap_model: str,
        premium_model: str,
        cheap_price: Price,
        premium_price: Price,
        encoder: Encoder | None,
        opts: FitOptions,
        k: int,
        target_quality: float,
    ) -> RouterModel:
        enc = encoder or LocalEncoder()
        tok = Tokenizer()
        uses_answers = mode == "verify" and table.has_cheap_responses
        answers = [r or "" for r in table.cheap_responses] if uses_answers else None
        inputs = _featurize(table.prompts, answers, enc, tok)
        premium_tokens = tok.count_outputs(table.premium_responses)
        cheap_tokens = tok.count_outputs(table.cheap_responses)
        y = joint_outcome(table.cheap_ok, table.premium_ok)
        folds = kfold_splits(len(table), k, opts.seed)

        # Held-back predictions for every setting; keep the simplest within 1 SE of the best log-loss.
        losses: dict[tuple[float, float], float] = {}
        held: dict[tuple[float, float], FloatArray] = {}
        per_prompt: dict[tuple[float, float], FloatArray] = {}
        for setting in [(c, g) for g in opts.embedding_gains for c in opts.c_grid]:
            proba = np.zeros((len(table), 4))
            for train, test in folds:
                clf = OutcomeClassifier.fit(inputs.outcome_x[train], y[train], *setting, inputs.dense, opts.seed)
                proba[test] = clf.proba(inputs.outcome_x[test])
            held[setting] = proba
            per_prompt[setting] = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None))
            losses[setting] = float(per_prompt[setting].mean())
        best = simplest_within_one_se(per_prompt)

        lengths = _Lengths(inputs, premium_tokens, cheap_tokens, uses_answers)
        premium_out, cheap_out = lengths.held_back(folds)
        premium_len, cheap_len = lengths.fit(np.arange(len(table)))
        meta: dict[str, Any] = {
            "mode": mode,
            "uses_answers": uses_answers,
            "cost_aware": opts.cost_aware,
            "cheap_model": cheap_model,
            "premium_model": premium_model,
            "prices": {
                "cheap": {"input": cheap_price.input, "output": cheap_price.output},
                "premium": {"input": premium_price.input, "output": premium_price.output},
            },
            "embedding_model": enc.model_id,
            "features": {"prompt": list(PROMPT_STATS), "answer": list(ANSWER_FEATURES) if uses_answers else []},
            "training": {
                "rows": len(table),
                "data_sha256": table.digest(),
                "cheap_quality": float(table.cheap_ok.mean()),
                "premium_quality": float(table.premium_ok.mean()),
                "c": best[0],
                "embedding_gain": best[1],
                "held_back_log_loss": {f"c={c} gain={g}": round(v, 5) for (c, g), v in losses.items()},
                "folds": k,
                "margin_z": opts.margin_z,
                "confidence_z": opts.confidence_z,
                "holdout": opts.holdout,
                "seed": opts.seed,
                "means": lengths.means(np.arange(len(table)), premium_len, cheap_len),
            },
            "thresholds": {},
            "held_out": None,
        }
        # Calibrate on the held-back predictions, with held-back output lengths.
        scores = _score(meta, held[best], inputs.tokens, premium_out, cheap_out, None, None).score
        meta["thresholds"] = artifact.encode_thresholds(
            calibrate(scores, table.cheap_ok, table.premium_ok, opts.targets, _promise(opts))
        )
        if opts.nested_folds:
            meta["held_out"] = _held_out(meta, inputs, y, table, lengths, best, opts, target_quality).as_dict()
        outcome = OutcomeClassifier.fit(inputs.outcome_x, y, *best, inputs.dense, opts.seed)
        return cls(meta, outcome, premium_len, cheap_len, enc, tok)


@dataclass
class _Lengths:
    """Output-length models of both candidates over some rows of the training data."""

    inputs: _Inputs
    premium_tokens: FloatArray
    cheap_tokens: FloatArray
    uses_answers: bool

    def fit(self, rows: NDArray[np.int64]) -> tuple[LengthModel, LengthModel]:
        x = self.inputs.length_x[rows]
        return _length_model(x, self.premium_tokens[rows]), _length_model(x, self.cheap_tokens[rows])

    def held_back(self, folds: list[tuple[NDArray[np.int64], NDArray[np.int64]]]) -> tuple[FloatArray, FloatArray]:
        n = max((int(t.max()) + 1 for _, t in folds), default=0)
        premium_out, cheap_out = np.zeros(n), np.zeros(n)
        for train, test in folds:
            premium_len, cheap_len = self.fit(train)
            premium_out[test] = premium_len.predict(self.inputs.length_x[test])
            cheap_out[test] = cheap_len.predict(self.inputs.length_x[test])
        return premium_out, cheap_out

    def means(self, rows: NDArray[np.int64], premium_len: LengthModel, cheap_len: LengthModel) -> dict[str, float]:
        x = self.inputs.length_x[rows]
        return {
            "input_tokens": float(self.inputs.tokens[rows].mean()),
            "premium_output_tokens": float(premium_len.predict(x).mean()),
            "cheap_output_tokens": float(
                self.cheap_tokens[rows].mean() if self.uses_answers else cheap_len.predict(x).mean()
            ),
        }


def _promise(opts: FitOptions) -> Promise:
    return Promise(opts.confidence_z, opts.holdout, opts.margin_z, seed=opts.seed)


def _held_out(
    meta: dict[str, Any],
    inputs: _Inputs,
    y: NDArray[np.int64],
    table: OutcomeTable,
    lengths: _Lengths,
    setting: tuple[float, float],
    opts: FitOptions,
    target: float,
) -> HeldOut:
    """Nested cross-validation: in each outer fold, held-back predictions of inner folds calibrate the
    threshold, a model fitted on the outer fold's training rows scores its test rows."""
    n = len(table)
    x = inputs.outcome_x
    premium = np.zeros(n, dtype=bool)
    for train, test in kfold_splits(n, opts.nested_folds, opts.seed + 1):
        inner = [(train[a], train[b]) for a, b in kfold_splits(len(train), opts.nested_folds, opts.seed + 2)]
        proba = np.zeros((n, 4))
        for a, b in inner:
            proba[b] = OutcomeClassifier.fit(x[a], y[a], *setting, inputs.dense, opts.seed).proba(x[b])
        premium_out, cheap_out = lengths.held_back(inner)
        premium_len, cheap_len = lengths.fit(train)
        fold_meta = {**meta, "training": {**meta["training"], "means": lengths.means(train, premium_len, cheap_len)}}
        scores = _score(fold_meta, proba[train], inputs.tokens[train], premium_out[train], cheap_out[train], None, None)
        ok_c, ok_p = table.cheap_ok[train], table.premium_ok[train]
        threshold = calibrate(scores.score, ok_c, ok_p, (target,), _promise(opts))[target]
        clf = OutcomeClassifier.fit(x[train], y[train], *setting, inputs.dense, opts.seed)
        lx = inputs.length_x[test]
        test_scores = _score(
            fold_meta,
            clf.proba(x[test]),
            inputs.tokens[test],
            premium_len.predict(lx),
            cheap_len.predict(lx),
            None,
            None,
        )
        premium[test] = test_scores.score > threshold
    cheap_cost = call_cost(inputs.tokens, lengths.cheap_tokens, TokenPrice(**meta["prices"]["cheap"]))
    premium_cost = call_cost(inputs.tokens, lengths.premium_tokens, TokenPrice(**meta["prices"]["premium"]))
    if meta["mode"] == "verify":  # the cheap call is paid on every prompt, the premium one when escalated
        spent = cheap_cost + np.where(premium, premium_cost, 0.0)
    else:
        spent = np.where(premium, premium_cost, cheap_cost)
    return held_out(
        np.where(premium, table.premium_ok, table.cheap_ok).astype(np.float64),
        table.premium_ok.astype(np.float64),
        spent,
        premium_cost,
        target=target,
        folds=opts.nested_folds,
        choices={meta["cheap_model"]: float(1 - premium.mean()), meta["premium_model"]: float(premium.mean())},
        seed=opts.seed,
    )


def _length_model(x: FloatArray, tokens: FloatArray) -> LengthModel:
    if float(np.ptp(tokens)) == 0.0:  # no recorded answers: a constant (1 token, as the bench counts)
        return LengthModel.constant(float(tokens[0]) if len(tokens) else 1.0, x.shape[1])
    return LengthModel.fit(x, tokens)


def _savings(
    mode: Mode,
    tokens: FloatArray,
    premium_out: FloatArray,
    cheap_out: FloatArray,
    cheap: Price,
    premium: Price,
) -> FloatArray:
    """USD saved by keeping the cheap answer: the premium call, less the cheap call in route mode."""
    saved: FloatArray = (tokens * premium.input + premium_out * premium.output) / 1e6
    if mode == "route":
        saved = saved - (tokens * cheap.input + cheap_out * cheap.output) / 1e6
    return saved


def _score(
    meta: dict[str, Any],
    proba: FloatArray,
    tokens: FloatArray,
    premium_out: FloatArray,
    cheap_out: FloatArray,
    cheap_price: Price | None,
    premium_price: Price | None,
) -> Assessment:
    mode: Mode = meta["mode"]
    cheap = cheap_price or TokenPrice(**meta["prices"]["cheap"])
    premium = premium_price or TokenPrice(**meta["prices"]["premium"])
    loss = proba[:, PREMIUM_ONLY] - proba[:, CHEAP_ONLY]
    savings = _savings(mode, tokens, premium_out, cheap_out, cheap, premium)
    means = meta["training"]["means"]
    one = np.ones(1)
    scale = float(
        _savings(
            mode,
            one * means["input_tokens"],
            one * means["premium_output_tokens"],
            one * means["cheap_output_tokens"],
            cheap,
            premium,
        )[0]
    )
    relative = np.maximum(savings / max(scale, 1e-12), 1e-6)
    score = loss / relative if meta["cost_aware"] else loss
    return Assessment(1.0 - proba[:, PREMIUM_ONLY], loss, savings, relative, score)


def _featurize(prompts: Sequence[str], answers: Sequence[str] | None, encoder: Encoder, tok: Tokenizer) -> _Inputs:
    tokens = tok.count_many(prompts)
    stats = prompt_stats(prompts, tokens)
    vectors = encoder.encode(prompts) if prompts else np.zeros((0, 0))
    if answers is None:
        return _Inputs(tokens, np.hstack([stats, vectors]), stats.shape[1], np.hstack([stats, vectors]))
    if len(answers) != len(prompts):
        raise RouterDataError(f"{len(prompts)} prompts but {len(answers)} answers")
    cheap_tokens = tok.count_outputs(answers)
    feats = np.array([answer_features(p, a) for p, a in zip(prompts, answers, strict=True)], dtype=np.float64)
    dense = np.hstack([stats, feats.reshape(len(prompts), len(ANSWER_FEATURES)), np.log(cheap_tokens)[:, None]])
    return _Inputs(tokens, np.hstack([dense, vectors]), dense.shape[1], dense, cheap_tokens)


def kfold_splits(n: int, k: int, seed: int) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, k)
    return [(np.concatenate(parts[:i] + parts[i + 1 :]), parts[i]) for i in range(k)]
