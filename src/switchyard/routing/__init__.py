"""The quality/cost router: offline training on per-prompt outcomes (eval runs, or outcome tables), a
quality promise calibrated to hold on unseen prompts, versioned artifacts, the cascade's verifiers, and
the metrics the benchmark reports.

Library use (N candidates)::

    router = fit_from_results(prompts, correct, costs, target_quality=0.95)  # by item id and target
    router.held_out          # quality kept and cost fraction on held-out folds, with intervals
    router.choose(["..."])   # the target each prompt goes to
"""

from .calibration import Promise
from .cascade import LearnedVerifier, cascade_verifiers, request_prompt
from .choice import Pick, Scores
from .costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE, Tokenizer, TokenPrice, call_cost
from .data import DEFAULT_CHEAP, DEFAULT_PREMIUM, OutcomeTable, RouterDataError, read_outcomes
from .estimate import HeldOut
from .features import Encoder, LocalEncoder
from .model import Assessment, Decision, FitOptions, RouterModel
from .nrouter import AnyRouter, NRouter, fit_from_results, load_router
from .outcomes import Outcomes

__all__ = [
    "BENCH_CHEAP_PRICE",
    "BENCH_PREMIUM_PRICE",
    "DEFAULT_CHEAP",
    "DEFAULT_PREMIUM",
    "AnyRouter",
    "Assessment",
    "Decision",
    "Encoder",
    "FitOptions",
    "HeldOut",
    "LearnedVerifier",
    "LocalEncoder",
    "NRouter",
    "OutcomeTable",
    "Outcomes",
    "Pick",
    "Promise",
    "RouterDataError",
    "RouterModel",
    "Scores",
    "TokenPrice",
    "Tokenizer",
    "call_cost",
    "cascade_verifiers",
    "fit_from_results",
    "load_router",
    "read_outcomes",
    "request_prompt",
]
