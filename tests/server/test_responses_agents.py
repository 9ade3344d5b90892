"""The Responses endpoint against the embedded model (SmolLM2-135M through llama.cpp): the OpenAI Agents SDK
runs a tool-using agent on it (``OpenAIResponsesModel`` over an ``AsyncOpenAI`` client pointed at the
gateway), and the openai SDK gets structured output from it.

A 135M model is weak, so the tests ask only what is guaranteed: the first turn's ``tool_choice`` is
``required``, which llama.cpp enforces with a grammar (the model cannot answer anything but a call of the
tool, with arguments fitting its schema); the Agents SDK then runs the tool, feeds its output back, resets
``tool_choice`` to auto, and the model answers in text. Temperature 0. What the model says is not judged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import openai
import pytest
from pydantic import BaseModel

from switchyard.config import embedded_defaults
from tests.conftest import ADMIN_KEY, RunningGateway, need_embedded_chat, run_gateway

agents = pytest.importorskip("agents", reason="openai-agents is not installed")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    need_embedded_chat()
    cfg = embedded_defaults()
    cfg.models = [m for m in cfg.models if m.name == "local-chat"]
    cfg.routes = []
    db = tmp_path_factory.mktemp("responses-embedded") / "ledger.db"
    with run_gateway(cfg, db, responses_store=True) as gw:
        yield gw


def weather_agent(gw: RunningGateway, calls: list[dict[str, Any]]) -> Any:
    agents.set_tracing_disabled(True)  # nothing leaves the machine

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append({"city": city})
        return f"It is sunny and 21 degrees in {city}."

    client = openai.AsyncOpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0, timeout=300)
    return agents.Agent(
        name="weather",
        instructions="You answer questions about the weather. Use the tool.",
        tools=[get_weather],
        model=agents.OpenAIResponsesModel(model="local-chat", openai_client=client),
        model_settings=agents.ModelSettings(tool_choice="required", temperature=0, max_tokens=48),
    )


def check_run(result: Any, calls: list[dict[str, Any]]) -> None:
    """The model called the tool once, with the arguments the tool received; the tool's output went back
    to the model, which answered in text."""
    first = result.raw_responses[0]
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert calls == [json.loads(call.arguments)] and isinstance(calls[0]["city"], str)
    kinds = [type(item).__name__ for item in result.new_items]
    assert kinds == ["ToolCallItem", "ToolCallOutputItem", "MessageOutputItem"]
    assert result.new_items[1].output == f"It is sunny and 21 degrees in {calls[0]['city']}."
    assert isinstance(result.final_output, str) and result.final_output.strip()
    assert [r.output[0].type for r in result.raw_responses] == ["function_call", "message"]
    assert all(r.usage.input_tokens > 0 and r.usage.output_tokens > 0 for r in result.raw_responses)


async def test_the_agents_sdk_runs_a_tool_using_agent(embedded: RunningGateway) -> None:
    calls: list[dict[str, Any]] = []
    result = await agents.Runner.run(weather_agent(embedded, calls), "What is the weather in Paris?", max_turns=3)
    check_run(result, calls)
    embedded.flush()
    rows = embedded.ledger().recent(2)
    assert {(r.endpoint, r.served_model, r.status) for r in rows} == {("responses", "local-chat", 200)}


async def test_the_agents_sdk_with_server_side_conversation_state(embedded: RunningGateway) -> None:
    """``auto_previous_response_id``: the second turn sends only the tool's output and the previous
    response's id; the gateway continues the stored conversation."""
    calls: list[dict[str, Any]] = []
    agent = weather_agent(embedded, calls)
    result = await agents.Runner.run(agent, "What is the weather in Oslo?", max_turns=3, auto_previous_response_id=True)
    check_run(result, calls)
    first, second = (r.response_id for r in result.raw_responses)
    stored = httpx.get(f"{embedded.v1}/responses/{second}", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()
    assert stored["previous_response_id"] == first and stored["output"][0]["type"] == "message"


async def test_the_agents_sdk_streamed_run(embedded: RunningGateway) -> None:
    calls: list[dict[str, Any]] = []
    run = agents.Runner.run_streamed(weather_agent(embedded, calls), "What is the weather in Rome?", max_turns=3)
    kinds = {event.type async for event in run.stream_events()}
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    check_run(run, calls)


class Verdict(BaseModel):
    answer: Literal["yes", "no"]


def test_structured_output_from_the_embedded_model(embedded: RunningGateway) -> None:
    """``text.format`` json_schema is enforced by llama.cpp's grammar: the answer parses."""
    client = openai.OpenAI(base_url=embedded.v1, api_key=ADMIN_KEY, max_retries=0, timeout=300)
    parsed = client.responses.parse(
        model="local-chat", input="Is the sky blue?", text_format=Verdict, temperature=0, max_output_tokens=32
    )
    assert parsed.output_parsed is not None and parsed.output_parsed.answer in ("yes", "no")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    resp = client.responses.create(
        model="local-chat",
        input="Pick a number.",
        text={"format": {"type": "json_schema", "name": "number", "schema": schema}},
        temperature=0,
        max_output_tokens=32,
    )
    assert isinstance(json.loads(resp.output_text)["n"], int)
