from __future__ import annotations

import itertools

import pytest

from switchyard.sensitivity import (
    BUILTIN_DETECTORS,
    DetectorRegistry,
    SensitivityDetector,
    Span,
    request_texts,
)
from switchyard.types import ChatRequest


def request(*messages: dict[str, object]) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": list(messages)})


def test_plain_request_has_no_class(detector: SensitivityDetector) -> None:
    req = request({"role": "user", "content": "Summarise the benefits of a gateway in two sentences."})
    assert detector.classify_request(req) == set()


def test_classes_from_tool_arguments_and_results(detector: SensitivityDetector) -> None:
    req = request(
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Update my records please."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"ssn": "460-89-9847", "card": 4111111111111111}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"api_key": "AKIAIOSFODNN7EXAMPLE"}'},
    )
    assert detector.classify_request(req) == {"pii", "financial", "secret"}
    texts = request_texts(req)
    assert "ssn: 460-89-9847" in texts[2]  # JSON keys become cues


def test_multipart_content(detector: SensitivityDetector) -> None:
    req = request({"role": "user", "content": [{"type": "text", "text": "mail me at a.b@example.org"}]})
    assert detector.classify_request(req) == {"pii"}


def test_health_needs_clinical_content_and_an_identifier(detector: SensitivityDetector) -> None:
    clinical = "Pt admitted with CHF exacerbation, lasix 40mg IV given, BP stable."
    assert detector.classify_request(request({"role": "user", "content": clinical})) == set()
    named = clinical + " Wife Mary Okafor updated by phone at 617-555-0142."
    assert detector.classify_request(request({"role": "user", "content": named})) == {"pii", "health"}
    # an identifier without clinical content is plain PII
    assert detector.classify_request(request({"role": "user", "content": "Call Mary Okafor at 617-555-0142."})) == {
        "pii"
    }
    # clinical content and the identifier may sit in different messages (a tool result, say)
    split = request({"role": "user", "content": clinical}, {"role": "user", "content": "She is Mary Okafor."})
    assert detector.classify_request(split) == {"pii", "health"}


def test_registry_builds_by_name_and_accepts_new_detectors() -> None:
    registry = DetectorRegistry()
    assert set(registry.names()) == set(BUILTIN_DETECTORS)
    with pytest.raises(KeyError, match="nope"):
        registry.build(["nope"])

    class Codename:
        name = "codename"

        def detect(self, text: str) -> list[Span]:
            i = text.find("BLUEBIRD")
            return [] if i < 0 else [Span(i, i + 8, "CODENAME", "secret")]

    registry.register("codename", lambda _: Codename())
    only = SensitivityDetector(registry.build(["codename", "contact"]))
    assert only.scan(["project BLUEBIRD, mail x@example.com"]).classes == {"secret", "pii"}


def test_spans_do_not_overlap(detector: SensitivityDetector) -> None:
    text = "Dr. Cindy Holinka, 5720 Skoanveien 226, card 4111111111111111, phone (602) 272-9781"
    spans = detector.detect(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
