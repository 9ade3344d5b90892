"""Loading eval sets: a good file, and every kind of bad line reported with its line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from switchyard.evals import EvalError, EvalSetError, ScorerError, ScorerSpec, load_eval_set, parse_eval_set

GOOD = [
    {"id": "q1", "prompt": "What is 6*7?", "reference": 42, "scorer": "numeric", "tags": ["math"]},
    {
        "id": 2,
        "messages": [{"role": "system", "content": "Answer with a letter."}, {"role": "user", "content": "Pick B."}],
        "reference": ["B", "b"],
        "scorer": {"name": "choice", "choices": "A-E"},
    },
    {"id": "q3", "prompt": "Capital of France?", "reference": "Paris", "metadata": {"source": "geo"}},
    {
        "id": "q4",
        "prompt": "Weather in Paris?",
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "reference": {"name": "get_weather", "arguments": {"city": "Paris"}},
        "scorer": "tool_call",
    },
    {
        "id": "q5",
        "prompt": "A person as JSON.",
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}},
        "scorer": "json_schema",
    },
]


def write(tmp_path: Path, lines: list[Any], name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_a_good_file(tmp_path: Path) -> None:
    lines: list[Any] = [GOOD[0], "", "   ", *GOOD[1:]]  # blank lines are skipped, but still counted
    evals = load_eval_set(write(tmp_path, lines, "geo-math.jsonl"), default_scorer="contains")
    assert evals.name == "geo-math" and len(evals) == 5
    assert [i.id for i in evals] == ["q1", "2", "q3", "q4", "q5"]
    assert [i.line for i in evals] == [1, 4, 5, 6, 7]
    q1, q2, q3, q4, q5 = evals.items
    assert [(m.role, m.content) for m in q1.messages] == [("user", "What is 6*7?")]  # a prompt: one user message
    assert q1.scorer == ScorerSpec("numeric") and q1.reference == 42 and q1.tags == ("math",)
    assert [m.role for m in q2.messages] == ["system", "user"] and q2.prompt == "Pick B."
    assert q2.scorer == ScorerSpec("choice", {"choices": "A-E"})
    assert q3.scorer == ScorerSpec("contains") and q3.metadata == {"source": "geo"}  # the set's default
    assert q4.tools is not None and q4.tools[0].function.name == "get_weather"
    assert q5.response_format is not None and q5.response_format.type == "json_schema" and q5.reference is None
    assert evals.get("q3") is q3 and evals.get("nope") is None
    assert len(evals.sha256) == 64


def test_the_digest_follows_the_bytes(tmp_path: Path) -> None:
    a = load_eval_set(write(tmp_path, [GOOD[0]], "a.jsonl"))
    b = load_eval_set(write(tmp_path, [GOOD[0]], "b.jsonl"))
    c = load_eval_set(write(tmp_path, [{**GOOD[0], "reference": 43}], "c.jsonl"))
    assert a.sha256 == b.sha256 != c.sha256


def test_a_byte_order_mark_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(GOOD[0]).encode() + b"\r\n\r\n" + json.dumps(GOOD[2]).encode() + b"\r\n"
    )
    assert [i.id for i in load_eval_set(path, "exact")] == ["q1", "q3"]


OK = {"id": "x", "prompt": "p", "reference": "r", "scorer": "exact"}


def drop(key: str) -> dict[str, Any]:
    return {k: v for k, v in OK.items() if k != key}


BAD: list[tuple[str, Any, str]] = [
    (
        "not JSON",
        '{"id": "x", "prompt": "p",, }',
        "line 2: not valid JSON: Expecting property name enclosed in double quotes (column 27)",
    ),
    ("truncated", '{"id": "x", "prompt": "p"', "line 2: not valid JSON: Expecting ',' delimiter (column 26)"),
    ("not an object", "[1, 2]", "line 2: an item is a JSON object, not list"),
    (
        "unknown field",
        {**OK, "refrence": "r"},
        "line 2: field 'refrence': unknown field (known: id, messages, prompt, reference, scorer, tools, response_format, tags, metadata)",
    ),
    ("no id", drop("id"), "line 2: field 'id': missing (every item needs an id)"),
    ("empty id", {**OK, "id": "  "}, "line 2: field 'id': must not be empty"),
    ("boolean id", {**OK, "id": True}, "line 2: field 'id': must be a string or an integer, not bool"),
    ("float id", {**OK, "id": 1.5}, "line 2: field 'id': must be a string or an integer, not float"),
    (
        "both",
        {**OK, "messages": [{"role": "user", "content": "p"}]},
        "line 2: field 'prompt': give either 'messages' or 'prompt', not both",
    ),
    (
        "neither",
        drop("prompt"),
        "line 2: field 'messages': missing: give 'messages' (a list of chat messages) or 'prompt' (a string)",
    ),
    ("empty prompt", {**OK, "prompt": " "}, "line 2: field 'prompt': must be a non-empty string"),
    ("prompt not text", {**OK, "prompt": ["p"]}, "line 2: field 'prompt': must be a non-empty string"),
    (
        "messages not a list",
        {**drop("prompt"), "messages": "hi"},
        "line 2: field 'messages': must be a non-empty list of chat messages",
    ),
    (
        "no messages",
        {**drop("prompt"), "messages": []},
        "line 2: field 'messages': must be a non-empty list of chat messages",
    ),
    (
        "bad role",
        {**drop("prompt"), "messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]},
        "line 2: field 'messages[1].role': Input should be 'system', 'developer', 'user', 'assistant' or 'tool'",
    ),
    (
        "bad content part",
        {**drop("prompt"), "messages": [{"role": "user", "content": [{"text": "a"}]}]},
        "line 2: field 'messages[0].content': Value error, part 0 needs a string 'type'",
    ),
    ("no scorer", drop("scorer"), "line 2: field 'scorer': missing, and the set has no default scorer"),
    (
        "unknown scorer",
        {**OK, "scorer": "fuzzy"},
        "line 2: field 'scorer': unknown scorer 'fuzzy' (known: choice, contains, embedding, exact, json_schema, judge, normalized, numeric, regex, tool_call)",
    ),
    (
        "scorer without name",
        {**OK, "scorer": {"threshold": 1}},
        "line 2: field 'scorer': a scorer object needs a string 'name'",
    ),
    (
        "scorer not a spec",
        {**OK, "scorer": 3},
        "line 2: field 'scorer': a scorer is a name or an object with a 'name', not int",
    ),
    (
        "bad scorer args",
        {**OK, "scorer": {"name": "numeric", "abs_tol": "x"}, "reference": 1},
        "line 2: field 'scorer': bad arguments for scorer 'numeric': abs_tol: Input should be a valid number, unable to parse string as a number",
    ),
    (
        "unusable reference",
        {**OK, "scorer": "choice", "reference": "E"},
        "line 2: field 'reference': choice reference 'E' is not one of the labels A, B, C, D",
    ),
    ("missing reference", drop("reference"), "line 2: field 'reference': this scorer needs a reference"),
    ("tags not a list", {**OK, "tags": "math"}, "line 2: field 'tags': must be a list of strings"),
    ("tag not a string", {**OK, "tags": ["math", 3]}, "line 2: field 'tags[1]': must be a string, not int"),
    ("tools not a list", {**OK, "tools": {"type": "function"}}, "line 2: field 'tools': must be a list of tools"),
    (
        "bad tool",
        {**OK, "tools": [{"type": "function", "function": {"description": "no name"}}]},
        "line 2: field 'tools[0].function.name': Field required",
    ),
    (
        "bad response format",
        {**OK, "response_format": {"type": "yaml"}},
        "line 2: field 'response_format.type': Input should be 'text', 'json_object' or 'json_schema'",
    ),
    ("metadata not an object", {**OK, "metadata": [1]}, "line 2: field 'metadata': must be an object"),
]


@pytest.mark.parametrize(("case", "line", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_lines_name_the_line_and_field(tmp_path: Path, case: str, line: Any, message: str) -> None:
    path = write(tmp_path, [{**OK, "id": "first"}, line, {**OK, "id": "last"}])
    with pytest.raises(EvalSetError) as exc:
        load_eval_set(path)
    assert str(exc.value) == message
    assert exc.value.line == 2 and exc.value.path == str(path)
    if "field '" in message:
        assert exc.value.field == message.split("field '", 1)[1].split("'", 1)[0]
    else:
        assert exc.value.field is None


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, [{**OK, "id": "a"}, "", {**OK, "id": "b"}, {**OK, "id": "a"}])
    with pytest.raises(EvalSetError, match=r"^line 4: field 'id': duplicate id 'a' \(first on line 1\)$"):
        load_eval_set(path)
    with pytest.raises(EvalSetError, match="duplicate id '7'"):  # 7 and "7" are the same id
        parse_eval_set([json.dumps({**OK, "id": 7}), json.dumps({**OK, "id": "7"})])


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(OK).encode() + b"\n" + '{"id": "caf\xe9"}'.encode("latin-1") + b"\n")
    with pytest.raises(EvalSetError, match=r"^line 2: not UTF-8 text \(byte 12\)$"):
        load_eval_set(path)


def test_the_default_scorer_is_checked_and_used(tmp_path: Path) -> None:
    path = write(tmp_path, [drop("scorer")])
    assert load_eval_set(path, {"name": "contains", "require": "all"}).items[0].scorer == ScorerSpec(
        "contains", {"require": "all"}
    )
    with pytest.raises(ScorerError, match="unknown scorer 'nope'"):
        load_eval_set(path, "nope")
    with pytest.raises(ScorerError, match="default scorer: a scorer object needs a string 'name'"):
        load_eval_set(path, {"threshold": 1})


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="holds no items"):
        load_eval_set(write(tmp_path, ["", "  "]))
    with pytest.raises(EvalError, match="cannot read eval set"):
        load_eval_set(tmp_path / "missing.jsonl")


@pytest.mark.timeout(120)  # a guard, not a timing claim
def test_a_large_set_loads_in_one_pass(tmp_path: Path) -> None:
    lines = [
        {"id": f"q{i}", "prompt": f"What is {i}+1?", "reference": i + 1, "scorer": "numeric"} for i in range(20_000)
    ]
    evals = load_eval_set(write(tmp_path, lines))
    assert len(evals) == 20_000 and evals.get("q19999") is not None
