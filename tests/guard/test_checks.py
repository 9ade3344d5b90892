"""What the guard calls valid, on hand-made answers: each problem kind, parallel calls each checked,
tool_choice and parallel_tool_calls honoured, JSON output against its schema; messages never quote the
offending values."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.guard import check_answer, checkable
from switchyard.types import ChatRequest, ChatResponse, FunctionCall, ToolCall

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "enum": [1, 3, 7]}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "forecast", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
]


def request(**kw: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], **kw})


def answer(content: str | None = None, calls: list[tuple[str, str]] = ()) -> ChatResponse:  # type: ignore[assignment]
    tool_calls = [ToolCall(id=f"c{i}", function=FunctionCall(name=n, arguments=a)) for i, (n, a) in enumerate(calls)]
    return ChatResponse("r", "m", 0, content, "tool_calls" if calls else "stop", tool_calls or None)


def kind(req: ChatRequest, resp: ChatResponse) -> str | None:
    problem = check_answer(req, resp)
    return problem.kind if problem else None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Oslo"}', None),
        ('{"city": "Oslo", "days": 3}', None),
        ('{"city": 7}', "arguments_schema"),
        ('{"days": 3}', "arguments_schema"),
        ('{"city": "Oslo", "extra": 1}', "arguments_schema"),
        ('{"city": "Oslo", "days": 2}', "arguments_schema"),
        ('{"city": "Oslo"', "arguments_not_json"),
        ('"Oslo"', "arguments_not_object"),
        ("", "arguments_schema"),  # no arguments read as {}, which lacks the required city
    ],
)
def test_arguments_against_the_schema(arguments: str, expected: str | None) -> None:
    assert kind(request(tools=TOOLS), answer(calls=[("forecast", arguments)])) == expected


def test_unknown_tool_and_messages_that_quote_no_values() -> None:
    problem = check_answer(request(tools=TOOLS), answer(calls=[("forcast", "{}")]))
    assert problem is not None and problem.kind == "unknown_tool" and "'forecast', 'now'" in problem.message
    secret = check_answer(request(tools=TOOLS), answer(calls=[("forecast", '{"city": 123456789}')]))
    assert (
        secret is not None and "123456789" not in secret.message and "at city: expected type string" in secret.message
    )
    extra = check_answer(request(tools=TOOLS), answer(calls=[("forecast", '{"city": "x", "ssn": "000-12-3456"}')]))
    assert extra is not None and "'ssn'" in extra.message and "000-12-3456" not in extra.message


def test_parallel_calls_are_each_checked() -> None:
    req = request(tools=TOOLS)
    good = ("forecast", '{"city": "Oslo"}')
    assert kind(req, answer(calls=[good, ("now", "{}")])) is None
    assert kind(req, answer(calls=[good, ("forecast", '{"city": 1}')])) == "arguments_schema"
    assert kind(req, answer(calls=[good, ("later", "{}")])) == "unknown_tool"
    single = request(tools=TOOLS, parallel_tool_calls=False)
    assert kind(single, answer(calls=[good, good])) == "too_many_calls"
    assert kind(single, answer(calls=[good])) is None


def test_tool_choice_is_honoured() -> None:
    assert kind(request(tools=TOOLS, tool_choice="required"), answer("prose")) == "missing_call"
    assert kind(request(tools=TOOLS, tool_choice="auto"), answer("prose")) is None
    assert kind(request(tools=TOOLS), answer("prose")) is None
    named = {"type": "function", "function": {"name": "now"}}
    assert kind(request(tools=TOOLS, tool_choice=named), answer("prose")) == "missing_call"
    assert kind(request(tools=TOOLS, tool_choice=named), answer(calls=[("forecast", '{"city": "x"}')])) == "wrong_tool"
    assert kind(request(tools=TOOLS, tool_choice=named), answer(calls=[("now", "{}")])) is None
    assert kind(request(tools=TOOLS, tool_choice="none"), answer(calls=[("now", "{}")])) == "unwanted_call"
    # A call with no tools offered at all is a call of an unknown tool.
    assert kind(request(), answer(calls=[("now", "{}")])) == "unknown_tool"


JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object", "required": ["n"]}}}


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        ({"type": "json_object"}, '{"a": 1}', None),
        ({"type": "json_object"}, "[1]", "not_object"),
        ({"type": "json_object"}, "```json\n{}\n```", "not_json"),
        (JSON_SCHEMA, '{"n": 1}', None),
        (JSON_SCHEMA, '{"m": 1}', "json_schema"),
        (JSON_SCHEMA, "", "not_json"),
        ({"type": "text"}, "anything", None),
    ],
)
def test_json_output(fmt: dict[str, Any], content: str, expected: str | None) -> None:
    assert kind(request(response_format=fmt), answer(content)) == expected


def test_what_is_checkable() -> None:
    assert checkable(request(tools=TOOLS)) and checkable(request(response_format={"type": "json_object"}))
    assert not checkable(request()) and not checkable(request(response_format={"type": "text"}))
