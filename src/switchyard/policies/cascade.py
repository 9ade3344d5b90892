"""Cascade ordering (FrugalGPT-style): on a cascade route the candidates are tried cheapest first; the
dispatcher escalates to the next one when a verifier refuses an answer (see ``switchyard.verifiers``), or,
with ``verifier: agreement``, when the cheapest candidates asked at once disagree (``calls/agreement.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import ModelConfig
from ..pricing import ModelPrice
from .base import RoutingContext


class CascadePolicy:
    name = "cascade"

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = prices

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        if ctx.policy.strategy != "cascade" or len(candidates) < 2:
            return candidates
        ordered = sorted(candidates, key=lambda m: self.prices[m.name].blended())
        ctx.note(f"cascade: {' -> '.join(m.name for m in ordered)}")
        return ordered
