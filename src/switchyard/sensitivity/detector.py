"""``SensitivityDetector``: runs the detectors over every text of a request and names its classes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import ChatRequest
from .base import CLASSES, Detector, SensitivityClass, Span, resolve
from .health import ClinicalContext
from .lexicon import Lexicon
from .registry import default_detectors

# The most text one request may carry and still be scanned (characters, all its texts together).
# Detection is linear in the text, at up to ~5 ms per KB on crafted input (bench/adversarial.py), so
# this bounds one request's scan to about 5 s of CPU, in a worker thread that lets the event loop run
# between bytecodes (no single regex call holds the GIL long). A request with more text is not scanned: it
# is taken to carry every class (``CLASSES``), so residency keeps it in the perimeter or refuses it --
# it is never passed as clean. 1 MiB is ~250k tokens, beyond the context window of most models.
MAX_SCAN_CHARS = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """What a scan found: the classes, the spans of each text (in the order given), and whether the
    texts read as clinical. ``oversize``: the texts were longer than the detector scans, so they were
    not scanned and carry every class (no spans)."""

    classes: frozenset[SensitivityClass]
    spans: tuple[tuple[Span, ...], ...]
    clinical: bool
    oversize: bool = False

    @property
    def sensitive(self) -> bool:
        return bool(self.classes)

    def labels(self) -> set[str]:
        return {s.label for spans in self.spans for s in spans}


class SensitivityDetector:
    """Classifies texts into ``pii``, ``financial``, ``health`` and ``secret``.

    Detectors come from the registry (all built-ins by default) and share one lazily loaded
    ``Lexicon``; call ``warm()`` at start-up so the first request does not pay for loading it.
    ``scan`` reads at most ``max_scan_chars`` characters per call (None: no limit); more is treated
    as carrying every class (see ``MAX_SCAN_CHARS``). ``detect`` on one text has no limit.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        lexicon: Lexicon | None = None,
        clinical: ClinicalContext | None = None,
        max_scan_chars: int | None = MAX_SCAN_CHARS,
    ) -> None:
        self.max_scan_chars = max_scan_chars
        self.lexicon = lexicon or Lexicon()
        self.detectors: tuple[Detector, ...] = tuple(
            detectors if detectors is not None else default_detectors(self.lexicon)
        )
        self.clinical = clinical or ClinicalContext()

    def warm(self) -> None:
        self.lexicon.warm()

    def detect(self, text: str) -> list[Span]:
        """Non-overlapping spans of one text, in order."""
        spans: list[Span] = []
        if not text:
            return spans
        for d in self.detectors:
            spans += d.detect(text)
        return resolve(spans) if len(spans) > 1 else spans

    def scan(self, texts: Iterable[str]) -> Finding:
        """Scan texts that belong together (one request). See ``health`` for when ``health`` is added.
        Texts longer than ``max_scan_chars`` together are not scanned and carry every class."""
        texts = list(texts)
        if self.oversize(texts):
            return Finding(frozenset(CLASSES), tuple(() for _ in texts), clinical=False, oversize=True)
        per_text = tuple(tuple(self.detect(t)) for t in texts)
        classes: set[SensitivityClass] = {s.cls for spans in per_text for s in spans}
        clinical = any(self.clinical.is_clinical(t) for t in texts)
        if clinical and "pii" in classes:
            classes.add("health")
        return Finding(frozenset(classes), per_text, clinical)

    def oversize(self, texts: Sequence[str]) -> bool:
        """Whether ``texts`` hold more than the detector scans."""
        return self.max_scan_chars is not None and sum(len(t) for t in texts) > self.max_scan_chars

    def scan_request(self, request: ChatRequest) -> Finding:
        return self.scan(request_texts(request))

    def classify(self, texts: Sequence[str]) -> set[str]:
        """The classes of texts sent together (one request's messages, or its embedding inputs)."""
        return set(self.scan(texts).classes)

    def classify_request(self, request: ChatRequest) -> set[str]:
        """The classes of everything the request would send: messages, tool arguments, tool results."""
        return set(self.scan_request(request).classes)


def request_texts(request: ChatRequest) -> list[str]:
    """Every text a request sends upstream: message contents (tool results are ``tool`` messages) and
    names, the arguments of the tool calls in its history, the tool definitions (names, descriptions,
    parameter schemas), the ``response_format`` schema, ``user``, stop sequences, and any unknown fields
    passed through. JSON is flattened to ``key: value`` lines, so that keys such as ``"ssn"`` or
    ``"password"`` serve as cues. Parts that are not text (images, audio, files) are not texts: see
    ``unscannable_parts``."""
    texts: list[str] = []
    for message in request.messages:
        content = message.text()
        if content:
            texts.append(content)
        if message.name:
            texts.append(message.name)
        for call in message.tool_calls or ():
            if call.function.arguments:
                texts.append(arguments_text(call.function.arguments))
        if message.model_extra:
            texts.append("\n".join(json_lines(message.model_extra)))
    for tool in request.tools or ():
        texts.append("\n".join(json_lines(tool.function.model_dump(exclude_none=True))))
    if request.response_format is not None and request.response_format.json_schema:
        texts.append("\n".join(json_lines(request.response_format.json_schema)))
    if request.user:
        texts.append(request.user)
    texts += request.stop_list()
    extra = {k: v for k, v in (request.model_extra or {}).items() if k != "switchyard"}  # switchyard's own
    if extra:
        texts.append("\n".join(json_lines(extra)))
    return [t for t in texts if t]


def unscannable_parts(request: ChatRequest) -> int:
    """Content parts the detector cannot read (images, audio, files)."""
    return sum(
        1 for m in request.messages if isinstance(m.content, list) for part in m.content if part.get("type") != "text"
    )


def arguments_text(arguments: str) -> str:
    """A tool call's JSON arguments as ``key: value`` lines (the raw string when it is not JSON)."""
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes: scan it raw
        return arguments
    return "\n".join(json_lines(value))


def json_lines(value: Any, key: str = "") -> Iterator[str]:
    """``key: value`` lines for the string and number leaves of a JSON value, in order (iterative: any
    depth, work proportional to the value's size)."""
    stack: list[tuple[Any, str]] = [(value, key)]
    while stack:
        item, k = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, str(name)) for name, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((v, k) for v in reversed(item))
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            yield f"{k}: {item}" if k else str(item)
