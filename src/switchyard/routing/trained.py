"""What every trained router artifact shares, whatever its model: the embedding model loaded on first use
(or at warm-up), and the held-out estimate the fit stored in its metadata."""

from __future__ import annotations

from typing import Any

from .estimate import HeldOut
from .features import Encoder, LocalEncoder


class Trained:
    """Mixed into the router dataclasses, which hold ``meta`` and ``encoder``."""

    meta: dict[str, Any]
    encoder: Encoder | None

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            self.encoder = LocalEncoder()
        return self.encoder

    def warm(self) -> None:
        """Load the embedding model now (blocking), rather than on the first request."""
        self._encoder().encode(["warm-up"])

    @property
    def held_out(self) -> HeldOut | None:
        """The fit's estimate on prompts it did not see (nested cross-validation), when it made one."""
        raw = self.meta.get("held_out")
        return HeldOut.from_dict(raw) if raw else None
