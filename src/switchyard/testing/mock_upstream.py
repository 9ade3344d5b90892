"""A real, scriptable upstream LLM server on loopback, for tests and benchmarks.

It speaks the OpenAI wire format (``/v1/chat/completions``, streamed or not, ``/v1/embeddings``,
``GET /v1/models``) and the Anthropic Messages format (``/v1/messages``, streamed or not), answers
deterministically (``echo: <last user message>``, words counted as tokens), and fails on demand::

    with MockUpstream() as upstream:
        upstream.script([Fault.status(503), Fault.ok()])   # first request fails, second succeeds
        client = openai.OpenAI(base_url=upstream.url + "/v1", api_key="x")
        ...
        assert len(upstream.requests) == 2

Every POST to a model endpoint takes the next :class:`Fault` from the queue (a per-model queue first,
then the shared one), or the default when the queue is empty. An ``answer`` hook, when given, decides
what chat requests are answered with instead of the echo (the replay upstream is built on it:
:mod:`switchyard.testing.replay`); it may refuse a request with :class:`NoAnswer`. The server runs in a background thread
with its own event loop, so sync and async tests can both use it. As a process, for benchmarks:
``python -m switchyard.testing.mock_upstream --port 9999``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson

from switchyard.testing import _wire
from switchyard.testing._http import Headers, HttpServer, Request, Responder
from switchyard.testing.answers import Answer, AnswerHook, Fault, FaultKind, NoAnswer

JSON = dict[str, Any]
_ROUTES = {
    ("POST", "/chat/completions"): "chat",
    ("POST", "/messages"): "messages",
    ("POST", "/embeddings"): "embeddings",
    ("GET", "/models"): "models",
}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the mock received it."""

    method: str
    path: str
    query: str  # the raw query string, "" when there is none
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body, or None
    raw: bytes
    time: float  # time.time() on arrival
    fault: Fault | None = None  # how it was answered; None when rejected before (400, 401, 404)

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else None


