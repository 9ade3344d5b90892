"""Prices per model (USD per 1M tokens): explicit config values win, otherwise the maintained
``genai-prices`` data bundled with the package (offline; its network updater is never started)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .config import ModelConfig
from .types import Usage

log = logging.getLogger(__name__)

_MILLION = 1_000_000
# The standard mix: a typical workload's tokens are 80% input, 20% output.
STANDARD_INPUT_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: float
    output: float
    cached_input: float
    source: str  # "config", "genai-prices" or "unknown"

    def cost(self, usage: Usage) -> float:
        """USD for one call. Cached input tokens are part of ``prompt_tokens`` and billed at their rate."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        return (fresh * self.input + cached * self.cached_input + usage.completion_tokens * self.output) / _MILLION

    def blended(self, input_share: float = STANDARD_INPUT_SHARE) -> float:
        """USD per 1M tokens at a mix of input and output tokens (the standard mix by default): how
        models are ordered by price (cascades, the router, a route's premium model) and reported."""
        return blended_price(self.input, self.output, input_share)


def blended_price(input_price: float, output_price: float, input_share: float = STANDARD_INPUT_SHARE) -> float:
    """USD per 1M tokens for a mix with ``input_share`` of the tokens being input: the one blend formula."""
    return input_share * input_price + (1 - input_share) * output_price


def _lookup_genai_prices(model_ref: str) -> ModelPrice | None:
    try:
        from genai_prices import Usage as GUsage
        from genai_prices import calc_price
    except ImportError:  # pragma: no cover - a declared dependency
        return None

    def per_million(**tokens: int) -> float:
        return float(calc_price(GUsage(**tokens), model_ref).total_price)

    try:
        inp = per_million(input_tokens=_MILLION)
        out = per_million(output_tokens=_MILLION)
        try:
            cached = per_million(input_tokens=_MILLION, cache_read_tokens=_MILLION)
        except Exception:
            cached = inp
    except Exception:
        return None
    return ModelPrice(inp, out, cached, "genai-prices")


def resolve_price(model: ModelConfig) -> ModelPrice:
    if model.price is not None:
        p = model.price
        return ModelPrice(p.input, p.output, p.input if p.cached_input is None else p.cached_input, "config")
    found = _lookup_genai_prices(model.pricing_id or model.upstream_name)
    if found is not None:
        return found
    log.warning("no price known for model %r: its cost is recorded as 0 (set `price` in the config)", model.name)
    return ModelPrice(0.0, 0.0, 0.0, "unknown")
