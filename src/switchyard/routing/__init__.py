"""The quality/cost router: offline training on per-prompt outcomes, calibrated thresholds per target
quality, versioned artifacts, the cascade's verifiers, and the metrics the benchmark reports."""

from .cascade import LearnedVerifier, cascade_verifiers, request_prompt
from .costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE, Tokenizer, TokenPrice, call_cost
from .data import DEFAULT_CHEAP, DEFAULT_PREMIUM, OutcomeTable, RouterDataError, read_outcomes
from .features import Encoder, LocalEncoder
from .model import Assessment, Decision, FitOptions, RouterModel

__all__ = [
    "BENCH_CHEAP_PRICE",
    "BENCH_PREMIUM_PRICE",
    "DEFAULT_CHEAP",
    "DEFAULT_PREMIUM",
    "Assessment",
    "Decision",
    "Encoder",
    "FitOptions",
    "LearnedVerifier",
    "LocalEncoder",
    "OutcomeTable",
    "RouterDataError",
    "RouterModel",
    "TokenPrice",
    "Tokenizer",
    "call_cost",
    "cascade_verifiers",
    "read_outcomes",
    "request_prompt",
]
