"""Pseudonymization for one request: targets outside the perimeter get a masked copy (built once), and
their answers are restored before the caller sees them."""

from __future__ import annotations

from collections.abc import Callable

from ..config import ModelConfig
from ..resolve import Resolution
from ..sensitivity import PseudonymSession
from ..types import ChatRequest


class Masking:
    def __init__(self, session: PseudonymSession, request: ChatRequest, models: set[str]) -> None:
        self.session = session
        self.models = models
        self._masked: ChatRequest | None = None
        self._request = request

    @classmethod
    def for_resolution(
        cls, sessions: Callable[[], PseudonymSession] | None, res: Resolution, request: ChatRequest
    ) -> Masking | None:
        if not res.pseudonymize_for or sessions is None:
            return None
        return cls(sessions(), request, res.pseudonymize_for)

    def applies_to(self, model: str) -> bool:
        return model in self.models

    def rewrite(self, model: ModelConfig, request: ChatRequest) -> ChatRequest:
        if model.name not in self.models:
            return request
        if self._masked is None:
            self._masked = self.session.mask_request(self._request)
        return self._masked
