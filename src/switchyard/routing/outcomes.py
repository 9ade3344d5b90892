"""What the N-model router is trained on: per prompt and candidate, how correct the candidate's answer
was (a score in [0, 1]; 0/1 for most scorers) and what the call cost, optionally its output tokens and
the candidates' per-token prices. Built from an eval run's results (``runs.py``), from plain mappings
(:meth:`Outcomes.from_results`) or from a two-model outcome CSV (:meth:`Outcomes.from_table`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .costs import Price, Tokenizer, TokenPrice, call_cost
from .data import OutcomeTable, RouterDataError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Outcomes:
    prompts: list[str]
    names: tuple[str, ...]  # the candidates, in column order
    correct: FloatArray  # (n, N) in [0, 1]
    costs: FloatArray  # (n, N) USD per call
    output_tokens: FloatArray | None = None  # (n, N) when known
    prices: Mapping[str, Price] | None = None  # USD per 1M tokens, when known (else fitted from the costs)
    ids: list[str] | None = None
    dropped: int = 0  # items left out because a candidate has no score (or cost) for them

    def __post_init__(self) -> None:
        n, k = len(self.prompts), len(self.names)
        if k < 2:
            raise RouterDataError("a router needs at least two candidates")
        if len(set(self.names)) != k:
            raise RouterDataError("a candidate is named twice")
        for label, a in (("correct", self.correct), ("costs", self.costs), ("output_tokens", self.output_tokens)):
            if a is not None and a.shape != (n, k):
                raise RouterDataError(f"{label} has shape {a.shape}, expected ({n}, {k})")
        if n and not (np.isfinite(self.correct).all() and (self.correct >= 0).all() and (self.correct <= 1).all()):
            raise RouterDataError("correctness scores must be numbers in [0, 1]")
        if n and not (np.isfinite(self.costs).all() and (self.costs >= 0).all()):
            raise RouterDataError("costs must be finite numbers >= 0")
        if self.prices is not None and set(self.prices) != set(self.names):
            raise RouterDataError("prices must name exactly the candidates")
        if self.ids is not None and len(self.ids) != n:
            raise RouterDataError(f"{len(self.ids)} ids for {n} prompts")

    def __len__(self) -> int:
        return len(self.prompts)

    def digest(self) -> str:
        """sha256 over candidates, prompts, scores and costs: identifies an artifact's training data."""
        h = hashlib.sha256(repr(self.names).encode())
        for i, p in enumerate(self.prompts):
            h.update(p.encode())
            h.update(self.correct[i].tobytes())
            h.update(self.costs[i].tobytes())
        return h.hexdigest()

    def subset(self, index: Sequence[int] | NDArray[np.int64]) -> Outcomes:
        idx = np.asarray(index, dtype=np.int64)
        return Outcomes(
            [self.prompts[i] for i in idx],
            self.names,
            self.correct[idx],
            self.costs[idx],
            None if self.output_tokens is None else self.output_tokens[idx],
            self.prices,
            None if self.ids is None else [self.ids[i] for i in idx],
        )

    @classmethod
    def from_results(
        cls,
        prompts: Mapping[str, str],
        correct: Mapping[str, Mapping[str, float]],
        costs: Mapping[str, Mapping[str, float] | float],
        *,
        output_tokens: Mapping[str, Mapping[str, float]] | None = None,
        prices: Mapping[str, Price] | None = None,
    ) -> Outcomes:
        """From mappings keyed by target (candidate) and item id. The candidates are ``correct``'s keys in
        order; an item is kept when every candidate has a score for it (and a cost, when costs are given
        per item); ``costs[target]`` may be one number, the mean cost of a call."""
        names = tuple(correct)
        missing = [t for t in names if t not in costs]
        if missing:
            raise RouterDataError(f"no costs for {', '.join(missing)}")

        def known(item: str) -> bool:
            for t in names:
                if item not in correct[t]:
                    return False
                per_item = costs[t]
                if isinstance(per_item, Mapping) and item not in per_item:
                    return False
                if output_tokens is not None and item not in output_tokens.get(t, {}):
                    return False
            return True

        ids = [i for i in prompts if known(i)]
        y = np.array([[float(correct[t][i]) for t in names] for i in ids], dtype=np.float64).reshape(len(ids), -1)

        def cost_of(t: str, i: str) -> float:
            c = costs[t]
            return float(c[i]) if isinstance(c, Mapping) else float(c)

        c = np.array([[cost_of(t, i) for t in names] for i in ids], dtype=np.float64).reshape(len(ids), -1)
        out = None
        if output_tokens is not None:
            out = np.array([[float(output_tokens[t][i]) for t in names] for i in ids], dtype=np.float64)
            out = out.reshape(len(ids), -1)
        return cls(
            [prompts[i] for i in ids],
            names,
            y,
            c,
            out,
            None if prices is None else {t: prices[t] for t in names},
            ids,
            dropped=len(prompts) - len(ids),
        )

    @classmethod
    def from_table(
        cls,
        table: OutcomeTable,
        cheap: str,
        premium: str,
        cheap_price: Price,
        premium_price: Price,
        tokenizer: Tokenizer | None = None,
    ) -> Outcomes:
        """A two-model outcome table (CSV) as candidates ``(cheap, premium)``: costs from cl100k_base
        input tokens and the recorded responses' tokens (1 where none was recorded), as the benchmark counts."""
        tok = tokenizer or Tokenizer()
        tokens = tok.count_many(table.prompts)
        out = np.column_stack([tok.count_outputs(table.cheap_responses), tok.count_outputs(table.premium_responses)])
        costs = np.column_stack(
            [call_cost(tokens, out[:, 0], cheap_price), call_cost(tokens, out[:, 1], premium_price)]
        )
        recorded = any(r is not None for r in table.cheap_responses) or any(
            r is not None for r in table.premium_responses
        )
        return cls(
            list(table.prompts),
            (cheap, premium),
            np.column_stack([table.cheap_ok, table.premium_ok]).astype(np.float64),
            costs,
            out if recorded else None,
            {
                cheap: TokenPrice(cheap_price.input, cheap_price.output),
                premium: TokenPrice(premium_price.input, premium_price.output),
            },
        )
