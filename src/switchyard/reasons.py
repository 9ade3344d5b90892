"""Routing reasons as a bounded set of codes.

The policies leave free-text reasons ("residency: pii -> on_prem", "budget: downgraded past gpt-4o");
metrics and the dashboard count decisions by a code taken from a fixed table, so no model name or class
list ever becomes a label value. A reason no rule knows becomes ``other``.
"""

from __future__ import annotations

from collections.abc import Sequence

# (prefix, substring that must also appear or "", code) — first match wins.
_RULES: tuple[tuple[str, str, str], ...] = (
    ("access:", "", "access_narrowed"),
    ("budget:", "downgraded", "budget_downgrade"),
    ("cascade:", "", "cascade"),
    ("guard:", "repair", "guard_repair"),
    ("guard:", "second opinion", "guard_second_opinion"),
    ("guard:", "no valid answer", "guard_failed"),
    ("guard:", "->", "guard_escalate"),
    ("router:", "-> cheap", "router_cheap"),
    ("router:", "-> premium", "router_premium"),
    ("router:", "not allowed", "router_premium_not_allowed"),
    ("rag:", "cached", "rag_cache_hit"),
    ("residency:", "over the", "residency_oversize"),  # text beyond what the detector scans
    ("residency:", "unscanned", "residency_unscanned"),  # images, audio, files: not read
    ("residency:", "detector busy", "residency_unscanned"),  # the detector's queue was full
    ("residency:", "pseudonymized", "residency_pseudonymized"),
    ("residency:", "unrestricted", "residency_unrestricted"),
    ("residency:", "->", "residency_restricted"),
)

REASON_CODES: tuple[str, ...] = (
    *dict.fromkeys(code for _, _, code in _RULES),
    "fallback",  # a later candidate served after an earlier one failed
    "fallback_order",  # a route's first candidate served, no policy narrowed it
    "direct",  # a model called by name
    "other",
)


def reason_code(reason: str) -> str:
    for prefix, needle, code in _RULES:
        if reason.startswith(prefix) and needle in reason:
            return code
    return "other"


def reason_codes(reasons: Sequence[str], *, route: str | None, fallback_chain: Sequence[str]) -> list[str]:
    """The codes one request's decision counts under (at least one, no duplicates)."""
    if not reasons:  # the common case, kept cheap
        return ["fallback"] if len(fallback_chain) > 1 else ["fallback_order" if route else "direct"]
    codes = list(dict.fromkeys(reason_code(r) for r in reasons))
    if len(fallback_chain) > 1:
        codes.append("fallback")
    if not codes:
        codes.append("fallback_order" if route else "direct")
    return codes
