"""The router over N candidates: per prompt, the probability that each candidate answers correctly (one
L2-regularised logistic regression per candidate over the prompt's embedding and text statistics) and
what each call would cost (input tokens counted, output tokens predicted, per-token prices); the route
picks, among the candidates it may use, the one with the highest ``p - lambda * cost / scale``, where
``scale`` is the reference model's mean cost on the training prompts and ``lambda`` is the exchange rate
calibrated for the target quality (``training.py``).

- The *reference* is the best single candidate on the training data (highest mean correctness); quality
  kept is routed correctness over the reference's. ``lambda = 0`` picks the candidate most likely right,
  larger values trade predicted quality for money, ``inf`` is always the cheapest, and ``ALWAYS_BEST``
  (stored as ``-inf``) always the reference: the calibration's fallback when no cheaper setting keeps the
  promise. With two candidates this is the two-model router's cost-aware rule (cheap when the expected
  loss per relative saving is at most lambda).
- The artifact is format version 2 (``artifact.py``): per candidate its classifier and output-length
  model as arrays, its prices, the lambda table per target, and the held-out estimate ``router fit``
  printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import artifact
from .calibration import lookup
from .choice import ALWAYS_BEST, ALWAYS_CHEAPEST, Features, Pick, Scores, featurize, route
from .costs import Price, Tokenizer, TokenPrice, call_cost
from .data import RouterDataError
from .features import Encoder, LocalEncoder
from .linear import CorrectClassifier, LengthModel
from .model import FitOptions, RouterModel
from .outcomes import Outcomes
from .trained import Trained
from .training import fit_candidates

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class NRouter(Trained):
    meta: dict[str, Any]
    classifiers: list[CorrectClassifier]
    lengths: list[LengthModel]
    encoder: Encoder | None = None
    tokenizer: Tokenizer = field(default_factory=Tokenizer)

    # ---- what it was trained on -----------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c["name"] for c in self.meta["candidates"])

    @property
    def reference(self) -> str:
        """The best single candidate on the training data: quality kept is measured against it."""
        name: str = self.meta["reference"]
        return name

    @property
    def target_quality(self) -> float:
        """The target the router was fitted (and its held-out estimate made) for: ``choose``'s default."""
        return float(self.meta["target_quality"])

    @property
    def lambdas(self) -> dict[float, float]:
        return artifact.decode_thresholds(self.meta["lambdas"])

    def prices(self) -> dict[str, TokenPrice]:
        return {c["name"]: TokenPrice(**c["price"]) for c in self.meta["candidates"]}

    def lam(self, target_quality: float) -> float:
        """The exchange rate for a target (the nearest tabulated target at or above it)."""
        return lookup(self.lambdas, target_quality, ALWAYS_BEST)

    # ---- prediction -----------------------------------------------------------------------------
    def _prices(self, prices: Mapping[str, Price] | None) -> list[Price]:
        """The artifact's prices, replaced by the caller's (a route's) where the artifact's output tokens
        are real counts or its prices were given: fitted prices over unknown output tokens carry a
        per-call share in the output rate that a per-token price would misstate."""
        out: list[Price] = []
        for c in self.meta["candidates"]:
            given = prices.get(c["name"]) if prices else None
            usable = given is not None and (c["output_tokens_known"] or c["price_source"] == "given")
            out.append(given if usable and given is not None else TokenPrice(**c["price"]))
        return out

    def assess(self, prompts: Sequence[str], prices: Mapping[str, Price] | None = None) -> Scores:
        """P(correct) and predicted cost per prompt and candidate."""
        feats = featurize(prompts, self._encoder(), self.tokenizer, self.meta["features"]["embed_tail_chars"])
        return self._assess(feats, prices)

    def _assess(self, feats: Features, prices: Mapping[str, Price] | None) -> Scores:
        n = len(feats.tokens)
        chosen = self._prices(prices)
        p = np.zeros((n, len(self.names)))
        cost = np.zeros((n, len(self.names)))
        for j, (clf, length) in enumerate(zip(self.classifiers, self.lengths, strict=True)):
            if n:
                p[:, j] = clf.proba(feats.x)
                cost[:, j] = call_cost(feats.tokens, length.predict(feats.x), chosen[j])
        means = self.meta["training"]["means"]
        ref = self.names.index(self.reference)
        scale = float(
            call_cost(
                np.array([means["input_tokens"]]), np.array([means["output_tokens"][self.reference]]), chosen[ref]
            )[0]
        )
        return Scores(self.names, p, cost, scale)

    def _allowed(self, among: Sequence[str] | None) -> list[int] | None:
        if among is None:
            return None
        allowed = [self.names.index(m) for m in among if m in self.names]
        if not allowed:
            raise RouterDataError(f"none of {', '.join(among)} is a candidate of this router ({', '.join(self.names)})")
        return allowed

    def choose(
        self,
        prompts: Sequence[str],
        target_quality: float | None = None,
        *,
        prices: Mapping[str, Price] | None = None,
        among: Sequence[str] | None = None,
    ) -> list[str]:
        """The candidate each prompt goes to, at ``target_quality`` (default: the one fitted for)."""
        if not prompts:
            return []
        scores = self.assess(prompts, prices)
        return self.choose_scored(scores, target_quality, among=among)

    def choose_scored(
        self, scores: Scores, target_quality: float | None = None, *, among: Sequence[str] | None = None
    ) -> list[str]:
        """``choose`` over predictions already made (to try several targets on one batch)."""
        lam = self.lam(self.target_quality if target_quality is None else target_quality)
        idx = route(scores.p, scores.relative_cost, lam, self.names.index(self.reference), self._allowed(among))
        return [self.names[int(i)] for i in idx]

    def explain(
        self,
        prompt: str,
        target_quality: float | None = None,
        *,
        prices: Mapping[str, Price] | None = None,
        among: Sequence[str] | None = None,
    ) -> Pick:
        """One prompt's predictions, its choice and the other candidates in the order to fall back on."""
        target = self.target_quality if target_quality is None else target_quality
        s = self.assess([prompt], prices)
        lam = self.lam(target)
        allowed = self._allowed(among) or list(range(len(self.names)))
        choice = self.names[int(route(s.p, s.relative_cost, lam, self.names.index(self.reference), allowed)[0])]
        rel = s.relative_cost[0]
        if lam == ALWAYS_BEST:
            utility = {self.names[j]: float(s.p[0, j]) for j in allowed}
        elif lam == ALWAYS_CHEAPEST:
            utility = {self.names[j]: float(-rel[j]) for j in allowed}
        else:
            utility = {self.names[j]: float(s.p[0, j] - lam * rel[j]) for j in allowed}
        rest = sorted((n for n in utility if n != choice), key=lambda n: -utility[n])
        return Pick(
            choice=choice,
            order=[choice, *rest],
            p={self.names[j]: float(s.p[0, j]) for j in allowed},
            cost={self.names[j]: float(s.cost[0, j]) for j in allowed},
            utility=utility,
            lam=lam,
            target_quality=target,
        )

    # ---- training -------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        outcomes: Outcomes,
        *,
        target_quality: float = 0.95,
        encoder: Encoder | None = None,
        options: FitOptions | None = None,
    ) -> NRouter:
        """Train, calibrate and estimate on held-out folds (``training.py``)."""
        enc = encoder or LocalEncoder()
        tok = Tokenizer()
        fitted = fit_candidates(outcomes, target_quality=target_quality, encoder=enc, tokenizer=tok, options=options)
        return cls(fitted.meta, fitted.classifiers, fitted.lengths, enc, tok)

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, root: Path) -> Path:
        """Write a new artifact version under ``root`` (and make it current); returns its directory."""
        arrays: dict[str, FloatArray] = {}
        for j, (clf, length) in enumerate(zip(self.classifiers, self.lengths, strict=True)):
            arrays.update(clf.arrays(f"c{j}_p_"))
            arrays.update(length.arrays(f"c{j}_len_"))
        return artifact.write_artifact(root, self.meta, arrays, artifact.NROUTER_FORMAT_VERSION)

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None) -> NRouter:
        """Load the current version under ``path`` (or the version directory ``path``)."""
        meta, arrays = artifact.read_artifact(path, artifact.NROUTER_FORMAT_VERSION)
        k = len(meta["candidates"])
        model = cls(
            meta,
            [CorrectClassifier.from_arrays(arrays, f"c{j}_p_") for j in range(k)],
            [LengthModel.from_arrays(arrays, f"c{j}_len_") for j in range(k)],
            encoder,
        )
        expected = meta["embedding_model"]
        if expected is not None and model._encoder().model_id != expected:
            raise RouterDataError(
                f"{path}: trained with embedding model {expected}, but {model._encoder().model_id} is loaded"
            )
        return model


