"""Sensitivity and residency: a request carrying sensitive data goes only to models whose locality the
route allows for that class of data, or nowhere (403) — never silently out of the perimeter."""

from __future__ import annotations

import asyncio

from ..config import ModelConfig
from ..errors import PermissionDenied
from .base import Classifier, RoutingContext

# Requests with more text than this are classified in a worker thread (detection costs ~1-2 ms per KB).
OFFLOAD_BYTES = 8 * 1024


class ResidencyPolicy:
    name = "residency"

    def __init__(self, classify: Classifier | None) -> None:
        self.classify = classify

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        rules = ctx.policy.residency
        if not rules:
            return candidates
        if self.classify is not None:
            texts = ctx.texts()
            if sum(len(t) for t in texts) > OFFLOAD_BYTES:  # keep the event loop free for other requests
                found = await asyncio.to_thread(self.classify, texts)
            else:
                found = self.classify(texts)
            # Classes the caller gave (context from a confidential RAG collection) stay.
            ctx.classes = ctx.classes | found
        governed = sorted(c for c in ctx.classes if c in rules)
        if not governed:
            if ctx.classes:
                ctx.note(f"residency: {','.join(sorted(ctx.classes))} unrestricted")
            return candidates
        allowed = set.intersection(*(set(rules[c]) for c in governed))
        kept = [m for m in candidates if m.locality in allowed]
        if ctx.policy.pseudonymize and len(kept) < len(candidates):
            # Outside the allowed localities only a pseudonymized copy may go: detected spans are
            # replaced by placeholders before sending and restored in the answer.
            ctx.pseudonymize_for = {m.name for m in candidates if m not in kept}
            ctx.note(f"residency: {','.join(governed)} pseudonymized for {','.join(sorted(ctx.pseudonymize_for))}")
            return candidates
        if not kept:
            where = ", ".join(f"{c} -> {'/'.join(rules[c])}" for c in governed)
            raise PermissionDenied(
                f"the request contains {', '.join(governed)} data and no candidate of "
                f"{ctx.route or ctx.requested!r} is in an allowed locality ({where})",
                code="residency_violation",
            )
        ctx.note(f"residency: {','.join(governed)} -> {'/'.join(sorted(allowed))}")
        return kept
