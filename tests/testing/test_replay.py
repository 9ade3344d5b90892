"""The replay upstream, driven by the official openai and anthropic SDKs and by raw httpx."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from switchyard.testing import Fault, Recording, ReplayUpstream
from switchyard.testing._wire import text_pieces

QUESTION = 'Which is a fly?\nA) a centipede\nB) a fly\nPrint only a single choice from "A" or "B".\nAnswer:'
RECORDINGS = [
    Recording("gpt-4-1106-preview", QUESTION, "B", prompt_tokens=31, completion_tokens=1),
    Recording("mistralai/mixtral-8x7b-chat", QUESTION, "B\n", prompt_tokens=31, completion_tokens=2),
    Recording("mistralai/mixtral-8x7b-chat", "Say hi.", "  Hi there!\n\nHow can I  help?\n", 3, 12),
]


def user(text: str) -> list[openai.types.chat.ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayUpstream]:
    with ReplayUpstream(RECORDINGS) as upstream:
        yield upstream


@pytest.fixture
def replay(server: ReplayUpstream) -> ReplayUpstream:
    server.reset()
    return server


@pytest.fixture(scope="module")
def oai(server: ReplayUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=5) as client:
        yield client


@pytest.mark.parametrize("rec", RECORDINGS, ids=lambda r: f"{r.model}:{r.prompt[:8]}")
def test_answers_the_recorded_text_and_usage(oai: openai.OpenAI, rec: Recording) -> None:
    resp = oai.chat.completions.create(model=rec.model, messages=user(rec.prompt))
    assert resp.choices[0].message.content == rec.response
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == rec.model
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (rec.prompt_tokens, rec.completion_tokens)
    assert resp.usage.total_tokens == rec.prompt_tokens + rec.completion_tokens


@pytest.mark.parametrize("rec", RECORDINGS, ids=lambda r: f"{r.model}:{r.prompt[:8]}")
def test_streams_the_recorded_text_then_the_usage(oai: openai.OpenAI, rec: Recording) -> None:
    stream = oai.chat.completions.create(
        model=rec.model, messages=user(rec.prompt), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == rec.response  # whitespace and newlines included
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert (usage.prompt_tokens, usage.completion_tokens) == (rec.prompt_tokens, rec.completion_tokens)
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(oai: openai.OpenAI) -> None:
    rec = RECORDINGS[2]
    chunks = list(oai.chat.completions.create(model=rec.model, messages=user(rec.prompt), stream=True))
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == rec.response
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # streamed in pieces


def test_unknown_prompt_is_an_openai_shaped_404(replay: ReplayUpstream, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-4-1106-preview", messages=user(QUESTION + " "))
    assert caught.value.status_code == 404
    assert caught.value.code == "recording_not_found"
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error" and body["param"] == "messages"
    assert "gpt-4-1106-preview" in body["message"] and "sha256" in body["message"]
    assert QUESTION not in body["message"]  # the prompt is never echoed in an error


def test_unknown_model_and_unknown_pair_are_told_apart(replay: ReplayUpstream, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="claude-v2", messages=user(QUESTION))
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as caught:  # a recorded prompt, but not for this model
        oai.chat.completions.create(model="gpt-4-1106-preview", messages=user("Say hi."))
    assert caught.value.code == "recording_not_found"
    with pytest.raises(openai.NotFoundError):
        list(oai.chat.completions.create(model="claude-v2", messages=user(QUESTION), stream=True))
    assert all(r.fault is None for r in replay.requests)  # refused before any scripted fault is taken


def test_key_is_the_last_user_message(oai: openai.OpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "system", "content": "Answer with one letter."},
        {"role": "user", "content": "an earlier question"},
        {"role": "assistant", "content": "an earlier answer"},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    resp = oai.chat.completions.create(model="gpt-4-1106-preview", messages=messages)
    assert resp.choices[0].message.content == "B"
    with pytest.raises(openai.NotFoundError):  # the last user message decides, not any earlier one
        oai.chat.completions.create(model="gpt-4-1106-preview", messages=[*messages, *user("and now?")])


def test_models_lists_the_recorded_models(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"]


def test_anthropic_messages_replay_too(server: ReplayUpstream) -> None:
    with anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=5) as claude:
        msg = claude.messages.create(
            model="mistralai/mixtral-8x7b-chat", max_tokens=5, messages=[{"role": "user", "content": "Say hi."}]
        )
        with pytest.raises(anthropic.NotFoundError):
            claude.messages.create(
                model="gpt-4-1106-preview", max_tokens=5, messages=[{"role": "user", "content": "?"}]
            )
    assert msg.content[0].type == "text" and msg.content[0].text == RECORDINGS[2].response
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (3, 12)  # max_tokens does not cut a recording


def test_scripted_faults_still_apply(replay: ReplayUpstream, oai: openai.OpenAI) -> None:
    replay.script([Fault.status(503), Fault.ok("scripted text wins")])
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="gpt-4-1106-preview", messages=user(QUESTION))
    scripted = oai.chat.completions.create(model="gpt-4-1106-preview", messages=user(QUESTION))
    replayed = oai.chat.completions.create(model="gpt-4-1106-preview", messages=user(QUESTION))
    assert scripted.choices[0].message.content == "scripted text wins"
    assert replayed.choices[0].message.content == "B"
    assert len(replay.requests) == 3


def test_index_is_exact_and_refuses_contradictions() -> None:
    same = ReplayUpstream([*RECORDINGS, RECORDINGS[0]])
    assert len(same) == 3
    assert ("gpt-4-1106-preview", QUESTION) in same and ("gpt-4-1106-preview", QUESTION.lower()) not in same
    other = Recording(RECORDINGS[0].model, QUESTION, "C", 31, 1)
    with pytest.raises(ValueError, match="two different recordings"):
        ReplayUpstream([*RECORDINGS, other])


def test_recordings_validate_and_round_trip_through_jsonl(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prompt_tokens"):
        Recording("m", "p", "r", prompt_tokens=-1, completion_tokens=1)
    with pytest.raises(TypeError, match="response"):
        Recording("m", "p", None, 1, 1)  # type: ignore[arg-type]
    path = tmp_path / "rec.jsonl"
    assert Recording.dump(RECORDINGS, path) == 3
    assert Recording.load(path) == RECORDINGS
    path.write_text(path.read_text() + '{"model": "m", "prompt": "p"}\n')
    with pytest.raises(ValueError, match=r"rec\.jsonl:4: a recording needs response"):
        Recording.load(path)


def test_text_pieces_join_back_exactly() -> None:
    for text in ["", "B", "B\n", "  Hi there!\n\nHow can I  help?\n", "\n\n", "a\tb"]:
        assert "".join(text_pieces(text)) == text
    assert text_pieces("The answer is B.") == ["The", " answer", " is", " B."]


def test_standalone_process(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    Recording.dump(RECORDINGS, path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard.testing.replay", "--recordings", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "(3 recordings)" in line
        url = line.split()[4]
        body = {"model": "gpt-4-1106-preview", "messages": user(QUESTION)}
        resp = httpx.post(url + "/v1/chat/completions", json=body).json()
        assert resp["choices"][0]["message"]["content"] == "B" and resp["usage"]["prompt_tokens"] == 31
    finally:
        proc.terminate()
        proc.wait(timeout=5)
