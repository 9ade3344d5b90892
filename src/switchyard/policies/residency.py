"""Sensitivity and residency: a request carrying sensitive data goes only to models whose locality the
route allows for that class of data, or nowhere (403) — never silently out of the perimeter.

A request with more text than the detector scans (``max_scan_chars``, by default
``sensitivity.detector.MAX_SCAN_CHARS``) is not scanned: it is taken to carry every class, so it goes
only where every governed class may go, or nowhere (403). It is never pseudonymized for a model
outside: what was not read cannot be masked. The same holds for parts the detector cannot read at all
(images, audio, files), per the route's ``unscannable`` setting (restrict, by default; or refuse, or
allow), and for classes the caller gave for context it added (a confidential RAG collection): that
context leaves masked only where the route says ``pseudonymize_context``."""

from __future__ import annotations

import asyncio

from ..config import ModelConfig
from ..errors import PermissionDenied
from ..sensitivity.base import CLASSES
from ..sensitivity.detector import MAX_SCAN_CHARS, unscannable_parts
from ..sensitivity.process import DetectorBusy
from .base import AsyncClassifier, Classifier, RoutingContext

# Requests with more text than this are classified in a worker thread (detection costs ~1-2 ms per KB)...
OFFLOAD_BYTES = 8 * 1024
# ... in the detector's worker process when there is one (a thread still holds the GIL; bench/adversarial.py
# --path: the light stream's p99 while a 1 MB crafted text is classified fell from 147-773 ms to 5-11 ms).
PROCESS_BYTES = OFFLOAD_BYTES


class ResidencyPolicy:
    name = "residency"

    def __init__(
        self,
        classify: Classifier | None,
        *,
        max_scan_chars: int | None = MAX_SCAN_CHARS,
        classify_large: AsyncClassifier | None = None,
    ) -> None:
        self.classify = classify
        self.max_scan_chars = max_scan_chars
        self.classify_large = classify_large

    async def apply(self, ctx: RoutingContext, candidates: list[ModelConfig]) -> list[ModelConfig]:
        rules = ctx.policy.residency
        if not rules:
            return candidates
        given = set(ctx.classes)  # context the caller added (RAG): not "detected spans" to mask
        oversize = False
        unread = unscannable_parts(ctx.request) if ctx.request is not None else 0
        if unread and ctx.policy.unscannable == "refuse":
            raise PermissionDenied(
                f"the request has {unread} part(s) that cannot be scanned (images, audio, files) and "
                f"{ctx.route or ctx.requested!r} refuses what it cannot scan",
                code="unscannable_content",
            )
        restricted = bool(unread) and ctx.policy.unscannable == "restrict"
        if restricted:
            oversize = True  # like text beyond the scan: every class, never pseudonymized
            ctx.classes = ctx.classes | set(CLASSES)
            ctx.note(f"residency: {unread} unscanned part(s), not read: taken as every class")
        if self.classify is not None and not restricted:
            texts = ctx.texts()
            size = sum(len(t) for t in texts)
            if self.max_scan_chars is not None and size > self.max_scan_chars:
                oversize = True
                found: set[str] = set(CLASSES)
                ctx.note(f"residency: {size} characters, over the {self.max_scan_chars} scanned: taken as every class")
            elif size > PROCESS_BYTES and self.classify_large is not None:  # off the GIL altogether
                try:
                    found = await self.classify_large(texts)
                except DetectorBusy:  # bounded queue: not waited for, not passed as clean either
                    oversize = True
                    found = set(CLASSES)
                    ctx.note("residency: detector busy, not read: taken as every class")
            elif size > OFFLOAD_BYTES:  # keep the event loop free for other requests
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
        context_bound = bool(given & set(governed)) and not ctx.policy.pseudonymize_context
        if ctx.policy.pseudonymize and len(kept) < len(candidates) and not oversize and not context_bound:
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
