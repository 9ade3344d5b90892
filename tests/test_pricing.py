from __future__ import annotations

import pytest

from switchyard.config import ModelConfig, Price
from switchyard.pricing import resolve_price
from switchyard.types import Usage


def model(**kw: object) -> ModelConfig:
    return ModelConfig.model_validate({"name": "m", "provider": "openai", "locality": "us", **kw})


def test_known_model_priced_from_genai_prices() -> None:
    price = resolve_price(model(upstream_model="gpt-4o"))
    assert price.source == "genai-prices"
    assert price.input > 0 and price.output > price.input and price.cached_input <= price.input
    cost = price.cost(Usage(prompt_tokens=1_000_000, completion_tokens=0))
    assert cost == pytest.approx(price.input)


def test_explicit_price_wins_and_cached_tokens_are_billed_at_their_rate() -> None:
    price = resolve_price(model(upstream_model="gpt-4o", price=Price(input=10, output=30, cached_input=1)))
    assert price.source == "config"
    usage = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=400)
    assert price.cost(usage) == pytest.approx((600 * 10 + 400 * 1 + 100 * 30) / 1e6)


def test_unknown_model_costs_zero_and_says_so() -> None:
    price = resolve_price(model(upstream_model="no-such-model-xyz"))
    assert price.source == "unknown" and price.cost(Usage(10, 10)) == 0
