"""What answers say and whether they agree (``switchyard.agreement``), and the agreement settings of a
route's policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from switchyard.agreement import Comparison, Said, check_agreements, vote
from switchyard.config import GatewayConfig, Price, RouteConfig, RoutePolicy
from switchyard.errors import ConfigError
from switchyard.types import ChatResponse, FunctionCall, ToolCall
from tests.server.configs import openai_model


def answer(content: str | None = None, calls: list[tuple[str, str]] | None = None) -> ChatResponse:
    tool_calls = [
        ToolCall(id=f"c{i}", function=FunctionCall(name=n, arguments=a)) for i, (n, a) in enumerate(calls or [])
    ]
    return ChatResponse("id", "m", 0, content, "stop", tool_calls or None)


def said(comparison: Comparison, *texts: str) -> list[Said | None]:
    return [comparison.read(answer(t)) for t in texts]


def agree(comparison: Comparison, first: str, second: str) -> bool:
    a, b = said(comparison, first, second)
    return a is not None and b is not None and comparison.same(a, b)


def test_modes_read_what_an_answer_says() -> None:
    normalized, exact = Comparison("normalized"), Comparison("exact")
    assert agree(normalized, "Hello, World!", "  hello world ")
    assert not agree(exact, "Hello, World!", "hello world") and agree(exact, "Hi\n", "Hi")
    choice = Comparison("choice", "A-E")
    assert [
        s.value if s else None for s in said(choice, "The answer is (e).", "B) cat\n\nThe answer is D", "no idea")
    ] == [
        "E",
        "D",
        None,
    ]
    number = Comparison("number")
    assert agree(number, "so 1,200 in all", "Answer: 1200.0000001") and not agree(number, "1200", "1201")
    assert said(normalized, "", "   ") == [None, None]  # nothing said agrees with nothing


def test_tool_calls_compare_by_name_and_json_equal_arguments_in_any_order() -> None:
    comparison = Comparison("choice")  # the mode is for text; calls are always compared as calls
    one = comparison.read(answer(calls=[("get", '{"city": "Oslo", "n": 1}'), ("put", "{}")]))
    two = comparison.read(answer(calls=[("put", ""), ("get", '{"n": 1.0, "city": "Oslo"}')]))
    other = comparison.read(answer(calls=[("get", '{"city": "Oslo", "n": true}'), ("put", "{}")]))
    assert one and two and other and one.shown == "get(), put()"
    assert comparison.same(one, two) and not comparison.same(one, other)  # true is not 1
    assert comparison.read(answer(calls=[("get", "{oops")])) is None
    assert not comparison.same(one, Said("text", "B"))


def test_vote_needs_one_largest_group_of_the_needed_size() -> None:
    c = Comparison("choice")
    assert vote(said(c, "B", "B"), c, 2).agreed == (0, 1)
    assert vote(said(c, "A", "C", "C"), c, 2).agreed == (1, 2)
    tie = vote(said(c, "A", "B", "A", "B"), c, 2)
    assert tie.agreed is None and tie.groups == (1, 2, 1, 2) and tie.largest == 2
    assert vote(said(c, "A", "A", "B"), c, 3).agreed is None
    assert vote([None, None], c, 2).agreed is None


def test_shown_values_are_safe_in_headers() -> None:
    calls = Comparison().read(answer(calls=[("wetter\u00e9\n", "{}")]))
    assert calls is not None and calls.shown is not None and calls.shown.isascii() and "\n" not in calls.shown
    text = Comparison().read(answer("Paris"))
    assert text is not None and text.shown is None  # free text is never shown


def route(policy: dict[str, object], models: list[str] | None = None) -> RouteConfig:
    return RouteConfig(name="r", models=models or ["a", "b", "c"], policy=RoutePolicy.model_validate(policy))


def test_policy_syntax() -> None:
    short = RoutePolicy.model_validate({"strategy": "cascade", "verifier": "agreement"})
    assert short.agreement is not None and short.agreement.quorum == 2 and short.agreement.compare == "normalized"
    long = RoutePolicy.model_validate(
        {"strategy": "cascade", "agreement": {"quorum": 3, "min_agree": 2, "compare": "choice"}}
    )
    assert long.verifier == "agreement" and long.agreement is not None and long.agreement.needed == 2
    assert RoutePolicy(strategy="cascade").agreement is None
    for bad, message in [
        ({"verifier": "agreement"}, "needs strategy: cascade"),
        ({"strategy": "cascade", "verifier": "checks", "agreement": {}}, "need verifier: agreement"),
        ({"strategy": "cascade", "agreement": {"quorum": 2, "min_agree": 3}}, "more than the candidates asked"),
        ({"strategy": "cascade", "agreement": {"compare": "vibes"}}, "compare"),
    ]:
        with pytest.raises(ValidationError, match=message):
            RoutePolicy.model_validate(bad)
    with pytest.raises(ValidationError, match="at least 4 models"):
        route({"strategy": "cascade", "agreement": {"quorum": 3}})


def test_labels_are_checked_when_the_gateway_is_built() -> None:
    models = [openai_model(n, "http://127.0.0.1:9", price=Price(input=1, output=1)) for n in "abc"]
    good = GatewayConfig(models=models, routes=[route({"strategy": "cascade", "agreement": {"choices": "A-E"}})])
    check_agreements(good)
    bad = GatewayConfig(models=models, routes=[route({"strategy": "cascade", "agreement": {"choices": "A-"}})])
    with pytest.raises(ConfigError, match=r"routes\[0\].policy.agreement.choices"):
        check_agreements(bad)
