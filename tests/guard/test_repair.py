"""The repair request: the conversation, the invalid answer quoted as text, the problem and the schema;
a forced call only for a model whose server enforces one by grammar."""

from __future__ import annotations

from switchyard.guard import check_answer, repair_request
from switchyard.types import ChatResponse, FunctionCall, ToolCall
from tests.guard.test_checks import TOOLS, answer, request


def test_repair_quotes_the_answer_and_the_schema_and_forces_only_when_constrained() -> None:
    req = request(tools=TOOLS, tool_choice="required", stream=True, stream_options={"include_usage": True})
    bad = answer(calls=[("forecast", '{"days": 3}')])
    problem = check_answer(req, bad)
    assert problem is not None and problem.tool == "forecast"
    loose = repair_request(req, bad, problem, constrained=False)
    assert loose.messages[:-2] == req.messages and not loose.stream and loose.stream_options is None
    quoted, instruction = loose.messages[-2:]
    assert quoted.role == "assistant" and quoted.tool_calls is None  # quoted, not replayed as a call
    assert quoted.content == '[called forecast with arguments {"days": 3}]'
    assert "missing required property 'city'" in str(instruction.content)
    assert '"required": ["city"]' in str(instruction.content)
    assert loose.tool_choice == "required"  # as the client asked
    strict = repair_request(req, bad, problem, constrained=True)
    assert strict.tool_choice == {"type": "function", "function": {"name": "forecast"}}


def test_an_unwanted_call_is_repaired_in_text_and_never_forced() -> None:
    req = request(tools=TOOLS, tool_choice="none")
    bad = ChatResponse("r", "m", 0, None, "tool_calls", [ToolCall(id="c", function=FunctionCall(name="now"))])
    problem = check_answer(req, bad)
    assert problem is not None and problem.kind == "unwanted_call"
    fixed = repair_request(req, bad, problem, constrained=True)
    assert fixed.tool_choice == "none" and "without calling a tool" in str(fixed.messages[-1].content)


def test_an_unknown_tool_among_several_forces_some_call() -> None:
    req = request(tools=TOOLS)
    bad = answer(calls=[("weather", "{}")])
    problem = check_answer(req, bad)
    assert problem is not None and problem.kind == "unknown_tool"
    assert repair_request(req, bad, problem, constrained=True).tool_choice == "required"
