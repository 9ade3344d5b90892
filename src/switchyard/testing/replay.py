"""A replay upstream: an OpenAI-compatible server on loopback that answers each (model, prompt) with a
recorded response and the usage recorded with it, so that a benchmark runs the answers real models gave::

    recordings = [Recording("gpt-4-1106-preview", "2+2?", "4", prompt_tokens=3, completion_tokens=1)]
    with ReplayUpstream(recordings) as upstream:
        client = openai.OpenAI(base_url=upstream.url + "/v1", api_key="x")
        client.chat.completions.create(model="gpt-4-1106-preview", messages=[{"role": "user", "content": "2+2?"}])

It is :class:`~switchyard.testing.MockUpstream` with an answer hook, so everything else is the mock's:
``POST /v1/chat/completions`` streamed (word pieces that join back to the recorded text exactly, then
the usage chunk when ``stream_options.include_usage``) or not, the Anthropic ``/v1/messages`` alike,
``GET /v1/models`` (the recorded models), scripted faults, the request log.

**The key** is the model and the text of the request's last ``user`` message, compared exactly (no
case, whitespace or Unicode normalisation; a content given as text blocks is their texts joined by one
space). Earlier turns and system prompts are not part of it: an eval runner or a gateway policy that
adds a system prompt still finds the recording, and the data sets it is made for are one-turn. A
multi-turn data set must make its last user messages unique per model. Lookup is one dict access.

An unknown pair is answered ``404`` in OpenAI's shape: ``code`` ``model_not_found`` when nothing is
recorded for the model, ``recording_not_found`` when the model is known but the prompt is not (the
message gives the prompt's SHA-256 prefix and length, never the prompt). A request's ``max_tokens`` does
not cut a recording: the recorded answer and usage are returned as they were.

Recordings load from any data set through :class:`Recording`, or from JSONL (``Recording.load``); as a
process: ``python -m switchyard.testing.replay --recordings FILE.jsonl --port 9998``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from switchyard.testing._wire import content_text
from switchyard.testing.answers import Answer, Fault, NoAnswer
from switchyard.testing.mock_upstream import MockUpstream, run_loop

_FIELDS = ("model", "prompt", "response", "prompt_tokens", "completion_tokens")


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded call: ``model`` answered ``prompt`` (the last user message's text) with ``response``,
    billed as ``prompt_tokens`` in and ``completion_tokens`` out."""

    model: str
    prompt: str
    response: str
    prompt_tokens: int
    completion_tokens: int

    def __post_init__(self) -> None:
        for name in ("model", "prompt", "response"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Recording.{name} must be a string")
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Recording.{name} must be an integer >= 0, not {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recording:
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise ValueError(f"a recording needs {', '.join(missing)}")
        return cls(**{f: data[f] for f in _FIELDS})

    @staticmethod
    def load(path: str | os.PathLike[str]) -> list[Recording]:
        """Recordings from JSONL, one object a line with the five fields; a bad line raises
        ``ValueError`` naming the file and line."""
        found: list[Recording] = []
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    found.append(Recording.from_dict(orjson.loads(line)))
                except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                    raise ValueError(f"{path}:{number}: {exc}") from None
        return found

    @staticmethod
    def dump(recordings: Iterable[Recording], path: str | os.PathLike[str]) -> int:
        """Write JSONL (what ``load`` reads); returns the number of lines."""
        n = 0
        with open(path, "wb") as f:
            for r in recordings:
                f.write(orjson.dumps(asdict(r)) + b"\n")
                n += 1
        return n


def last_user_text(body: Mapping[str, Any]) -> str | None:
    """The replay key's prompt: the text of the request's last ``user`` message (OpenAI and Anthropic
    requests alike), or ``None`` when it has none."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return None


def index(recordings: Iterable[Recording]) -> dict[tuple[str, str], Answer]:
    """``(model, prompt) -> Answer``. The same pair recorded twice alike is kept once; recorded with
    different answers it raises ``ValueError`` (a replay must not pick one silently)."""
    book: dict[tuple[str, str], Answer] = {}
    for r in recordings:
        answer = Answer(r.response, r.prompt_tokens, r.completion_tokens)
        known = book.setdefault((r.model, r.prompt), answer)
        if known != answer:
            raise ValueError(f"two different recordings of model {r.model!r} for one prompt ({_describe(r.prompt)})")
    return book


def _describe(prompt: str) -> str:
    return f"sha256 {hashlib.sha256(prompt.encode()).hexdigest()[:16]}, {len(prompt)} characters"


class ReplayUpstream(MockUpstream):
    """A :class:`MockUpstream` whose chat answers are ``recordings`` (see the module's docstring).

    ``GET /v1/models`` lists the recorded models; the other arguments are the mock's.
    """

    def __init__(
        self,
        recordings: Iterable[Recording],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        default: Fault | None = None,
        record: bool = True,
    ) -> None:
        self._book = index(recordings)
        self._known = frozenset(model for model, _ in self._book)
        super().__init__(
            host, port, models=sorted(self._known), api_key=api_key, default=default, record=record, answer=self._find
        )

    def __len__(self) -> int:
        """The number of distinct (model, prompt) pairs."""
        return len(self._book)

    def __contains__(self, pair: object) -> bool:
        return pair in self._book

    def _find(self, route: str, body: dict[str, Any]) -> Answer:
        model, prompt = str(body["model"]), last_user_text(body)
        if model not in self._known:
            raise NoAnswer(f"nothing is recorded for model {model!r}", code="model_not_found", param="model")
        if prompt is None:
            raise NoAnswer("the request has no user message to look up", code="recording_not_found", param="messages")
        answer = self._book.get((model, prompt))
        if answer is None:
            raise NoAnswer(
                f"no recording of model {model!r} for this prompt ({_describe(prompt)})",
                code="recording_not_found",
                param="messages",
            )
        return answer


def main(argv: list[str] | None = None) -> None:
    """Serve recordings until killed: ``python -m switchyard.testing.replay --recordings FILE.jsonl``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--recordings", type=Path, required=True, help="JSONL, one Recording a line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9998)
    parser.add_argument("--api-key", default=None, help="require this key")
    parser.add_argument("--record", action="store_true", help="keep a request log (grows without bound)")
    args = parser.parse_args(argv)
    upstream = ReplayUpstream(
        Recording.load(args.recordings), args.host, args.port, api_key=args.api_key, record=args.record
    )

    def ready(url: str) -> None:
        print(f"replay upstream listening on {url} ({len(upstream)} recordings)", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        run_loop(upstream.serve_forever(ready))


if __name__ == "__main__":
    main()
