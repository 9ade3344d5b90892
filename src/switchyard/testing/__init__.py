"""Test helpers for switchyard and for people testing their own switchyard configs.

:class:`MockUpstream` is a real HTTP server on loopback that speaks the OpenAI and Anthropic wire
formats, answers deterministically and fails on demand (:class:`Fault`).

The names are imported on first use, so that ``python -m switchyard.testing.mock_upstream`` does not
find its own module already imported by this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.testing.mock_upstream import Fault, FaultKind, MockUpstream, RecordedRequest

__all__ = ["Fault", "FaultKind", "MockUpstream", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from switchyard.testing import mock_upstream

        return getattr(mock_upstream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
