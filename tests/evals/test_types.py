"""The evals' data types: specs, items, answers."""

from __future__ import annotations

import pytest

from switchyard.evals import Answer, ScorerSpec
from switchyard.types import ChatResponse, ToolCall

from .helpers import call, make_item


def test_scorer_spec_parse_and_key() -> None:
    assert ScorerSpec.parse("numeric") == ScorerSpec("numeric")
    spec = ScorerSpec.parse({"name": "numeric", "rel_tol": 0.1, "abs_tol": 0})
    assert spec.name == "numeric" and dict(spec.args) == {"rel_tol": 0.1, "abs_tol": 0}
    assert spec == ScorerSpec.parse({"abs_tol": 0, "name": "numeric", "rel_tol": 0.1})
    assert len({spec, ScorerSpec("numeric", {"abs_tol": 0, "rel_tol": 0.1})}) == 1
    with pytest.raises(TypeError):
        spec.args["rel_tol"] = 1  # type: ignore[index]
    for bad in ("", {"rel_tol": 1}, {"name": 3}, 7):
        with pytest.raises(ValueError):
            ScorerSpec.parse(bad)  # type: ignore[arg-type]


def test_item_request_and_prompt() -> None:
    item = make_item("exact", "x", prompt="Hello?", response_format={"type": "json_object"})
    assert item.prompt == "Hello?"
    request = item.request("local-chat", temperature=0, max_tokens=16)
    assert request.model == "local-chat" and request.max_tokens == 16
    assert [m.content for m in request.messages] == ["Hello?"]
    assert request.response_format is not None and request.response_format.type == "json_object"
    request.messages[0].content = "changed"
    assert item.messages[0].content == "Hello?"  # the request owns copies


def test_answer_from_a_response_or_an_openai_body() -> None:
    tc = call("f", {"a": 1})
    response = ChatResponse(id="r", model="m", created=0, content=None, finish_reason="tool_calls", tool_calls=[tc])
    assert Answer.from_response(response) == Answer("", (tc,))
    body = {"choices": [{"message": {"role": "assistant", "content": "hi", "tool_calls": [tc.model_dump()]}}]}
    answer = Answer.from_openai(body)
    assert answer.text == "hi" and answer.tool_calls == (ToolCall.model_validate(tc.model_dump()),)
    assert answer.raw == body
    with pytest.raises(ValueError, match="no choices"):
        Answer.from_openai({"error": "x"})
