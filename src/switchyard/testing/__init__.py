"""Test helpers for switchyard and for people testing their own switchyard configs.

:class:`MockUpstream` is a real HTTP server on loopback that speaks the OpenAI and Anthropic wire
formats, answers deterministically and fails on demand (:class:`Fault`). :class:`ReplayUpstream` is the
same server answering each (model, prompt) with a recorded response and its usage (:class:`Recording`).

The names are imported on first use, so that ``python -m switchyard.testing.mock_upstream`` does not
find its own module already imported by this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.testing.answers import Answer, AnswerCall, AnswerHook, Fault, FaultKind, NoAnswer
    from switchyard.testing.mock_upstream import MockUpstream, RecordedRequest
    from switchyard.testing.replay import Recording, ReplayUpstream

_HOMES = {
    "Answer": "answers",
    "AnswerCall": "answers",
    "AnswerHook": "answers",
    "Fault": "answers",
    "FaultKind": "answers",
    "NoAnswer": "answers",
    "MockUpstream": "mock_upstream",
    "RecordedRequest": "mock_upstream",
    "Recording": "replay",
    "ReplayUpstream": "replay",
}
__all__ = [
    "Answer",
    "AnswerCall",
    "AnswerHook",
    "Fault",
    "FaultKind",
    "MockUpstream",
    "NoAnswer",
    "RecordedRequest",
    "Recording",
    "ReplayUpstream",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)  # one entry per name of __all__ (tests/testing/test_mock_upstream.py)
    if home is not None:
        return getattr(importlib.import_module(f"switchyard.testing.{home}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
