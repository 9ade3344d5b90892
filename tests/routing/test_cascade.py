"""Cascade verifiers: the learned one, and how it stacks on the rule-based ones."""

from __future__ import annotations

import pytest

from switchyard.routing.cascade import LearnedVerifier, cascade_verifiers, request_prompt
from switchyard.routing.data import RouterDataError
from switchyard.routing.model import FitOptions, RouterModel
from switchyard.types import ChatRequest, ChatResponse, FunctionCall, ToolCall
from switchyard.verifiers import DEFAULT_VERIFIERS, verify

from .conftest import HashEncoder, synthetic_table

FAST = FitOptions(c_grid=(1.0,), embedding_gains=(1.0,), folds=5)
GOOD = "6 * 7 = <<6*7=42>>42\n#### 42"
BAD = "maybe 6 * 7 = <<6*7=40>>40, however unclear"


@pytest.fixture(scope="module")
def verifier_model() -> RouterModel:
    return RouterModel.fit(synthetic_table(answers=True), mode="verify", encoder=HashEncoder(), options=FAST)


def _request(text: str, **extra: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "auto", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]}
        | extra
    )


def _response(content: str | None, tool_calls: list[ToolCall] | None = None) -> ChatResponse:
    return ChatResponse("id", "cheap", 0, content, "stop", tool_calls)


def test_request_prompt_is_the_last_user_message() -> None:
    assert request_prompt(_request("how many apples?")) == "how many apples?"


def test_learned_verifier_rejects_doubtful_answers(verifier_model: RouterModel) -> None:
    check = LearnedVerifier(verifier_model, target_quality=0.95)
    prompt = synthetic_table(n=4, seed=5).prompts[1]  # a hard prompt
    reason = check(_request(prompt), _response(BAD))
    assert reason is not None and reason.startswith("learned verifier")
    easy = synthetic_table(n=4, seed=5).prompts[0]
    assert check(_request(easy), _response(GOOD)) is None
    accepted = check.accept([easy, prompt], [GOOD, BAD])
    assert accepted.tolist() == [True, False]


def test_learned_verifier_abstains_on_tool_calls(verifier_model: RouterModel) -> None:
    call = ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))
    assert LearnedVerifier(verifier_model)(_request("x"), _response(None, [call])) is None


def test_learned_verifier_needs_a_verify_model() -> None:
    router = RouterModel.fit(synthetic_table(), encoder=HashEncoder(), options=FAST)
    with pytest.raises(RouterDataError, match="verify"):
        LearnedVerifier(router)


def test_stacked_verifiers(verifier_model: RouterModel) -> None:
    assert cascade_verifiers() == DEFAULT_VERIFIERS
    stack = cascade_verifiers(verifier_model, 0.95)
    assert stack[: len(DEFAULT_VERIFIERS)] == DEFAULT_VERIFIERS and isinstance(stack[-1], LearnedVerifier)
    # The rule-based verifiers speak first: a JSON request answered with prose is refused as such.
    json_request = _request("apple banana pear ?", response_format={"type": "json_object"})
    assert verify(json_request, _response("not json"), stack) == "the answer is not valid JSON"
    hard = synthetic_table(n=4, seed=5).prompts[1]
    assert (verify(_request(hard), _response(BAD), stack) or "").startswith("learned verifier")
