from __future__ import annotations

import json
from collections.abc import AsyncIterator

from switchyard.sensitivity import Pseudonymizer, SensitivityDetector
from switchyard.types import ChatRequest, ChatResponse, Chunk, FunctionCall, ToolCall, ToolCallDelta


def make_request() -> ChatRequest:
    return ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "Email Maria Lopez at maria@example.com. Maria Lopez is waiting."},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"to": "maria@example.com"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sent to Maria Lopez"},
            ],
        }
    )


def test_mask_is_consistent_and_restores(detector: SensitivityDetector) -> None:
    session = Pseudonymizer(detector).session()
    masked = session.mask_request(make_request())
    user = masked.messages[0].content
    assert user == "Email <PERSON_1> at <EMAIL_1>. <PERSON_1> is waiting."
    assert masked.messages[2].content == "sent to <PERSON_1>"
    calls = masked.messages[1].tool_calls
    assert calls is not None and json.loads(calls[0].function.arguments) == {"to": "<EMAIL_1>"}
    assert (
        session.restore("Done: <PERSON_1> (<EMAIL_1>), <UNKNOWN_9>")
        == "Done: Maria Lopez (maria@example.com), <UNKNOWN_9>"
    )
    assert make_request().messages[0].content.startswith("Email Maria")  # the original is untouched


def test_restore_response_and_tool_arguments(detector: SensitivityDetector) -> None:
    session = Pseudonymizer(detector).session()
    session.mask('Say "hi" to Maria Lopez')
    tricky = session.placeholder("PERSON", 'Ann "Q" Lee')
    response = ChatResponse(
        id="r",
        model="m",
        created=0,
        content="Hello <PERSON_1>",
        finish_reason="tool_calls",
        tool_calls=[ToolCall(id="t", function=FunctionCall(name="f", arguments=json.dumps({"name": tricky})))],
    )
    restored = session.restore_response(response)
    assert restored.content == "Hello Maria Lopez"
    assert restored.tool_calls is not None
    assert json.loads(restored.tool_calls[0].function.arguments) == {"name": 'Ann "Q" Lee'}


def test_stream_restorer_holds_only_a_placeholder_prefix(detector: SensitivityDetector) -> None:
    session = Pseudonymizer(detector).session()
    session.mask("Call Maria Lopez")
    restorer = session.stream_restorer()
    assert restorer.feed("Hi <PERS") == "Hi "
    assert restorer.feed("ON_1>, how") == "Maria Lopez, how"
    assert restorer.feed(" are you <3 <") == " are you <3 "
    assert restorer.feed("b>bold") == "<b>bold"
    assert restorer.feed(" <PERSON_") == " "
    assert restorer.flush() == "<PERSON_"


async def test_restore_stream_of_chunks(detector: SensitivityDetector) -> None:
    session = Pseudonymizer(detector).session()
    session.mask("Call Maria Lopez")

    async def upstream() -> AsyncIterator[Chunk]:
        for piece in ["Dear <", "PERSON", "_1>", ", bye <PER"]:
            yield Chunk(content=piece)
        yield Chunk(tool_calls=[ToolCallDelta(index=0, id="t", name="f", arguments='{"n": "<PERSO')])
        yield Chunk(tool_calls=[ToolCallDelta(index=0, arguments='N_1>"}')])
        yield Chunk(finish_reason="stop")

    chunks = [c async for c in session.restore_stream(upstream())]
    text = "".join(c.content or "" for c in chunks)
    args = "".join(d.arguments for c in chunks for d in c.tool_calls or ())
    assert text == "Dear Maria Lopez, bye <PER"
    assert json.loads(args) == {"n": "Maria Lopez"}
    assert chunks[-1].finish_reason == "stop"
