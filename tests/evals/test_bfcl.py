"""BFCL loading, schema conversion and the AST checker: hand-made cases for each of BFCL's rules, and the
real shared data (the correct call built from the possible answers passes; must be there in CI).

The checker was also compared with bfcl_eval 2026.3.23's own ``ast_checker`` (not a dependency) on 36,062
answers derived from the shared data (the reference call and random corruptions of it): no disagreement."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from switchyard.evals import bfcl
from switchyard.evals.bfcl import BfclError, Call, Item, check, reference_calls, schema_problem, to_json_schema

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "toolcalls"

WEATHER = {
    "name": "weather.get",
    "description": "Weather for a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "scale": {"type": "float", "optional": True},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "hours": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["city"],
    },
}
WEATHER_TRUTH = {
    "weather.get": {
        "city": ["San Francisco", "SF"],
        "days": [3, ""],
        "scale": [1.5, ""],
        "unit": ["", "c"],
        "hours": [[1, 2], ""],
    }
}


def need() -> None:
    """The shared data: skip on a workstation without it, fail in CI (which must provide it)."""
    if not (DATA / "BFCL_v4_simple_python.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"BFCL data missing from {DATA}")
        pytest.skip(f"BFCL data not found at {DATA}")


def write(tmp: Path, category: str, rows: list[dict[str, Any]], truth: list[dict[str, Any]] | None) -> Path:
    (tmp / "possible_answer").mkdir(exist_ok=True)
    (tmp / f"BFCL_v4_{category}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if truth is not None:
        (tmp / "possible_answer" / f"BFCL_v4_{category}.json").write_text("".join(json.dumps(t) + "\n" for t in truth))
    return tmp


def item(
    tmp: Path, category: str, functions: list[dict[str, Any]], truth: list[dict[str, Any]] | None, **extra: Any
) -> Item:
    row = {"id": f"{category}_0", "question": [[{"role": "user", "content": "What now?"}]], "function": functions}
    answers = None if truth is None else [{"id": f"{category}_0", "ground_truth": truth}]
    (loaded,) = bfcl.load(write(tmp, category, [row | extra], answers), category)
    return loaded


def call(name: str, **args: Any) -> Call:
    return Call(name, json.dumps(args))


@pytest.fixture
def weather(tmp_path: Path) -> Item:
    return item(tmp_path, "simple_python", [WEATHER], [WEATHER_TRUTH])


# --- loading and schemas ------------------------------------------------------------------------------


def test_tools_are_openai_function_tools_with_closed_json_schemas(weather: Item) -> None:
    (tool,) = weather.tools
    assert tool["type"] == "function" and tool["function"]["name"] == "weather_get"
    assert weather.names == {"weather_get": "weather.get"}
    params = tool["function"]["parameters"]
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert params["properties"]["scale"] == {"type": "number"}  # float -> number, BFCL's "optional" dropped
    assert params["properties"]["hours"] == {"type": "array", "items": {"type": "integer"}}
    assert weather.messages == ({"role": "user", "content": "What now?"},)
    assert weather.user_text == "What now?" and weather.wants_call


def test_schema_conversion_of_every_bfcl_type() -> None:
    schema = {
        "type": "dict",
        "properties": {
            "point": {"type": "tuple", "items": {"type": "float"}},
            "anything": {"type": "any", "description": "x"},
            "free": {"type": "dict"},
            "nested": {"type": "dict", "properties": {"a": {"type": "boolean"}}},
            "tags": {"type": "array", "items": {"type": "string"}, "enum": ["a", "b"]},
        },
    }
    out = to_json_schema(schema)
    assert out["properties"]["point"] == {"type": "array", "items": {"type": "number"}}
    assert out["properties"]["anything"] == {"description": "x"}  # any: no type constraint
    assert out["properties"]["free"] == {"type": "object"}  # a dict without properties stays open
    assert out["properties"]["nested"]["additionalProperties"] is False
    assert out["properties"]["tags"] == {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
    with pytest.raises(ValueError, match="unknown BFCL type 'String'"):
        to_json_schema({"type": "String"})


def test_a_function_without_parameters_is_closed(tmp_path: Path) -> None:
    loaded = item(
        tmp_path, "simple_python", [{"name": "now", "parameters": {"type": "dict", "properties": {}}}], [{"now": {}}]
    )
    assert loaded.tools[0]["function"]["parameters"] == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    assert schema_problem(loaded, [call("now", x=1)], required=True) is not None
    assert check(loaded, [call("now")]).correct and not check(loaded, [call("now", x=1)]).correct


def test_loader_takes_the_first_turn_and_knows_simple(tmp_path: Path) -> None:
    row = {
        "id": "simple_python_7",
        "question": [
            [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "Go"}],
            [{"role": "user", "content": "Again"}],
        ],
        "function": [WEATHER],
    }
    write(tmp_path, "simple_python", [row], [{"id": "simple_python_7", "ground_truth": [WEATHER_TRUTH]}])
    (loaded,) = bfcl.load(tmp_path, "simple")
    assert loaded.category == "simple_python" and [m["role"] for m in loaded.messages] == ["system", "user"]
    assert bfcl.available_categories(tmp_path) == ["simple_python"]


def test_loader_errors_name_the_file_and_item(tmp_path: Path) -> None:
    row = {"id": "multiple_3", "question": [[{"role": "user", "content": "q"}]], "function": [WEATHER]}
    write(tmp_path, "multiple", [row], [])
    with pytest.raises(BfclError, match=r"BFCL_v4_multiple.json, item 'multiple_3': no possible answer"):
        bfcl.load(tmp_path, "multiple")
    write(tmp_path, "multiple", [row], [{"id": "multiple_3", "ground_truth": [{"other": {}}]}])
    with pytest.raises(BfclError, match="'other', which is not among the functions"):
        bfcl.load(tmp_path, "multiple")
    with pytest.raises(BfclError, match="cannot read"):
        bfcl.load(tmp_path, "parallel")
    (tmp_path / "BFCL_v4_irrelevance.json").write_text("{not json\n")
    with pytest.raises(BfclError, match=r"BFCL_v4_irrelevance.json:1: not JSON"):
        bfcl.load(tmp_path, "irrelevance")


def test_reference_call_takes_first_values_and_leaves_optional_out(weather: Item) -> None:
    (ref,) = reference_calls(weather)
    assert ref.name == "weather_get"
    assert json.loads(ref.arguments) == {"city": "San Francisco", "days": 3, "scale": 1.5, "hours": [1, 2]}
    assert check(weather, [ref]).correct and schema_problem(weather, [ref], required=True) is None


# --- the AST rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "correct"),
    [
        ({"city": "san francisco"}, True),  # case
        ({"city": "S.F."}, True),  # punctuation BFCL strips
        ({"city": "San  Francisco,"}, True),  # spaces, commas
        ({"city": "San Francisco!"}, False),  # "!" is not stripped
        ({"city": "Oakland"}, False),
        ({"city": "SF", "days": 3}, True),
        ({"city": "SF", "days": 4}, False),
        ({"city": "SF", "days": 3.0}, False),  # a float for an integer: wrong type
        ({"city": "SF", "days": "3"}, False),
        ({"city": "SF", "scale": 1.5}, True),
        ({"city": "SF", "scale": 2}, False),
        ({"city": "SF", "unit": "C"}, True),
        ({"city": "SF", "hours": [1, 2]}, True),
        ({"city": "SF", "hours": [2, 1]}, False),  # lists in order
        ({"city": "SF", "wind": True}, False),  # unexpected parameter
        ({"days": 3}, False),  # required city missing
    ],
)
def test_one_call(weather: Item, args: dict[str, Any], correct: bool) -> None:
    assert check(weather, [call("weather_get", **args)]).correct is correct


def test_int_accepted_for_float_and_empty_string_means_optional(tmp_path: Path) -> None:
    fn = {
        "name": "area",
        "parameters": {
            "type": "dict",
            "properties": {"r": {"type": "float"}, "unit": {"type": "string"}},
            "required": ["r"],
        },
    }
    loaded = item(tmp_path, "simple_python", [fn], [{"area": {"r": [5.0], "unit": ["cm"]}}])
    assert check(loaded, [call("area", r=5, unit="cm")]).correct
    verdict = check(loaded, [call("area", r=5.0)])  # unit has no "": it must be given
    assert not verdict.correct and verdict.kind == "simple:missing_optional"


def test_verdict_kinds(weather: Item) -> None:
    kinds = {
        "simple:wrong_func_name": [call("weather_set", city="SF")],
        "simple:wrong_count": [call("weather_get", city="SF")] * 2,
        "simple:missing_required": [call("weather_get", days=3)],
        "simple:unexpected_param": [call("weather_get", city="SF", wind=1)],
        "type_error:simple": [call("weather_get", city=7)],
        "value_error:value": [call("weather_get", city="SF", days=9)],
        "ast_decoder:decoder_failed": [Call("weather_get", '{"city": "SF"')],
    }
    for kind, calls in kinds.items():
        verdict = check(weather, calls)
        assert (verdict.correct, verdict.kind) == (False, kind), verdict.error
    assert check(weather, []).kind == "simple:wrong_count"


def test_dict_and_list_of_dicts_arguments(tmp_path: Path) -> None:
    fn = {
        "name": "find",
        "parameters": {
            "type": "dict",
            "properties": {
                "budget": {"type": "dict", "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}}},
                "rules": {"type": "array", "items": {"type": "dict"}},
            },
            "required": ["budget"],
        },
    }
    truth = {
        "find": {"budget": [{"min": [300], "max": [400, ""]}], "rules": [[{"field": ["Age"]}, {"field": ["job"]}], ""]}
    }
    loaded = item(tmp_path, "multiple", [fn, WEATHER], [truth])
    (ref,) = reference_calls(loaded)
    assert json.loads(ref.arguments) == {
        "budget": {"min": 300, "max": 400},
        "rules": [{"field": "Age"}, {"field": "job"}],
    }
    assert check(loaded, [ref]).correct
    assert check(loaded, [call("find", budget={"min": 300})]).correct  # max may be left out
    assert not check(loaded, [call("find", budget={"min": 300, "cap": 1})]).correct
    assert check(loaded, [call("find", budget={"min": 300}, rules=[{"field": "age"}, {"field": "JOB"}])]).correct
    assert not check(loaded, [call("find", budget={"min": 300}, rules=[{"field": "job"}, {"field": "age"}])]).correct
    assert not check(loaded, [call("weather_get", city="SF")]).correct  # multiple: the expected function only


def test_parallel_calls_match_in_any_order(tmp_path: Path) -> None:
    fn = {
        "name": "play",
        "parameters": {
            "type": "dict",
            "properties": {"artist": {"type": "string"}, "minutes": {"type": "integer"}},
            "required": ["artist"],
        },
    }
    truth = [
        {"play": {"artist": ["Taylor Swift"], "minutes": [20]}},
        {"play": {"artist": ["Maroon 5"], "minutes": [15]}},
    ]
    loaded = item(tmp_path, "parallel", [fn], truth)
    a, b = call("play", artist="taylor swift", minutes=20), call("play", artist="Maroon 5", minutes=15)
    assert check(loaded, [a, b]).correct and check(loaded, [b, a]).correct
    assert check(loaded, [a, a]).kind == "parallel:cannot_find_match"
    assert check(loaded, [a]).kind == "parallel:wrong_count"
    assert not check(loaded, [a, b, b]).correct


def test_irrelevance_is_correct_without_a_call(tmp_path: Path) -> None:
    loaded = item(tmp_path, "irrelevance", [WEATHER], None)
    assert not loaded.wants_call and loaded.ground_truth == () and reference_calls(loaded) == []
    assert check(loaded, []).correct
    assert check(loaded, [call("weather_get", city="SF")]).kind == "irrelevance:function_called"
    assert check(loaded, [Call("weather_get", "{oops")]).correct  # BFCL: what does not decode holds no call


def test_a_variable_of_the_answers_type_is_compared_exactly(tmp_path: Path) -> None:
    fn = {"name": "f", "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}
    loaded = item(tmp_path, "simple_python", [fn], [{"f": {"n": ["count"]}}])  # the answer names a variable
    assert check(loaded, [call("f", n="count")]).correct
    assert not check(loaded, [call("f", n="COUNT")]).correct


def test_schema_problem_sees_what_a_schema_can(weather: Item) -> None:
    assert schema_problem(weather, [], required=True) == "no tool call where one is required"
    assert schema_problem(weather, [], required=False) is None
    assert "unknown tool" in (schema_problem(weather, [call("weather.get", city="SF")], required=True) or "")
    assert "not a JSON object" in (schema_problem(weather, [Call("weather_get", "[1]")], required=True) or "")
    assert "'wind' was unexpected" in (
        schema_problem(weather, [call("weather_get", city="SF", wind=1)], required=True) or ""
    )
    assert schema_problem(weather, [call("weather_get", city="SF", unit="k")], required=True) is not None
    # a wrong value of the right type is invisible to a schema, not to BFCL's rules
    assert schema_problem(weather, [call("weather_get", city="Oakland")], required=True) is None


# --- the real data ------------------------------------------------------------------------------------


def test_real_items_load_and_their_reference_calls_pass() -> None:
    need()
    conflicts: Counter[str] = Counter()
    for category in bfcl.available_categories(DATA):
        items = bfcl.load(DATA, category)
        assert items and all(i.category == category for i in items)
        assert len({i.id for i in items}) == len(items)
        for it in items:
            calls = reference_calls(it)
            assert len(calls) == len(it.ground_truth)
            if schema_problem(it, calls, required=it.wants_call) or not check(it, calls).correct:
                conflicts[category] += 1
    # live_multiple holds a few possible answers that contradict their own schema (a value outside its
    # enum, a required argument missing): no answer can be both schema-valid and right there
    assert set(conflicts) <= {"live_multiple"} and conflicts["live_multiple"] <= 12, conflicts