@dataclass(slots=True)
class _State:
    """Everything shared between the server thread and the test thread, guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    queues: dict[str | None, deque[Fault]] = field(default_factory=dict)
    defaults: dict[str | None, Fault] = field(default_factory=lambda: {None: Fault()})
    requests: list[RecordedRequest] = field(default_factory=list)
    client_disconnects: int = 0


class MockUpstream:
    """A scriptable OpenAI/Anthropic-compatible server on ``host`` (``port=0``: a free one).

    Use as a context manager (or ``start()``/``stop()``); ``url`` has no ``/v1`` suffix.
    ``api_key``, when set, is required as ``Authorization: Bearer`` or ``x-api-key``.
    ``record=False`` keeps no request log (long benchmark runs). ``answer`` replaces the echo of chat
    requests (see :data:`AnswerHook`); scripted faults still apply, and a fault's own text or tool call
    wins over it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Iterable[str] = ("mock-model",),
        embedding_dim: int = 8,
        max_words: int = 64,
        api_key: str | None = None,
        default: Fault | None = None,
        record: bool = True,
        answer: AnswerHook | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.models = list(models)
        self.embedding_dim = embedding_dim
        self.max_words = max_words
        self.api_key = api_key
        self.record = record
        self._answer = answer
        self._default = default or Fault()
        self._state = _State(defaults={None: self._default})
        self._ids = itertools.count(1)
        self._http = HttpServer(self._handle, self._on_disconnect)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (append ``/v1`` for the openai SDK; the anthropic SDK takes it as is)."""
        if not self.port:
            raise RuntimeError("MockUpstream is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> MockUpstream:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self.port = loop.run_until_complete(self._http.start(self.host, self.port))
            except BaseException as exc:
                failure.append(exc)
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._stopping = False
        self._thread = threading.Thread(target=run, name=f"mock-upstream-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self._stopping = True
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    async def _shutdown(self) -> None:
        self._stopping = True
        await self._http.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the running event loop until cancelled (the standalone process uses this);
        ``on_ready(url)`` is called once the port is bound."""
        self.port = await self._http.start(self.host, self.port)
        if on_ready is not None:
            on_ready(self.url)
        try:
            await asyncio.Event().wait()
        finally:
            await self._shutdown()

    def __enter__(self) -> MockUpstream:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- scripting ------------------------------------------------------------------------------------

    def script(self, faults: Iterable[Fault], *, model: str | None = None) -> None:
        """Queue answers for the next requests, in order (only requests for ``model``, when given)."""
        with self._state.lock:
            self._state.queues.setdefault(model, deque()).extend(faults)

    def fail_next(self, n: int = 1, fault: Fault | None = None, *, model: str | None = None) -> None:
        """Queue ``n`` failures (default: HTTP 500)."""
        self.script([fault or Fault.status(500)] * n, model=model)

    def set_default(self, fault: Fault, *, model: str | None = None) -> None:
        """How to answer when the queue is empty (initially ``Fault.ok()``)."""
        with self._state.lock:
            self._state.defaults[model] = fault

    @property
    def pending(self) -> int:
        """Scripted answers not yet consumed."""
        with self._state.lock:
            return sum(len(q) for q in self._state.queues.values())

    def reset(self) -> None:
        """Forget the script, the request log and the counters; restore the constructor's default."""
        with self._state.lock:
            self._state.queues.clear()
            self._state.defaults = {None: self._default}
            self._state.requests.clear()
            self._state.client_disconnects = 0

    def _next_fault(self, model: str | None) -> Fault:
        state = self._state
        with state.lock:
            for key in (model, None):
                queue = state.queues.get(key)
                if queue:
                    return queue.popleft()
            return state.defaults.get(model) or state.defaults[None]

    # --- observation ----------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def client_disconnects(self) -> int:
        """Connections the client closed before the response was complete."""
        with self._state.lock:
            return self._state.client_disconnects

    @property
    def connections(self) -> int:
        """Connections accepted so far (keep-alive reuse keeps this low)."""
        return self._http.connection_count

    def wait_until(self, predicate: Callable[[MockUpstream], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate(self)`` until true or ``timeout``; returns its last value.

        Server-side effects (a disconnect being noticed) can lag the client by a moment."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    async def async_wait_until(self, predicate: Callable[[MockUpstream], bool], timeout: float = 5.0) -> bool:
        """``wait_until`` for async tests: does not block the event loop."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def _on_disconnect(self) -> None:
        if not self._stopping:
            with self._state.lock:
                self._state.client_disconnects += 1

    def _record(self, req: Request, body: Any, fault: Fault | None) -> None:
        if self.record:
            entry = RecordedRequest(req.method, req.path, req.query, req.headers, body, req.body, time.time(), fault)
            with self._state.lock:
                self._state.requests.append(entry)

    # --- serving --------------------------------------------------------------------------------------

    async def _handle(self, req: Request, resp: Responder) -> None:
        path = req.path.removeprefix("/v1")
        if path.startswith("/_mock/"):
            self._control(req, path, resp)
            return
        anthropic = path == "/messages" or "anthropic-version" in req.headers
        rid = f"req_mock_{next(self._ids)}"
        route = _ROUTES.get((req.method, path))
        body, problem = self._check(req, route)
        answer, code = None, None
        if problem is None and self._answer is not None and route in ("chat", "messages"):
            try:
                answer = self._answer(str(route), body)
            except NoAnswer as exc:
                problem, code = (exc.status, str(exc), exc.param), exc.code
        fault = None if problem or route == "models" else self._next_fault(body.get("model"))
        self._record(req, body, fault)
        if problem is not None:
            self._json(resp, problem[0], _wire.error(anthropic, rid, *problem, code=code), rid)
        elif fault is None:
            self._json(resp, 200, _wire.models(self.models, anthropic), rid)
        else:
            await self._respond(str(route), body, fault, resp, rid, answer)

    def _check(self, req: Request, route: str | None) -> tuple[Any, tuple[int, str, str | None] | None]:
        """The parsed body, and the error a real upstream would answer with, if any."""
        try:
            body = orjson.loads(req.body) if req.body else None
        except orjson.JSONDecodeError:
            return None, (400, "the request body is not valid JSON", None)
        keys = (req.headers.get("x-api-key"), req.headers.get("authorization", "").removeprefix("Bearer "))
        if self.api_key is not None and self.api_key not in keys:
            return body, (401, "Incorrect API key provided", None)
        if route is None:
            return body, (404, f"no route for {req.method} {req.path}", None)
        problem = None if route == "models" else _wire.validate(route, body, req.headers)
        return body, None if problem is None else (400, *problem)

    async def _respond(
        self, route: str, body: JSON, fault: Fault, resp: Responder, rid: str, answer: Answer | None = None
    ) -> None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        anthropic = route == "messages"
        if fault.kind is FaultKind.RESET:
            resp.abort()
        elif fault.kind is FaultKind.STATUS:
            error = _wire.error(anthropic, rid, fault.code, fault.message or f"mock upstream error {fault.code}")
            self._json(resp, fault.code, error, rid, _wire.retry_headers(fault.retry_after))
        elif route == "embeddings":
            dim = min(int(body.get("dimensions") or self.embedding_dim), 4096)
            payload = _wire.embeddings(body["input"], str(body["model"]), dim, body.get("encoding_format"))
            await self._send_body(resp, fault, _wire.dumps(payload), rid)
        elif body.get("stream") is True:
            events, error_event = self._events(route, body, fault, rid, answer)
            await self._send_stream(resp, fault, events, error_event, rid)
        else:
            await self._send_body(resp, fault, _wire.dumps(self._payload(route, body, fault, rid, answer)), rid)

    def _payload(self, route: str, body: JSON, fault: Fault, rid: str, answer: Answer | None) -> JSON:
        reply, model = self._reply(body, fault, route == "messages", answer), str(body["model"])
        if route == "messages":
            return _wire.anthropic_message(reply, rid.replace("req_", "msg_"), model)
        logprob = fault.logprob if body.get("logprobs") is True else None
        return _wire.openai_completion(reply, rid.replace("req_", "chatcmpl-"), model, int(time.time()), logprob)

    def _events(
        self, route: str, body: JSON, fault: Fault, rid: str, answer: Answer | None
    ) -> tuple[list[bytes], bytes]:
        """The stream's events, and the error event a ``STREAM_ERROR`` sends."""
        reply, model = self._reply(body, fault, route == "messages", answer), str(body["model"])
        message = fault.message or f"mock upstream error {fault.code}"
        if route == "messages":
            error = _wire.anthropic_stream_error(fault.code, message, rid)
            return _wire.anthropic_stream(reply, rid.replace("req_", "msg_"), model), error
        options = body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        events = _wire.openai_stream(reply, rid.replace("req_", "chatcmpl-"), model, int(time.time()), usage)
        return events, _wire.openai_stream_error(fault.code, message)

    def _reply(self, body: JSON, fault: Fault, anthropic: bool, answer: Answer | None = None) -> _wire.Reply:
        scripted = fault.text is not None or fault.tool_name is not None or fault.tool_arguments is not None
        if answer is not None and not scripted:
            prefix = "toolu_mock_" if anthropic else "call_mock_"
            calls = [_wire.ToolCall(f"{prefix}{next(self._ids)}", c.name, c.arguments) for c in answer.tool_calls]
            return _wire.recorded_reply(
                answer.text, answer.prompt_tokens, answer.completion_tokens, answer.finish, calls
            )
        inputs = _wire.anthropic_inputs(body) if anthropic else _wire.openai_inputs(body)
        prompt, last_user, tools, force, limit = inputs
        n = next(self._ids)
        return _wire.make_reply(
            prompt=prompt,
            last_user=last_user,
            max_words=self.max_words,
            limit=limit,
            tools=tools,
            force_tool=force,
            text=fault.text,
            tool_name=fault.tool_name,
            tool_arguments=fault.tool_arguments,
            cached_tokens=fault.cached_tokens,
            call_id=f"toolu_mock_{n}" if anthropic else f"call_mock_{n}",
        )

    async def _send_body(self, resp: Responder, fault: Fault, data: bytes, rid: str) -> None:
        if fault.kind is FaultKind.MALFORMED:
            data = data[: len(data) // 2]
        resp.head(200, [("content-type", "application/json"), *_request_ids(rid)], length=len(data))
        if fault.first_chunk_delay:
            await resp.pause(fault.first_chunk_delay)
        if fault.kind is FaultKind.CUT:
            resp.write(data[: len(data) // 2])
            resp.abort(reset=False)
            return
        resp.write(data)
        resp.finish()

    async def _send_stream(self, resp: Responder, fault: Fault, events: list[bytes], error: bytes, rid: str) -> None:
        headers = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
        resp.head(200, [*headers, *_request_ids(rid)])
        if fault.first_chunk_delay:
            await resp.pause(fault.first_chunk_delay)
        kind, at = fault.kind, fault.after_chunks
        if kind in (FaultKind.CUT, FaultKind.STREAM_ERROR):
            events = [*events[:at], error] if kind is FaultKind.STREAM_ERROR else events[:at]
        elif kind is FaultKind.MALFORMED and at < len(events):
            events[at] = events[at][: len(events[at]) // 2] + b"\n\n"
        for i, event in enumerate(events):
            if i and fault.chunk_delay:
                await resp.pause(fault.chunk_delay)
            resp.write(event)
        if kind is FaultKind.CUT:
            resp.abort(reset=False)
        else:
            resp.finish()

    def _json(self, resp: Responder, status: int, payload: JSON, rid: str, extra: Headers = ()) -> None:
        headers = [("content-type", "application/json"), *_request_ids(rid), *extra]
        resp.send(status, _wire.dumps(payload), headers)

    def _control(self, req: Request, path: str, resp: Responder) -> None:
        """``GET /_mock/stats``, ``POST /_mock/script`` (``{"faults": [...], "model": ...}``), ``POST
        /_mock/default`` (``{"fault": {...}, "model": ...}``), ``POST /_mock/reset``: for a separate
        process."""
        try:
            body: Any = orjson.loads(req.body) if req.body else {}
            if path == "/_mock/script":
                self.script([Fault.from_dict(f) for f in body["faults"]], model=body.get("model"))
            elif path == "/_mock/default":
                self.set_default(Fault.from_dict(body["fault"]), model=body.get("model"))
            elif path == "/_mock/reset":
                self.reset()
            elif path != "/_mock/stats":
                self._json(resp, 404, {"error": f"unknown control path {path}"}, "control")
                return
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self._json(resp, 400, {"error": repr(exc)}, "control")
            return
        with self._state.lock:
            stats = {
                "requests": len(self._state.requests),
                "client_disconnects": self._state.client_disconnects,
            }
        stats |= {"connections": self.connections, "pending": self.pending}
        self._json(resp, 200, stats, "control")


def _request_ids(rid: str) -> Headers:
    return [("x-request-id", rid), ("request-id", rid)]  # OpenAI's name, Anthropic's name


def main(argv: list[str] | None = None) -> None:
    """Serve until killed: ``python -m switchyard.testing.mock_upstream --port 9999``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before the response headers")
    parser.add_argument("--first-chunk-delay", type=float, default=0.0, help="seconds after the headers")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream events")
    parser.add_argument("--max-words", type=int, default=64, help="longest echo answer, in words")
    parser.add_argument("--embedding-dim", type=int, default=8)
    parser.add_argument("--model", action="append", dest="models", help="model listed by /v1/models")
    parser.add_argument("--api-key", default=None, help="require this key")
    parser.add_argument("--record", action="store_true", help="keep a request log (grows without bound)")
    args = parser.parse_args(argv)
    upstream = MockUpstream(
        args.host,
        args.port,
        models=args.models or ["mock-model"],
        embedding_dim=args.embedding_dim,
        max_words=args.max_words,
        api_key=args.api_key,
        default=Fault(delay=args.delay, first_chunk_delay=args.first_chunk_delay, chunk_delay=args.chunk_delay),
        record=args.record,
    )

    def ready(url: str) -> None:
        print(f"mock upstream listening on {url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        run_loop(upstream.serve_forever(ready))


def run_loop(coro: Any) -> None:
    """Run with uvloop when it is installed (faster), else with asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
