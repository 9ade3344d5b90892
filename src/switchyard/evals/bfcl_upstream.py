"""Scripted models over BFCL items: an OpenAI-compatible loopback upstream whose models answer each BFCL
question with the correct call, corrupted at the model's failure rate (:mod:`switchyard.evals.bfcl_failures`)::

    with ScriptedModels(items, {"cheap": 0.2, "premium": 0.04}) as upstream:
        client = openai.OpenAI(base_url=upstream.url + "/v1", api_key="x")
        ...
        first_answers = [s for s in upstream.served() if s.attempt == 0]

It is :class:`~switchyard.testing.MockUpstream` with an ``answer`` hook, so streaming (tool-call arguments
in pieces), usage chunks and the rest are the mock's.

- **Which item**: the request's first user message and the names of its tools (an item's question and
  tool set; the few questions asked with two tool sets of the same names are told apart by the tools'
  parameters). An unknown question is answered 404 (``code`` ``item_not_found``).
- **Which attempt**: 0 when the request's messages are the item's own; a request whose messages go beyond
  them (a guard re-asking with the invalid answer and the validation error appended) is attempt N, N the
  number of assistant messages past the item's (at least 1). A model's answer is drawn from
  ``random.Random("<seed>|<model>|<item id>|<attempt>")``: the same run gives the same answers, a repair
  gets a fresh draw, and two runs of the same items (with and without a guard) get the same first answers.
- **Usage**: tokens counted with cl100k_base: the messages' texts (+4 each), the tools as JSON and 3 more
  for the prompt; the text and each call's name and arguments (+3 each) for the completion.
- **Log**: :meth:`ScriptedModels.served` lists every answer with the failure drawn (``None``: correct).
"""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..testing import Answer, AnswerCall, MockUpstream, NoAnswer
from ..tokens import cl100k_count
from .bfcl import Item
from .bfcl_failures import Failure, Scripted, draw


@dataclass(frozen=True)
class Served:
    """One answer a scripted model gave."""

    model: str
    item: str
    category: str
    attempt: int
    failure: Failure | None
    stream: bool
    prompt_tokens: int
    completion_tokens: int


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return ""


def _tool_names(tools: Any) -> tuple[str, ...]:
    names = []
    for tool in tools or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict):
            names.append(str(fn.get("name")))
    return tuple(names)


def _canonical(tools: Iterable[Any]) -> str:
    return json.dumps([(t.get("function") or {}).get("parameters") for t in tools], sort_keys=True)


class ScriptedModels(MockUpstream):
    """Models named by ``rates`` (model -> failure rate) answering ``items`` (see the module docstring)."""

    def __init__(
        self,
        items: Iterable[Item],
        rates: Mapping[str, float],
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.rates = dict(rates)
        self.seed = seed
        self._items: dict[tuple[str, tuple[str, ...]], list[Item]] = defaultdict(list)
        for item in items:
            key = (item.user_text, tuple(t["function"]["name"] for t in item.tools))
            self._items[key].append(item)
        self._served: list[Served] = []
        self._lock = threading.Lock()
        super().__init__(host, port, models=list(self.rates), record=False, answer=self._answer)

    def served(self, *, clear: bool = False) -> list[Served]:
        """The answers given so far, in order (``clear``: and forget them)."""
        with self._lock:
            out = list(self._served)
            if clear:
                self._served.clear()
        return out

    def find(self, body: Mapping[str, Any]) -> Item | None:
        """The item a chat request asks, or ``None``."""
        messages = body.get("messages") or []
        user = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
        if user is None:
            return None
        found = self._items.get((_text(user.get("content")), _tool_names(body.get("tools"))), [])
        if len(found) > 1:
            wanted = _canonical(body.get("tools") or ())
            return next((i for i in found if _canonical(i.tools) == wanted), found[0])
        return found[0] if found else None

    def _answer(self, route: str, body: dict[str, Any]) -> Answer:
        model = str(body.get("model"))
        if route != "chat":
            raise NoAnswer("the scripted models speak the OpenAI chat format only", status=400)
        if model not in self.rates:
            raise NoAnswer(f"no scripted model {model!r}", code="model_not_found", param="model")
        item = self.find(body)
        if item is None:
            raise NoAnswer("no BFCL item has this question and tool set", code="item_not_found", param="messages")
        messages = body.get("messages") or []
        attempt = attempt_number(item, messages)
        scripted = draw(item, random.Random(f"{self.seed}|{model}|{item.id}|{attempt}"), self.rates[model])
        prompt, completion = prompt_tokens(messages, body.get("tools")), completion_tokens(scripted)
        stream = body.get("stream") is True
        served = Served(model, item.id, item.category, attempt, scripted.failure, stream, prompt, completion)
        with self._lock:
            self._served.append(served)
        calls = tuple(AnswerCall(c.name, c.arguments) for c in scripted.calls)
        return Answer(scripted.text, prompt, completion, tool_calls=calls)


def attempt_number(item: Item, messages: Sequence[Any]) -> int:
    """0 for the item's own messages; past them, the number of assistant messages beyond the item's (at least 1)."""
    beyond = list(messages[len(item.messages) :])
    if not beyond:
        return 0
    return max(1, sum(1 for m in beyond if isinstance(m, dict) and m.get("role") == "assistant"))


def prompt_tokens(messages: Sequence[Any], tools: Any) -> int:
    count = 3 + sum(4 + cl100k_count(_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return count + (cl100k_count(json.dumps(tools)) if tools else 0)


def completion_tokens(answer: Scripted) -> int:
    calls = sum(3 + cl100k_count(c.name) + cl100k_count(c.arguments) for c in answer.calls)
    return max(1, cl100k_count(answer.text) + calls)