def fit_from_results(
    prompts: Mapping[str, str],
    correct: Mapping[str, Mapping[str, float]],
    costs: Mapping[str, Mapping[str, float] | float],
    target_quality: float = 0.95,
    *,
    output_tokens: Mapping[str, Mapping[str, float]] | None = None,
    prices: Mapping[str, Price] | None = None,
    encoder: Encoder | None = None,
    options: FitOptions | None = None,
) -> NRouter:
    """Fit a router over the targets of ``correct`` (keys: target, then item id; values: score in [0, 1]).

    ``costs[target]`` is per item (USD per call) or one mean cost; ``output_tokens`` (per target and item)
    and ``prices`` (USD per 1M input / output tokens) are optional: without prices they are fitted to the
    costs. Items missing a score (or a per-item cost) for any target are left out (``meta["training"]
    ["dropped"]``). The router's held-out estimate is ``router.held_out``; ``router.choose(prompts)``
    routes new prompts at ``target_quality``."""
    outcomes = Outcomes.from_results(prompts, correct, costs, output_tokens=output_tokens, prices=prices)
    return NRouter.fit(outcomes, target_quality=target_quality, encoder=encoder, options=options)


AnyRouter = NRouter | RouterModel  # what a route's ``router:`` artifact loads as


def load_router(path: Path, encoder: Encoder | None = None) -> AnyRouter:
    """The router at ``path``, whichever format: ``NRouter`` (format 2) or the two-model ``RouterModel``."""
    if artifact.format_version(path) == artifact.NROUTER_FORMAT_VERSION:
        return NRouter.load(path, encoder)
    return RouterModel.load(path, encoder)
