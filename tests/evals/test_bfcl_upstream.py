"""The scripted BFCL models through the official openai SDK: which item, which attempt, the log, usage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from switchyard.evals import bfcl
from switchyard.evals.bfcl import Call, Item
from switchyard.evals.bfcl_failures import PROSE_REPLY, correct_answer
from switchyard.evals.bfcl_upstream import ScriptedModels, attempt_number
from tests.evals.test_bfcl import WEATHER, WEATHER_TRUTH, write


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    tmp = tmp_path_factory.mktemp("bfcl")
    rows = [
        {
            "id": f"simple_python_{n}",
            "question": [[{"role": "user", "content": f"Weather {n}?"}]],
            "function": [WEATHER],
        }
        for n in range(40)
    ]
    truth = [{"id": r["id"], "ground_truth": [WEATHER_TRUTH]} for r in rows]
    irrelevant = {"id": "irrelevance_0", "question": [[{"role": "user", "content": "Sing."}]], "function": [WEATHER]}
    write(tmp, "simple_python", rows, truth)
    write(tmp, "irrelevance", [irrelevant], None)
    return bfcl.load(tmp, "simple_python") + bfcl.load(tmp, "irrelevance")


@pytest.fixture
def upstream(items: list[Item]) -> Iterator[ScriptedModels]:
    with ScriptedModels(items, {"cheap": 0.5, "premium": 0.0}) as up:
        yield up


@pytest.fixture
def client(upstream: ScriptedModels) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=upstream.url + "/v1", api_key="x", max_retries=0, timeout=10) as c:
        yield c


def ask(
    client: openai.OpenAI, model: str, it: Item, *, extra: list[Any] | None = None, stream: bool = False
) -> tuple[str, list[Call]]:
    messages: Any = [*it.messages, *(extra or [])]
    tools: Any = list(it.tools)
    if not stream:
        msg = client.chat.completions.create(model=model, messages=messages, tools=tools).choices[0].message
        calls = [Call(c.function.name, c.function.arguments) for c in msg.tool_calls or [] if c.type == "function"]
        return msg.content or "", calls
    text, names, args = "", {}, {}
    for chunk in client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True):
        delta = chunk.choices[0].delta if chunk.choices else None
        text += (delta.content or "") if delta else ""
        for tc in (delta.tool_calls or []) if delta else []:
            if tc.function and tc.function.name:
                names[tc.index] = tc.function.name
            args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "" if tc.function else "")
    return text, [Call(names[i], args[i]) for i in sorted(names)]


def test_premium_answers_correctly_streamed_or_not(
    upstream: ScriptedModels, client: openai.OpenAI, items: list[Item]
) -> None:
    for it in items:
        expected = correct_answer(it)
        assert ask(client, "premium", it) == (expected.text, list(expected.calls))
        assert ask(client, "premium", it, stream=True) == (expected.text, list(expected.calls))
    served = upstream.served()
    assert len(served) == 2 * len(items) and {s.failure for s in served} == {None}
    assert {s.stream for s in served} == {True, False} and {s.attempt for s in served} == {0}
    assert all(s.prompt_tokens > 20 and s.completion_tokens > 0 for s in served)
    assert ask(client, "premium", items[-1])[0] == PROSE_REPLY


def test_same_answers_each_run_and_fresh_ones_on_repair(
    upstream: ScriptedModels, client: openai.OpenAI, items: list[Item]
) -> None:
    first = [ask(client, "cheap", it) for it in items]
    assert first == [ask(client, "cheap", it) for it in items]
    log = upstream.served(clear=True)
    failed = [s for s in log[: len(items)] if s.failure is not None]
    assert 5 < len(failed) < len(items) - 5  # about half at rate 0.5
    assert upstream.served() == []
    repair = [{"role": "assistant", "content": "bad"}, {"role": "user", "content": "That call was invalid: ..."}]
    again = [ask(client, "cheap", it, extra=repair) for it in items]
    assert again != first
    assert {s.attempt for s in upstream.served()} == {1}


def test_attempt_numbers(items: list[Item]) -> None:
    it = items[0]
    own = list(it.messages)
    assistant, error = {"role": "assistant", "content": ""}, {"role": "user", "content": "fix it"}
    assert attempt_number(it, own) == 0
    assert attempt_number(it, [*own, assistant, error]) == 1
    assert attempt_number(it, [*own, assistant, error, assistant, error]) == 2
    assert attempt_number(it, [*own, {"role": "system", "content": "the last answer was invalid"}]) == 1


def test_unknown_questions_and_models_are_404(client: openai.OpenAI, items: list[Item]) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="cheap", messages=[{"role": "user", "content": "Who?"}])
    assert json.loads(err.value.response.text)["error"]["code"] == "item_not_found"
    with pytest.raises(openai.NotFoundError, match="no scripted model 'other'"):
        ask(client, "other", items[0])


def test_same_question_with_other_tools_is_another_item(tmp_path: Path) -> None:
    other = {**WEATHER, "parameters": {**WEATHER["parameters"], "required": ["city", "days"]}}  # type: ignore[dict-item]
    rows = [
        {"id": "live_simple_1", "question": [[{"role": "user", "content": "Same?"}]], "function": [WEATHER]},
        {"id": "live_simple_2", "question": [[{"role": "user", "content": "Same?"}]], "function": [other]},
    ]
    write(tmp_path, "live_simple", rows, [{"id": r["id"], "ground_truth": [WEATHER_TRUTH]} for r in rows])
    a, b = bfcl.load(tmp_path, "live_simple")
    models = ScriptedModels([a, b], {"m": 0.0})
    for it in (a, b):
        found = models.find({"messages": list(it.messages), "tools": list(it.tools)})
        assert found is not None and found.id == it.id
