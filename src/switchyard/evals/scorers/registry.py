"""The built-in scorer kinds, registered the way a team's own would be (``registry.register(kind)``)."""

from __future__ import annotations

from . import choice, embedding, judge, numeric, structured, text
from .base import ScorerRegistry


def default_registry() -> ScorerRegistry:
    """A fresh registry with the built-in scorers: exact, normalized, contains, regex, numeric, choice,
    json_schema, tool_call, embedding, judge."""
    reg = ScorerRegistry()
    for module in (text, numeric, choice, structured, embedding, judge):
        for kind in module.kinds():
            reg.register(kind)
    return reg
