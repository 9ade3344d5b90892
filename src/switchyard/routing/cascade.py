"""Verifiers for cascade routes (FrugalGPT-style: call the cheap candidate, keep its answer when the
verifiers pass, else escalate). The rule-based ones live in ``switchyard.verifiers`` (JSON / schema
validity of structured output, tool-call arguments against the tool's schema); this module adds the
learned one and the way to stack them.

A verifier is ``(request, response) -> reason to reject | None``. ``LearnedVerifier`` wraps a router
model trained in ``verify`` mode: it reads the cheap answer (and the prompt), predicts the quality that
keeping it would lose, and rejects when that loss per unit of money saved by not escalating is above the
threshold calibrated for the route's target quality. It is blocking (it embeds the prompt): call it from
a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..types import ChatRequest, ChatResponse
from ..verifiers import DEFAULT_VERIFIERS, Verifier, structured_output, tool_arguments, verify
from .data import RouterDataError
from .model import RouterModel

__all__ = [
    "DEFAULT_VERIFIERS",
    "LearnedVerifier",
    "Verifier",
    "cascade_verifiers",
    "request_prompt",
    "structured_output",
    "tool_arguments",
    "verify",
]


def request_prompt(request: ChatRequest) -> str:
    """The text the router reads from a chat request: the last user message (all text if none)."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text()
    return request.prompt_text()


@dataclass
class LearnedVerifier:
    """Rejects a cheap answer the model predicts is worse than escalating is worth, at ``target_quality``."""

    model: RouterModel
    target_quality: float = 0.95
    prompt_of: Callable[[ChatRequest], str] = request_prompt

    def __post_init__(self) -> None:
        if self.model.mode != "verify":
            raise RouterDataError("a learned verifier needs a model trained with --mode verify")

    def __call__(self, request: ChatRequest, response: ChatResponse) -> str | None:
        if response.tool_calls or not response.content:
            return None  # tool calls and empty answers are for the rule-based verifiers
        d = self.model.explain(self.prompt_of(request), self.target_quality, answer=response.content)
        if not d.premium:
            return None
        return (
            f"learned verifier: P(as good as premium) {d.p_as_good:.2f}, expected loss {d.expected_loss:.3f} "
            f"per relative saving {d.relative_savings:.2f} is above {d.threshold:.3f} "
            f"(target quality {d.target_quality:.2f})"
        )

    def accept(self, prompts: Sequence[str], answers: Sequence[str]) -> NDArray[np.bool_]:
        """Batch form: True where the cheap answer is kept."""
        assessment = self.model.assess(prompts, answers if self.model.uses_answers else None)
        result: NDArray[np.bool_] = ~self.model.choose_premium(assessment, self.target_quality)
        return result


def cascade_verifiers(model: RouterModel | None = None, target_quality: float = 0.95) -> tuple[Verifier, ...]:
    """The rule-based verifiers, then the learned one when a verify-mode model is given."""
    if model is None:
        return DEFAULT_VERIFIERS
    return (*DEFAULT_VERIFIERS, LearnedVerifier(model, target_quality))
