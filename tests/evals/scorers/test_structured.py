"""json_schema and tool_call."""

from __future__ import annotations

import pytest

from switchyard.evals import ScorerError, default_registry
from switchyard.evals.scorers import json_equal, parse_json_answer

from ..helpers import call, grade, make_item

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
PERSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


def test_parse_json_answer_whole_or_fenced() -> None:
    assert parse_json_answer(' {"a": 1}\n') == ({"a": 1}, "whole")
    assert parse_json_answer('Here you go:\n```json\n{"a": 1}\n```\nDone.') == ({"a": 1}, "fenced")
    assert parse_json_answer("```\n[1, 2]\n```") == ([1, 2], "fenced")
    assert parse_json_answer('```text\nnot json\n```\n```JSON\n{"b": true}\n```') == ({"b": True}, "fenced")
    assert parse_json_answer("```json\n{broken\n```") is None
    assert parse_json_answer('```json {"a": 1}```') is None  # a fence opens a line
    assert parse_json_answer("no json at all") is None
    assert parse_json_answer("``` " * 50_000) is None  # many fences: still one pass


async def test_json_schema_from_the_response_format() -> None:
    ok = await grade("json_schema", None, '{"age": 30, "name": "Ada"}', response_format=PERSON_FORMAT)
    assert ok.passed and ok.meta["where"] == "whole"
    fenced = await grade("json_schema", None, '```json\n{"name": "Ada", "age": 30}\n```', response_format=PERSON_FORMAT)
    assert fenced.passed and fenced.meta["where"] == "fenced"
    bad = await grade("json_schema", None, '{"name": "Ada", "age": "thirty"}', response_format=PERSON_FORMAT)
    assert not bad.passed and bad.detail is not None and bad.detail.startswith("fails the schema at /age:")
    extra = await grade("json_schema", None, '{"name": "Ada", "age": 3, "x": 1}', response_format=PERSON_FORMAT)
    assert not extra.passed and "Additional properties" in (extra.detail or "")
    prose = await grade("json_schema", None, "Ada is 30.", response_format=PERSON_FORMAT)
    assert not prose.passed and prose.detail == "the answer is not JSON (whole or in a fenced block)"


async def test_json_schema_from_args_json_object_or_none() -> None:
    spec = {"name": "json_schema", "schema": {"type": "array", "items": {"type": "number"}}}
    assert (await grade(spec, None, "[1, 2.5]")).passed
    assert not (await grade(spec, None, '[1, "2"]')).passed
    obj = {"type": "json_object"}
    assert (await grade("json_schema", None, '{"a": 1}', response_format=obj)).passed
    assert not (await grade("json_schema", None, "[1]", response_format=obj)).passed
    anything = await grade("json_schema", None, "[1]")
    assert anything.passed and anything.detail == "valid JSON (whole; no schema given)"


def test_invalid_schemas_are_refused_at_load() -> None:
    reg = default_registry()
    with pytest.raises(ScorerError, match="not a valid JSON schema"):
        reg.check(make_item({"name": "json_schema", "schema": {"type": "nonsense"}}).scorer)
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 12}}}
    item = make_item("json_schema", response_format=fmt)
    with pytest.raises(ScorerError, match=r"response_format\.json_schema\.schema") as exc:
        reg.check(item.scorer, item)
    assert exc.value.field == "response_format"


def test_json_equal_is_strict_about_booleans() -> None:
    assert json_equal({"a": [1, {"b": 2.0}]}, {"a": [1.0, {"b": 2}]})
    assert not json_equal({"a": True}, {"a": 1})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal({"a": None}, {})
    assert not json_equal("1", 1)


WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
TIME = {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}


async def test_tool_call_arguments_compare_as_json_not_text() -> None:
    swapped = call("get_weather", '{ "unit":"celsius",\n  "city": "Paris" }')  # key order and spacing differ
    assert (await grade("tool_call", WEATHER, tool_calls=(swapped,))).passed
    openai_shaped = {"function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'}}
    assert (await grade("tool_call", openai_shaped, tool_calls=(swapped,))).passed
    wrong = await grade("tool_call", WEATHER, tool_calls=(call("get_weather", {"city": "paris", "unit": "celsius"}),))
    assert not wrong.passed and wrong.detail is not None and "expected get_weather" in wrong.detail
    assert not (await grade("tool_call", WEATHER, tool_calls=(call("get_forecast", WEATHER["arguments"]),))).passed
    unparsable = await grade("tool_call", WEATHER, tool_calls=(call("get_weather", "{city: Paris"),))
    assert not unparsable.passed and "not a JSON object" in (unparsable.detail or "")
    assert not (await grade("tool_call", WEATHER, "It is sunny in Paris.")).passed  # no call at all


async def test_tool_call_order_and_subset_options() -> None:
    both = [WEATHER, TIME]
    reversed_calls = (call("get_time", TIME["arguments"], 0), call("get_weather", WEATHER["arguments"], 1))
    assert (await grade("tool_call", both, tool_calls=reversed_calls)).passed  # order-insensitive by default
    ordered = await grade({"name": "tool_call", "ordered": True}, both, tool_calls=reversed_calls)
    assert not ordered.passed and ordered.value == 0.0
    more_args = (call("get_weather", {"city": "Paris", "unit": "celsius", "days": 3}),)
    assert not (await grade("tool_call", WEATHER, tool_calls=more_args)).passed
    assert (await grade({"name": "tool_call", "arguments": "subset"}, WEATHER, tool_calls=more_args)).passed
    fewer_args = (call("get_weather", {"city": "Paris"}),)
    assert not (await grade({"name": "tool_call", "arguments": "subset"}, WEATHER, tool_calls=fewer_args)).passed


async def test_tool_call_partial_credit_and_extra_calls() -> None:
    one_of_two = await grade("tool_call", [WEATHER, TIME], tool_calls=(call("get_time", TIME["arguments"]),))
    assert (one_of_two.value, one_of_two.passed) == (0.5, False)
    extra = (call("get_weather", WEATHER["arguments"], 0), call("get_time", TIME["arguments"], 1))
    assert (await grade("tool_call", WEATHER, tool_calls=extra)).value == 0.5
    allowed = await grade({"name": "tool_call", "allow_extra_calls": True}, WEATHER, tool_calls=extra)
    assert (allowed.value, allowed.passed) == (1.0, True)
    assert (await grade("tool_call", [], "No tool needed.")).passed  # [] expects no call
    assert not (await grade("tool_call", [], tool_calls=extra)).passed


async def test_tool_call_matching_is_a_real_matching() -> None:
    """Subset matching lets one made call fit two expected ones; a greedy pairing would miss the full match."""
    refs = [{"name": "f", "arguments": {}}, {"name": "f", "arguments": {"x": 1}}]
    calls = (call("f", {"x": 1}, 0), call("f", {"y": 2}, 1))
    assert (await grade({"name": "tool_call", "arguments": "subset"}, refs, tool_calls=calls)).passed


def test_tool_call_reference_is_checked() -> None:
    reg = default_registry()
    for bad in (None, {"arguments": {}}, [{"name": "f", "arguments": "[1]"}], [{"name": "f", "arguments": "{x"}], "f"):
        item = make_item("tool_call", bad)
        with pytest.raises(ScorerError) as exc:
            reg.check(item.scorer, item)
        assert exc.value.field == "reference"
