"""The two Anthropic stop/finish tables agree: what switchyard tells a client (``stop_reason``) reads back
through the upstream table (``finish_reason``) as the internal reason it came from."""

from __future__ import annotations

from typing import get_args

import pytest

from switchyard.types import FinishReason
from switchyard.wire.anthropic import finish_reason, stop_reason


@pytest.mark.parametrize("internal", get_args(FinishReason))
def test_every_internal_reason_survives_the_round_trip(internal: str) -> None:
    assert finish_reason(stop_reason(internal)) == internal


@pytest.mark.parametrize(
    ("upstream", "internal"),
    [
        # Anthropic has more stop reasons than the internal (OpenAI) set: these collapse, and a client of
        # switchyard sees the common one (a hit stop sequence cannot be told apart from a natural end).
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        # An upstream that sends none, or one switchyard does not know, ended normally as far as we know.
        (None, "stop"),
        ("some_future_reason", "stop"),
    ],
)
def test_lossy_upstream_reasons(upstream: str | None, internal: str) -> None:
    assert finish_reason(upstream) == internal
    assert stop_reason(internal) != upstream  # not the reason the upstream gave: this direction loses it


@pytest.mark.parametrize("internal", [None, "function_call", "some_future_reason"])
def test_internal_reasons_outside_the_set_end_the_turn(internal: str | None) -> None:
    # Not a FinishReason (an OpenAI-compatible upstream may still send them): a client sees end_turn, which
    # reads back as "stop", so these do not survive the round trip.
    assert stop_reason(internal) == "end_turn"
    assert finish_reason(stop_reason(internal)) == "stop"
